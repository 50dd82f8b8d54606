import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fecEncode, type FecRule } from '../src/codec/fec.js';
import { encodeDataFragment } from '../src/codec/data-fragment.js';
import { crc32 } from '../src/codec/crc32.js';
import { FragDecoder, FragDecoderError, type FragDecoderStatus } from '../src/device/frag-decoder.js';
import { oracleFullRankAt, rng } from './fec-oracle.js';

function session(len: number, fragSize: number, redundancy: number, rule: FecRule, seed: number) {
  const rand = rng(seed);
  const data = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
  const enc = fecEncode(data, { fragSize, redundancy, rule });
  return { data, ...enc, rand };
}

function decoderFor(m: number, fragSize: number, padding: number, rule: FecRule, maxLost = m): FragDecoder {
  const d = new FragDecoder({ maxNbFrag: m, maxFragSize: fragSize, maxLost });
  d.begin({ fragIndex: 1, nbFrag: m, fragSize, padding, rule });
  return d;
}

describe('FragDecoder against a full-elimination oracle', () => {
  it('completes exactly when the received set first reaches full rank, in any order, with exact bytes', () => {
    fc.assert(
      fc.property(
        fc.record({
          len: fc.integer({ min: 1, max: 400 }),
          fragSize: fc.integer({ min: 1, max: 20 }),
          extra: fc.integer({ min: 0, max: 30 }),
          rule: fc.constantFrom<FecRule>(1, 2),
          loss: fc.double({ min: 0, max: 0.6, noNaN: true }),
          dupRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
          shuffle: fc.boolean(),
          seed: fc.integer(),
        }),
        ({ len, fragSize, extra, rule, loss, dupRate, shuffle, seed }) => {
          const s = session(len, fragSize, Math.min(extra, 16383 - Math.ceil(len / fragSize)), rule, seed);
          const m = s.nbFrag;
          let order = s.fragments.map((_, i) => i + 1).filter(() => s.rand() >= loss);
          if (shuffle) order = order.map((n) => [s.rand(), n] as const).sort((a, b) => a[0] - b[0]).map(([, n]) => n);
          order = order.flatMap((n) => (s.rand() < dupRate ? [n, n] : [n]));
          const doneAt = oracleFullRankAt(order, m, rule);
          const d = decoderFor(m, fragSize, s.padding, rule);
          const statuses: FragDecoderStatus[] = order.map((n) => d.push(n, s.fragments[n - 1]!));
          const firstDone = statuses.indexOf('done');
          expect(firstDone).toBe(doneAt);
          if (doneAt >= 0) {
            expect(statuses.slice(doneAt).every((x) => x === 'done')).toBe(true);
            expect(d.stats.doneAtN).toBe(order[doneAt]);
            expect(d.stats.consumed).toBe(doneAt + 1);
            expect(Buffer.from(d.block()).equals(Buffer.from(s.data))).toBe(true);
            expect(d.verify({ crc32: crc32(s.data) })).toBe(true);
          } else {
            expect(d.status).toBe('receiving');
            expect(d.stats.doneAtN).toBeNull();
          }
        },
      ),
      { numRuns: 300, seed: 4004 },
    );
  });

  it('folds uncoded fragments that arrive after coded ones (Semtech would drop them)', () => {
    const s = session(100, 10, 10, 1, 7); // M = 10
    const d = decoderFor(10, 10, 0, 1);
    // Coded first: every uncoded position becomes lost; then uncoded fragments arrive one by one.
    const order = [11, 12, 13, 14, 15, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const at = oracleFullRankAt(order, 10, 1);
    order.forEach((n) => d.push(n, s.fragments[n - 1]!));
    expect(d.stats.doneAtN).toBe(order[at]);
    expect(at).toBeLessThan(order.length - 1); // finished before the last uncoded fragment
    expect(Buffer.from(d.block()).equals(Buffer.from(s.data))).toBe(true);
  });

  it('counts received, duplicates, lost, rank and missing', () => {
    const s = session(100, 10, 10, 1, 3); // M = 10
    const d = decoderFor(10, 10, 0, 1);
    for (const n of [1, 2, 5, 5]) d.push(n, s.fragments[n - 1]!);
    expect(d.stats).toMatchObject({ received: 3, duplicates: 1, consumed: 4, lastN: 5, lostUncoded: 2, rank: 0, missing: 2 });
    d.push(11, s.fragments[10]!); // coded: positions 6..10 are now lost too
    expect(d.stats.lostUncoded).toBe(7);
    expect(d.stats.rank + d.stats.missing).toBe(7);
    d.push(3, s.fragments[2]!); // a late uncoded fragment removes one unknown
    expect(d.stats.lostUncoded).toBe(6);
    d.push(11, s.fragments[10]!);
    expect(d.stats.duplicates).toBe(2);
  });
});

describe('FragDecoder failures', () => {
  const s = session(100, 10, 10, 1, 11);

  it('more losses than maxLost is memoryError, never done', () => {
    const d = decoderFor(10, 10, 0, 1, 2);
    expect(d.push(1, s.fragments[0]!)).toBe('receiving');
    expect(d.push(5, s.fragments[4]!)).toBe('memoryError'); // 2, 3, 4 lost: 3 > 2
    expect(d.push(6, s.fragments[5]!)).toBe('memoryError');
    expect(() => d.block()).toThrow(FragDecoderError);
  });

  it('typed errors leave the state intact', () => {
    const d = decoderFor(10, 10, 0, 1);
    d.push(1, s.fragments[0]!);
    const before = d.stats;
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return e instanceof FragDecoderError ? e.code : 'other';
      }
      return 'none';
    };
    expect(code(() => d.push(2, new Uint8Array(9)))).toBe('WRONG_SIZE');
    expect(code(() => d.push(0, s.fragments[0]!))).toBe('N_OUT_OF_RANGE');
    expect(code(() => d.push(16384, s.fragments[0]!))).toBe('N_OUT_OF_RANGE');
    expect(code(() => d.pushDataFragment(encodeDataFragment(2, 2, s.fragments[1]!)))).toBe('WRONG_INDEX');
    expect(code(() => d.pushDataFragment(Uint8Array.of(0x08, 0x02, 0x40, 1, 2)))).toBe('WRONG_SIZE');
    expect(code(() => d.pushDataFragment(Uint8Array.of(0x09, 0x02, 0x40, 1)))).toBe('BAD_COMMAND');
    expect(code(() => d.block())).toBe('NOT_DONE');
    expect(code(() => new FragDecoder({ maxNbFrag: 4, maxFragSize: 4, maxLost: 4 }).push(1, new Uint8Array(4)))).toBe('NO_SESSION');
    expect(code(() => d.begin({ fragIndex: 1, nbFrag: 11, fragSize: 10, padding: 0, rule: 1 }))).toBe('PARAMS');
    expect(code(() => d.begin({ fragIndex: 1, nbFrag: 10, fragSize: 11, padding: 0, rule: 1 }))).toBe('PARAMS');
    expect(d.stats).toEqual(before);
    for (let n = 2; n <= 10; n++) d.push(n, s.fragments[n - 1]!);
    expect(d.status).toBe('done');
    expect(d.verify({ crc32: crc32(s.data) ^ 1 })).toBe(false);
  });
});

describe('FragDecoder memory', () => {
  it('memoryBytes counts every typed array it holds and does not grow', () => {
    const limits = { maxNbFrag: 512, maxFragSize: 200, maxLost: 256 };
    const d = new FragDecoder(limits);
    const buffers = new Set<ArrayBufferLike>();
    const walk = (o: object): void => {
      for (const v of Object.values(o)) {
        if (ArrayBuffer.isView(v)) buffers.add(v.buffer);
        else if (v && typeof v === 'object' && v !== limits) walk(v);
      }
    };
    walk(d);
    const total = [...buffers].reduce((a, b) => a + b.byteLength, 0);
    expect(total).toBe(d.memoryBytes);
    expect(FragDecoder.memoryBytes(limits)).toBe(d.memoryBytes);
    // Semtech FragDecoder for the same limits: file + MatrixM2B ((L/8+1)*L) + 2*M + S + stack vectors.
    const semtech = 512 * 200 + (256 / 8 + 1) * 256 + 2 * 512 + (256 / 8 + 1) + (512 / 8 + 1) + 200 + 2 * (256 / 8 + 1);
    expect(d.memoryBytes).toBeLessThanOrEqual(semtech);
  });
});
