import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createFecEncoder, fecEncode, FecError, parityRow, type FecRule } from '../src/codec/fec.js';
import { bitsOf, oracleFragment, oracleRow, rng } from './fec-oracle.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const randomBytes = (n: number, seed: number): Uint8Array => {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
};
const fieldOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return e instanceof FecError ? e.field : `other: ${String(e)}`;
  }
  return 'no error';
};

describe('parity rows', () => {
  it('match the plain oracle for any M, k and rule (incl. powers of two and seeds past 2^23)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 16382 }), fc.constantFrom<FecRule>(1, 2), (m, k, rule) => {
        expect(bitsOf(parityRow(k, m, rule), m)).toEqual(oracleRow(1 + 1001 * k, m, rule));
      }),
      { numRuns: 150, seed: 7 },
    );
    for (const m of [2, 4, 64, 1024, 8192]) expect(bitsOf(parityRow(9000, m, 2), m)).toEqual(oracleRow(1 + 1001 * 9000, m, 2));
  });

  it('v2 rows have exactly floor(M/2) ones; v1 rows at most', () => {
    for (const m of [10, 50, 100, 513]) {
      for (let k = 1; k <= 20; k++) {
        const count = (rule: FecRule) => bitsOf(parityRow(k, m, rule), m).filter(Boolean).length;
        expect(count(2)).toBe(Math.floor(m / 2));
        expect(count(1)).toBeLessThanOrEqual(Math.floor(m / 2));
      }
    }
  });
});

describe('encoder', () => {
  it('every fragment equals the XOR of the oracle row, batch and on demand', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom<FecRule>(1, 2),
        fc.integer(),
        (len, fragSize, redundancy, rule, seed) => {
          const data = randomBytes(len, seed);
          const r = fecEncode(data, { fragSize, redundancy, rule });
          const m = Math.ceil(len / fragSize);
          expect([r.nbFrag, r.padding, r.fragments.length]).toEqual([m, m * fragSize - len, m + redundancy]);
          const padded = new Uint8Array(m * fragSize);
          padded.set(data);
          const uncoded = Array.from({ length: m }, (_, i) => padded.subarray(i * fragSize, (i + 1) * fragSize));
          const enc = createFecEncoder(data, { fragSize, rule });
          r.fragments.forEach((f, i) => {
            expect(hex(f)).toBe(hex(oracleFragment(i + 1, uncoded, rule)));
            expect(hex(enc.fragment(i + 1))).toBe(hex(f));
          });
        },
      ),
      { numRuns: 120, seed: 11 },
    );
  });

  it('encodes any N on demand, up to 16383', () => {
    const data = randomBytes(300, 1);
    const enc = createFecEncoder(data, { fragSize: 30, rule: 2 });
    const uncoded = Array.from({ length: 10 }, (_, i) => enc.fragment(i + 1));
    expect(hex(enc.fragment(16383))).toBe(hex(oracleFragment(16383, uncoded, 2)));
    expect(fieldOf(() => enc.fragment(16384))).toBe('n');
    expect(fieldOf(() => enc.fragment(0))).toBe('n');
  });

  it('rejects bad input with the field at fault', () => {
    const data = new Uint8Array(100);
    expect(fieldOf(() => fecEncode(new Uint8Array(0), { fragSize: 10, redundancy: 1 }))).toBe('data');
    expect(fieldOf(() => fecEncode(data, { fragSize: 0, redundancy: 1 }))).toBe('fragSize');
    expect(fieldOf(() => fecEncode(data, { fragSize: 256, redundancy: 1 }))).toBe('fragSize');
    expect(fieldOf(() => fecEncode(data, { fragSize: 1.5, redundancy: 1 }))).toBe('fragSize');
    expect(fieldOf(() => fecEncode(data, { fragSize: 10, redundancy: -1 }))).toBe('redundancy');
    expect(fieldOf(() => fecEncode(data, { fragSize: 10, redundancy: 16374 }))).toBe('redundancy');
    expect(fieldOf(() => fecEncode(data, { fragSize: 10, redundancy: 16373 }))).toBe('no error');
    expect(fieldOf(() => fecEncode(data, { fragSize: 10, redundancy: 1, rule: 3 as FecRule }))).toBe('rule');
    expect(fieldOf(() => fecEncode(new Uint8Array(16384), { fragSize: 1, redundancy: 0 }))).toBe('data');
  });

  it('warns about degenerate blocks and uncovered fragments', () => {
    expect(fecEncode(new Uint8Array(5), { fragSize: 16, redundancy: 3 }).warnings[0]).toMatch(/nbFrag = 1: every coded fragment is all zeros/);
    const m3 = fecEncode(new Uint8Array(9), { fragSize: 3, redundancy: 4 });
    expect(m3.warnings[0]).toMatch(/nbFrag = 3 <= 5/);
    expect(m3.warnings[0]).toMatch(/F3@k=(9|[1-9]\d+)/); // no row k <= 8 covers F3 (docs/protocol.md §4)
    expect(m3.warnings[1]).toMatch(/F3\) appear in no coded fragment N <= 7/);
    expect(fecEncode(new Uint8Array(1000), { fragSize: 10, redundancy: 50 }).warnings).toEqual([]);
    expect(fecEncode(new Uint8Array(1000), { fragSize: 10, redundancy: 1 }).warnings[0]).toMatch(/of 100 uncoded fragments/);
  });
});

describe('WASM kernel row generator', () => {
  it('writes the same rows as parityRow (the reference the decoder uses)', async () => {
    const { createXorKernel } = await import('../src/codec/fec-wasm.js');
    const kernel = createXorKernel(4096);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16383 }), fc.integer({ min: 1, max: 16382 }), fc.constantFrom<FecRule>(1, 2), (m, k, rule) => {
        const ref = parityRow(k, m, rule);
        new Uint32Array(kernel.memory.buffer).fill(0xffffffff); // the kernel must clear the row itself
        kernel.row(k, m, rule, 8);
        expect(Array.from(new Uint32Array(kernel.memory.buffer, 8, ref.length))).toEqual(Array.from(ref));
      }),
      { numRuns: 200, seed: 5 },
    );
  });
});
