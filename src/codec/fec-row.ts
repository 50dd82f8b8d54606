// TS004 parity-row generation (TS004-2.0.0 §5; docs/protocol.md §4): the PRBS23 generator and the two row rules.

/** 1 = TS004 v1.0.0 (draws collapse), 2 = TS004 v2.0.0 (exactly floor(M/2) distinct positions). */
export type FecRule = 1 | 2;

/** Highest fragment counter N: Index&N carries N in 14 bits. */
export const MAX_N = 16383;

/** Bad FEC parameters: `field` names the parameter, `reason` says what is wrong. */
export class FecError extends Error {
  override readonly name = 'FecError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** One LFSR step: shift right, feedback bit0 XOR bit5 ADDED at bit 22 (values stay below 2^25). */
export function prbs23(x: number): number {
  return (x >>> 1) + (((x ^ (x >>> 5)) & 1) << 22);
}

/** Words needed for an m-bit packed row. */
export function rowWords(m: number): number {
  return (m + 31) >>> 5;
}

export function checkRule(rule: number): FecRule {
  if (rule !== 1 && rule !== 2) throw new FecError('rule', `must be 1 (TS004 v1.0.0) or 2 (TS004 v2.0.0), got ${rule}`);
  return rule;
}

function checkRowArgs(k: number, m: number): void {
  if (!Number.isInteger(m) || m < 1 || m > MAX_N) throw new FecError('m', `must be an integer 1..${MAX_N}, got ${m}`);
  if (!Number.isInteger(k) || k < 1 || k > MAX_N) throw new FecError('k', `must be an integer 1..${MAX_N}, got ${k}`);
}

/**
 * Writes the parity row of coded fragment k (k = N - M >= 1) into `out` (the first rowWords(m) words are
 * overwritten; bit i of word i>>5 = uncoded fragment i, 0-based). Allocation-free, for the device decoder.
 */
export function parityRowInto(k: number, m: number, rule: FecRule, out: Uint32Array): void {
  checkRowArgs(k, m);
  const words = rowWords(m);
  if (out.length < words) throw new FecError('out', `needs ${words} words, has ${out.length}`);
  out.fill(0, 0, words);
  const modulus = (m & (m - 1)) === 0 ? m + 1 : m;
  const inverse = 1 / modulus; // x < 2^25: the truncated product is floor(x / modulus) or one less
  const want = m >>> 1;
  let x = 1 + 1001 * k;
  let ones = 0;
  // Branch-free on data: the draw, the modulus and the v2 duplicate test are unpredictable, so no `if` on them.
  while (ones < want) {
    let r: number;
    do {
      x = (x >>> 1) + (((x ^ (x >>> 5)) & 1) << 22);
      r = x - Math.imul((x * inverse) | 0, modulus);
      r -= modulus & ((modulus - 1 - r) >> 31);
    } while (r >= m);
    const w = r >>> 5;
    const had = (out[w]! >>> (r & 31)) & 1;
    out[w]! |= 1 << (r & 31);
    ones += rule === 1 ? 1 : 1 - had; // rule 2: a repeated draw does not count
  }
}

/** Parity row for coded fragment k = N - M (k >= 1) as a packed bitset of ceil(m/32) words. */
export function parityRow(k: number, m: number, rule: FecRule): Uint32Array {
  const out = new Uint32Array(rowWords(m));
  parityRowInto(k, m, checkRule(rule), out);
  return out;
}
