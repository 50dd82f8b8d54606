import { describe, expect, it } from 'vitest';
import { PipelineHarness } from './helpers/pipeline-harness.js';

describe('debug', () => {
  it('runs', () => {
    const h = new PipelineHarness({ devices: 10, loss: 0.1, seed: 3 });
    h.run();
    console.log(h.stages, h.byStatus(), h.steps, (h.now - 1767571200000) / 1000, h.events.filter((e) => e.type !== 'device').slice(0, 20));
    expect(h.state.stage).toBe('done');
  });
});
