import { describe, expect, it } from 'vitest';
import { PipelineHarness } from './helpers/pipeline-harness.js';

describe('debug', () => {
  it('class B lbm', () => {
    const h = new PipelineHarness({ devices: 6, loss: 0.1, seed: 4, mix: { 'lbm-v1': 1 }, spec: (s) => ({ ...s, multicast: { ...s.multicast, groupType: 'B' as const, classBPeriodicity: 2 } }) });
    h.run();
    console.log(h.stages.join(','), h.byStatus(), h.steps, h.events.filter((e) => e.type !== 'device' || e.status !== 'Pending').slice(0, 40));
    expect(h.state.stage).toBe('done');
  });
});
