import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { compressImage, encodeDelta, maskForMatching } from '../src/codec/delta-encoder.js';
import { branchOffset, branchWith, isBranch } from '../src/codec/delta-format.js';
import { RangeDecoder, RangeEncoder } from '../src/codec/range-coder.js';
import { Patcher, PatchError, memoryIo, type PatchIo } from '../src/device/patcher.js';

const MAX_OUT = 4096;
const LOAD = 0x08000000;

function apply(patch: Uint8Array, old: Uint8Array, maxSegments = 512, maxOutput = MAX_OUT): Uint8Array {
  const out = new Uint8Array(maxOutput);
  const n = new Patcher({ maxSegments, maxOutput }).apply(patch, memoryIo(old, out));
  return out.slice(0, n);
}

/** An I/O that records every out-of-bounds access instead of trusting the patcher. */
function guardedIo(old: Uint8Array, maxOutput: number): PatchIo & { violations: string[]; written: number } {
  const out = new Uint8Array(maxOutput);
  const io = {
    violations: [] as string[],
    written: 0,
    oldLength: old.length,
    readOld: (pos: number) => {
      if (!(pos >= 0 && pos < old.length)) io.violations.push(`readOld ${pos}`);
      return old[pos] ?? 0;
    },
    write: (b: number) => {
      if (io.written >= maxOutput) io.violations.push(`write at ${io.written}`);
      else out[io.written] = b;
      io.written++;
    },
    readNew: (pos: number) => {
      if (!(pos >= 0 && pos < io.written)) io.violations.push(`readNew ${pos} of ${io.written}`);
      return out[pos] ?? 0;
    },
  };
  return io;
}

/** A Thumb-like firmware: halfwords with BL pairs and literal-pool addresses sprinkled in. */
function thumbLike(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  for (let i = 0; i + 4 <= length; i += 4) {
    const r = rnd() % 8;
    let w: number;
    if (r === 0) w = branchWith(0xf800, ((rnd() % 2048) - 1024) * 2);
    else if (r === 1) w = LOAD + (rnd() % length & ~3) + 1;
    else w = rnd() & 0x3f3f3f3f;
    new DataView(out.buffer).setUint32(i, w >>> 0, true);
  }
  return out;
}

/** Inserts / deletes / replaces a few byte runs. */
const editsArb = fc.array(fc.record({ at: fc.nat(), del: fc.nat({ max: 24 }), ins: fc.uint8Array({ maxLength: 24 }) }), { maxLength: 6 });

function edit(old: Uint8Array, edits: { at: number; del: number; ins: Uint8Array }[]): Uint8Array {
  let b = Array.from(old);
  for (const e of edits) {
    const at = b.length ? e.at % (b.length + 1) : 0;
    b = [...b.slice(0, at), ...e.ins, ...b.slice(at + e.del)];
  }
  return Uint8Array.from(b);
}

describe('range coder', () => {
  it('round-trips modelled and direct bits', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ bit: fc.integer({ min: 0, max: 1 }), ctx: fc.nat({ max: 3 }), direct: fc.nat({ max: 0xffff }) }), { maxLength: 300 }), (syms) => {
        const pe = new Uint16Array(4).fill(1024);
        const enc = new RangeEncoder();
        for (const s of syms) {
          enc.bit(pe, s.ctx, s.bit);
          enc.direct(s.direct, 16);
        }
        const bytes = enc.finish();
        const pd = new Uint16Array(4).fill(1024);
        const dec = new RangeDecoder();
        let at = 0;
        dec.init(() => (at < bytes.length ? bytes[at++]! : -1));
        for (const s of syms) {
          expect(dec.bit(pd, s.ctx)).toBe(s.bit);
          expect(dec.direct(16)).toBe(s.direct);
        }
      }),
    );
  });
});

describe('Thumb-2 branches', () => {
  it('re-encodes every even offset in range, keeping BL vs B.W', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(1 << 23), max: (1 << 23) - 1 }), fc.constantFrom(0xf800, 0xb800), (half, type) => {
        const w = branchWith(type, half * 2);
        const hw1 = w & 0xffff;
        const hw2 = w >>> 16;
        expect(isBranch(hw1, hw2)).toBe(true);
        expect(branchOffset(hw1, hw2)).toBe(half * 2);
        expect(hw2 & 0xd000).toBe(type & 0xd000);
      }),
    );
    // BL from 0x08000100 to 0x08000000: offset -0x104; a known encoding (F7FF FF7E).
    expect(branchWith(0xf800, -0x104).toString(16)).toBe('ff7ef7ff');
    expect(branchWith(0xf800, 1 << 24)).toBe(-1);
  });

  it('masks branch offsets and address words for matching', () => {
    const a = new Uint8Array(8);
    new DataView(a.buffer).setUint32(0, branchWith(0xf800, 0x200), true);
    new DataView(a.buffer).setUint32(4, LOAD + 0x10, true);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, branchWith(0xf800, -0x4000), true);
    new DataView(b.buffer).setUint32(4, LOAD + 0x80, true);
    expect(Array.from(maskForMatching(a, LOAD, 0x100))).toEqual(Array.from(maskForMatching(b, LOAD, 0x100)));
  });
});

