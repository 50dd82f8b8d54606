// A short run of every fuzz target (the long run is `npm run fuzz -- --count N`): no exception outside the documented
// error type and no property mismatch. Seeded, so a failure replays.
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../fuzz/run.js';
import { TARGET_NAMES } from '../fuzz/targets.js';

describe('fuzz (short run)', () => {
  it.each(TARGET_NAMES.map((t) => [t]))('%s: 3000 inputs, no exception or mismatch', (target) => {
    const r = runFuzz(target, 3000, 7);
    expect(r.inputs).toBe(3000);
    expect(r.findings).toEqual([]);
    expect([r.exceptions, r.mismatches]).toEqual([0, 0]);
  });

  it('the event targets exercise both outcomes (accepted and refused inputs)', () => {
    for (const t of ['event-protobuf', 'event-json'] as const) {
      const r = runFuzz(t, 2000, 3);
      expect(r.refused).toBeGreaterThan(0);
      expect(r.refused).toBeLessThan(r.inputs);
    }
  });
});
