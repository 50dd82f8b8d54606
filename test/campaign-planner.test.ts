import { describe, expect, it } from 'vitest';
import { planCampaign, PlanError, type PlanInput } from '../src/campaign/planner.js';
import { estimateDeficit, repairCount } from '../src/campaign/repair.js';

const base: PlanInput = {
  imageBytes: 100 * 1024,
  region: 'EU868',
  dr: 5,
  frequencyHz: 869_525_000,
  groupType: 'C',
  classBPeriodicity: 0,
  gatewayCount: 1,
  initialRedundancyPercent: 10,
  maxRedundancyPercent: 100,
  blockAckDelay: 0,
  maxRepairRounds: 4,
  uplinkIntervalS: 60,
  unicastRetries: 3,
  rebootDelayS: 30,
};

describe('planner', () => {
  it('uses the largest fragment the DR allows and cuts the block', () => {
    const p = planCampaign(base);
    expect(p.fragSize).toBe(239); // EU868 DR5: 242 B FRMPayload (not repeater compatible) - 3
    expect(p.nbFrag).toBe(Math.ceil(102400 / 239));
    expect(p.padding).toBe(p.nbFrag * 239 - 102400);
    expect(planCampaign({ ...base, repeaterCompatible: true }).fragSize).toBe(219); // 222 - 3
    expect(p.initialCoded).toBe(Math.ceil(p.nbFrag * 0.1));
    expect(p.maxCoded).toBe(p.nbFrag);
  });

  it('paces by the 10 % duty cycle of g3 and the Class C margin', () => {
    const p = planCampaign(base);
    expect(p.dutyCycle).toBe(0.1);
    // 242-byte FRMPayload at SF7/125 kHz: 385.25 symbols = 394.5 ms on air, so 3.55 s of silence at 10 %; the 5 s margin dominates.
    expect(p.fragmentAirtimeMs).toBeCloseTo(394.496, 6);
    expect(p.fragmentIntervalMs).toBe(5000);
    const slow = planCampaign({ ...base, dr: 0, frequencyHz: 868_100_000 });
    // DR0 at 1 %: airtime x 100, rounded up to the scheduler's 1 s grid
    expect(slow.fragmentIntervalMs).toBe(Math.ceil(slow.fragmentAirtimeMs / 0.01 / 1000) * 1000);
  });

  it('spaces Class C fragments by gateways x margin, as ChirpStack queues one row per gateway a margin apart', () => {
    expect(planCampaign({ ...base, gatewayCount: 2 }).fragmentIntervalMs).toBe(10_000);
    expect(planCampaign({ ...base, gatewayCount: 3 }).fragmentIntervalMs).toBe(15_000);
    expect(planCampaign({ ...base, gatewayCount: 3, classCMarginMs: 1000 }).fragmentIntervalMs).toBe(4000);
    expect(planCampaign({ ...base, gatewayCount: 3, classCMarginMs: 0, region: 'US915', dr: 8, frequencyHz: 923_300_000 }).fragmentIntervalMs).toBeLessThan(1000);
    const one = planCampaign(base);
    const three = planCampaign({ ...base, gatewayCount: 3 });
    expect(three.etaSeconds - one.etaSeconds).toBe(((one.nbFrag + one.initialCoded) * 10_000) / 1000);
  });

  it('sizes the session to hold every fragment and the repair rounds', () => {
    const p = planCampaign(base);
    expect(2 ** p.sessionTimeOut).toBeGreaterThanOrEqual(p.sessionSeconds);
    expect(2 ** (p.sessionTimeOut - 1)).toBeLessThan(p.sessionSeconds);
    expect(p.sessionSeconds * 1000).toBeGreaterThanOrEqual((p.nbFrag + p.maxCoded) * p.fragmentIntervalMs);
  });

  it('refuses a fragment larger than the DR allows, naming the field', () => {
    expect(() => planCampaign({ ...base, dr: 0, fragSize: 100 })).toThrow(PlanError);
    expect(() => planCampaign({ ...base, dr: 0, fragSize: 100 })).toThrow(/fragmentation.fragSize: 100 exceeds the 48 bytes/);
    expect(() => planCampaign({ ...base, frequencyHz: 900_000_000 })).toThrow(/multicast.frequencyHz/);
    expect(() => planCampaign({ ...base, imageBytes: 16384 * 10, fragSize: 10 })).toThrow(/N is 14 bits/);
  });

  it('warns about degenerate blocks', () => {
    expect(planCampaign({ ...base, imageBytes: 500 }).warnings.join()).toMatch(/degenerate block: M = 3/);
  });
});

describe('repair sizing', () => {
  it('reads v2 answers as remaining unknowns', () => {
    const e = estimateDeficit({ ts004: 2, nbFragReceived: 80, missingFrag: 12, sentN: 100 }, 90);
    expect(e.deficit).toBe(12);
    expect(e.loss).toBeCloseTo(0.2);
  });

  it('reads LoRaMac-node answers as cumulative losses and subtracts the coded fragments received', () => {
    // M = 100, 20 uncoded lost, last N 120 of 120 sent: ~20 coded sent, ~16 received at 20 % loss -> deficit 4.
    const e = estimateDeficit({ ts004: 1, nbFragReceived: 120, missingFrag: 20, sentN: 120 }, 100);
    expect(e.loss).toBeCloseTo(0.2);
    expect(e.deficit).toBe(4);
  });

  it('sends what the worst device needs, within the budget', () => {
    expect(repairCount([{ deficit: 4, upper: 4, loss: 0.2 }, { deficit: 1, upper: 1, loss: 0.5 }], 100)).toBe(Math.ceil(5 / 0.8));
    expect(repairCount([{ deficit: 40, upper: 40, loss: 0.5 }], 10)).toBe(10);
    expect(repairCount([{ deficit: 0, upper: 0, loss: 0.5 }], 10)).toBe(0);
  });
});