describe('LFD1 patches', () => {
  it('round-trips random old/new pairs (edited, unrelated, empty)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), editsArb, fc.boolean(), (old, edits, unrelated) => {
        const nw = unrelated ? edit(new Uint8Array(0), edits) : edit(old, edits);
        const patch = encodeDelta(old, nw, { loadAddress: LOAD });
        expect(Array.from(apply(patch, old))).toEqual(Array.from(nw));
      }),
      { numRuns: 150 },
    );
  });

  it('round-trips Thumb-like firmware with code moved by inserts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1 }), fc.nat({ max: 2000 }), editsArb, (seed, len, edits) => {
        const old = thumbLike(seed, 1000 + len);
        const nw = edit(old, edits.map((e) => ({ ...e, ins: e.ins.subarray(0, e.ins.length & ~1) })));
        const patch = encodeDelta(old, nw);
        expect(Array.from(apply(patch, old))).toEqual(Array.from(nw));
      }),
      { numRuns: 40 },
    );
  });

  it('compresses and decompresses random and repetitive data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat({ max: 40 }), (data, reps) => {
        const nw = Uint8Array.from({ length: data.length + reps * 50 }, (_, i) => (i < data.length ? data[i]! : data[i % Math.max(1, data.length)] ?? 7));
        const packed = compressImage(nw);
        expect(Array.from(apply(packed, new Uint8Array(0), 0))).toEqual(Array.from(nw));
      }),
      { numRuns: 80 },
    );
  });

  it('never fails outside PatchError, never reads or writes out of bounds, on corrupted, truncated or random patches', () => {
    const old = thumbLike(7, 1500);
    const nw = edit(old, [{ at: 300, del: 10, ins: Uint8Array.of(1, 2, 3, 4) }, { at: 900, del: 0, ins: new Uint8Array(40).fill(9) }]);
    const good = encodeDelta(old, nw);
    const mutated = fc.oneof(
      fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }).map(({ at, xor }) => {
        const b = good.slice();
        b[at % b.length]! ^= xor;
        return b;
      }),
      fc.nat().map((n) => good.slice(0, n % good.length)),
      fc.uint8Array({ maxLength: 400 }).map((r) => Uint8Array.from([1, ...r])),
      fc.array(fc.record({ at: fc.nat(), v: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 8 }).map((ps) => {
        const b = good.slice();
        for (const p of ps) b[p.at % b.length] = p.v;
        return b;
      }),
    );
    fc.assert(
      fc.property(mutated, fc.constantFrom(0, 16, 512), fc.constantFrom(1000, MAX_OUT), (patch, maxSegments, maxOutput) => {
        const io = guardedIo(old, maxOutput);
        try {
          new Patcher({ maxSegments, maxOutput }).apply(patch, io);
        } catch (err) {
          expect(err).toBeInstanceOf(PatchError);
        }
        expect(io.violations).toEqual([]);
        expect(io.written).toBeLessThanOrEqual(maxOutput);
      }),
      { numRuns: 400 },
    );
  });

  it('names the reason: truncated, limit, format, corrupt', () => {
    const old = thumbLike(3, 800);
    const nw = edit(old, [{ at: 100, del: 4, ins: Uint8Array.of(5, 6) }]);
    const patch = encodeDelta(old, nw);
    const code = (f: () => unknown): string => {
      try {
        f();
        return 'ok';
      } catch (err) {
        return err instanceof PatchError ? err.code : String(err);
      }
    };
    expect(code(() => apply(patch, old))).toBe('ok');
    expect(code(() => apply(patch.subarray(0, patch.length - 6), old))).toBe('truncated');
    expect(code(() => apply(patch, old, 512, 100))).toBe('limit');
    expect(code(() => apply(patch, old, 0))).toBe('limit');
    const wrongId = patch.slice();
    wrongId[0] = 9;
    expect(code(() => apply(wrongId, old))).toBe('format');
    expect(code(() => apply(patch, new Uint8Array(0)))).toBe('corrupt');
  });

  it('keeps its RAM fixed and reports it', () => {
    const p = new Patcher({ maxSegments: 512, maxOutput: 1 << 20 });
    expect(p.ramBytes).toBeLessThanOrEqual(16 * 1024);
    expect(new Patcher({ maxSegments: 0, maxOutput: 1 << 20 }).ramBytes).toBeLessThan(p.ramBytes);
  });
});

describe('LFD1 edge cases', () => {
  it('round-trips a delta encoded with no segment table (whole image as extra bytes)', () => {
    const old = Uint8Array.from({ length: 500 }, (_, i) => (i * 7) & 0xff);
    const nw = Uint8Array.from([...old.subarray(100, 400), 1, 2, 3]);
    const patch = encodeDelta(old, nw, { maxSegments: 0 });
    expect(Array.from(apply(patch, old, 0))).toEqual(Array.from(nw));
  });
});
