// Independent references for the FEC tests: a plain parity-row generator (straight from TS004-2.0.0 §5, using
// `%` and a boolean array) and a full GF(2) elimination that says at which fragment a stream reaches full rank.

export function oracleRow(seed: number, m: number, rule: 1 | 2): boolean[] {
  const line = new Array<boolean>(m).fill(false);
  const modulus = Number.isInteger(Math.log2(m)) ? m + 1 : m;
  let x = seed;
  let ones = 0;
  while (ones < Math.floor(m / 2)) {
    let r: number;
    do {
      x = Math.floor(x / 2) + (((x ^ Math.floor(x / 32)) % 2) * 2 ** 22);
      r = x % modulus;
    } while (r >= m);
    if (rule === 1) {
      line[r] = true;
      ones++;
    } else if (!line[r]) {
      line[r] = true;
      ones++;
    }
  }
  return line;
}

/** Row of fragment N as booleans (N <= M: unit row). */
export function oracleEquation(n: number, m: number, rule: 1 | 2): boolean[] {
  if (n <= m) return Array.from({ length: m }, (_, i) => i === n - 1);
  return oracleRow(1 + 1001 * (n - m), m, rule);
}

export function bitsOf(row: Uint32Array, m: number): boolean[] {
  return Array.from({ length: m }, (_, i) => ((row[i >>> 5]! >>> (i & 31)) & 1) === 1);
}

/** Index (0-based, into `order`) of the fragment at which the received rows first reach rank M, or -1.
 *  Plain elimination on booleans: each row is reduced by every basis row whose pivot it contains. */
export function oracleFullRankAt(order: number[], m: number, rule: 1 | 2): number {
  const basis = new Map<number, boolean[]>();
  for (let t = 0; t < order.length; t++) {
    let row = oracleEquation(order[t]!, m, rule);
    for (const [pivot, b] of basis) if (row[pivot]) row = row.map((v, j) => v !== b[j]);
    const pivot = row.indexOf(true);
    if (pivot < 0) continue;
    for (const [q, b] of basis) if (b[pivot]) basis.set(q, b.map((v, j) => v !== row[j]));
    basis.set(pivot, row);
    if (basis.size === m) return t;
  }
  return -1;
}

/** Coded payload from the oracle row: XOR of the selected uncoded fragments. */
export function oracleFragment(n: number, fragments: Uint8Array[], rule: 1 | 2): Uint8Array {
  const m = fragments.length;
  const out = new Uint8Array(fragments[0]!.length);
  oracleEquation(n, m, rule).forEach((on, i) => {
    if (on) for (let j = 0; j < out.length; j++) out[j]! ^= fragments[i]![j]!;
  });
  return out;
}

/** Deterministic PRNG for reproducible tests (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
