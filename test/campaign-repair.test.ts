import { describe, expect, it } from 'vitest';
import { estimateDeficit, lossCap, repairCount } from '../src/campaign/repair.js';

describe('repair sizing', () => {
  it('holds a TS004 v2 device to the loss cap, like a v1 device', () => {
    // Counters read as 1 - 10/40 = 75 % loss; the fleet's cap is 20 %.
    const v2 = estimateDeficit({ ts004: 2, nbFragReceived: 10, missingFrag: 6, sentN: 40 }, 30, 0.2);
    expect(v2).toEqual({ deficit: 6, upper: 6, loss: 0.2 });
    expect(repairCount([v2], 100)).toBe(Math.ceil(7 / 0.8));
    const v1 = estimateDeficit({ ts004: 1, nbFragReceived: 10, missingFrag: 6, sentN: 40 }, 30, 0.2);
    expect(v1.loss).toBe(0.2);
    // Without a cap, the default ceiling (90 %) applies to both.
    expect(estimateDeficit({ ts004: 2, nbFragReceived: 1, missingFrag: 6, sentN: 40 }, 30).loss).toBe(0.9);
  });

  it('caps at 1.5 times the fleet median (at least 5 %)', () => {
    const reports = [0, 2, 4].map((lost) => ({ ts004: 2 as const, nbFragReceived: 40 - lost * 2, missingFrag: 0, sentN: 40 }));
    expect(lossCap(reports, 30)).toBeCloseTo(1.5 * (4 / 40));
    expect(lossCap([], 30)).toBe(0.9);
  });
});
