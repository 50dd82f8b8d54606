/** The demo fleet's decoder memory follows the image the run sends. */
import { describe, expect, it } from 'vitest';
import { FragDecoder } from '../src/device/frag-decoder.js';
import { decoderRows } from '../src/sim/env.js';

describe('decoderRows (simulated devices built for the image size)', () => {
  it('holds every fragment of the image at 239 B, rounded up to 32, at least 64', () => {
    for (const kib of [1, 24, 64, 100, 512, 2048]) {
      const bytes = kib * 1024 + 200; // payload plus a signed header
      const m = Math.ceil(bytes / 239);
      const rows = decoderRows(bytes);
      expect(rows).toBeGreaterThanOrEqual(m);
      expect(rows % 32).toBe(0);
      expect(rows - m).toBeLessThan(Math.max(32, 64 - m + 1));
    }
    expect(decoderRows(100)).toBe(64);
    expect(decoderRows(24 * 1024 + 200)).toBe(128);
    expect(decoderRows(100 * 1024)).toBe(448); // 429 fragments: a fixed 320 rows refused it
  });
  it('costs a 24 KiB-image device about 35 KB of decoder memory instead of 88 KB', () => {
    const rows = decoderRows(24 * 1024 + 200);
    expect(FragDecoder.memoryBytes({ maxNbFrag: rows, maxFragSize: 239, maxLost: rows })).toBeLessThan(35_000);
    expect(FragDecoder.memoryBytes({ maxNbFrag: 320, maxFragSize: 239, maxLost: 320 })).toBeGreaterThan(87_000);
  });
});
