// The decoder's GF(2) bookkeeping for lost uncoded fragments, written to port to C with fixed memory.
// Each lost fragment occupies a column ("slot") 0..size-1. Column p may own one pivot row whose lowest set bit
// is p, so row p only stores columns p..size-1: rows are packed upper-triangular, word-aligned (row p starts at
// word p>>5 of its own columns). Slots are reused once a late uncoded fragment makes a column known.

const lowBit = (w: number): number => 31 - Math.clz32(w & -w);

export class PivotMatrix {
  /** Bytes allocated for `size` columns. */
  static bytes(size: number): number {
    const words = (size + 31) >>> 5;
    return (PivotMatrix.rowStart(size, words) + 2 * words) * 4;
  }

  /** First word of row p: the rows before it hold sum over q < p of (words - (q >> 5)) words. */
  private static rowStart(p: number, words: number): number {
    const a = p >>> 5;
    return 32 * (a * words - (a * (a - 1)) / 2) + (p & 31) * (words - a);
  }

  readonly words: number;
  private readonly rows: Uint32Array;
  private readonly pivots: Uint32Array; // bit p: row p exists
  private readonly used: Uint32Array; // bit p: column p is allocated to a lost fragment
  rank = 0;

  constructor(readonly size: number) {
    this.words = (size + 31) >>> 5;
    this.rows = new Uint32Array(PivotMatrix.rowStart(size, this.words));
    this.pivots = new Uint32Array(this.words);
    this.used = new Uint32Array(this.words);
  }

  reset(): void {
    this.pivots.fill(0);
    this.used.fill(0);
    this.rank = 0;
  }

  /** Lowest free column, now allocated, or -1 when all `size` are in use. A free column is zero in every row. */
  allocate(): number {
    for (let w = 0; w < this.words; w++) {
      const free = ~this.used[w]!;
      if (free === 0) continue;
      const c = (w << 5) + lowBit(free);
      if (c >= this.size) return -1;
      this.used[w]! |= 1 << (c & 31);
      return c;
    }
    return -1;
  }

  /** Frees column c; the caller has removed it from every row (clearColumn) and dropped its pivot (take). */
  release(c: number): void {
    this.used[c >>> 5]! &= ~(1 << (c & 31));
  }

  hasPivot(p: number): boolean {
    return ((this.pivots[p >>> 5]! >>> (p & 31)) & 1) === 1;
  }

  /** Lowest set column of vec at or after word `fromWord`, or -1 if none. */
  lowest(vec: Uint32Array, fromWord = 0): number {
    for (let w = fromWord; w < this.words; w++) if (vec[w] !== 0) return (w << 5) + lowBit(vec[w]!);
    return -1;
  }

  /** vec ^= row p (vec has no bits below p). */
  reduce(p: number, vec: Uint32Array): void {
    const a = p >>> 5;
    const base = PivotMatrix.rowStart(p, this.words) - a;
    for (let w = a; w < this.words; w++) vec[w]! ^= this.rows[base + w]!;
  }

  /** Stores vec (lowest bit p, no pivot at p yet) as the pivot row of p. */
  store(p: number, vec: Uint32Array): void {
    const a = p >>> 5;
    this.rows.set(vec.subarray(a, this.words), PivotMatrix.rowStart(p, this.words));
    this.pivots[a]! |= 1 << (p & 31);
    this.rank++;
  }

  /** Removes the pivot row of p and writes it into vec (all words). */
  take(p: number, vec: Uint32Array): void {
    const a = p >>> 5;
    vec.fill(0, 0, a);
    const start = PivotMatrix.rowStart(p, this.words);
    vec.set(this.rows.subarray(start, start + this.words - a), a);
    this.pivots[a]! &= ~(1 << (p & 31));
    this.rank--;
  }

  /** Clears column c in every pivot row below it, calling onRow(p) for each row that had it set. */
  clearColumn(c: number, onRow: (p: number) => void): void {
    const cw = c >>> 5;
    const mask = 1 << (c & 31);
    for (let w = 0; w <= cw; w++) {
      let bits = this.pivots[w]!;
      if (w === cw) bits &= mask - 1; // rows p < c only
      while (bits !== 0) {
        const p = (w << 5) + lowBit(bits);
        bits &= bits - 1;
        const at = PivotMatrix.rowStart(p, this.words) + cw - (p >>> 5);
        if (this.rows[at]! & mask) {
          this.rows[at]! ^= mask;
          onRow(p);
        }
      }
    }
  }

  /** Calls fn(c) for every set column c > p of row p (back-substitution). */
  forEachAbove(p: number, fn: (c: number) => void): void {
    const a = p >>> 5;
    const base = PivotMatrix.rowStart(p, this.words) - a;
    for (let w = a; w < this.words; w++) {
      let bits = this.rows[base + w]!;
      if (w === a) bits &= ~((2 << (p & 31)) - 1); // drop columns <= p (2 << 31 is 0: the whole word)
      while (bits !== 0) {
        fn((w << 5) + lowBit(bits));
        bits &= bits - 1;
      }
    }
  }

  /** Columns in use, highest first. */
  forEachUsedDescending(fn: (c: number) => void): void {
    for (let w = this.words - 1; w >= 0; w--) {
      let bits = this.used[w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        fn((w << 5) + b);
        bits ^= 1 << b;
      }
    }
  }
}
