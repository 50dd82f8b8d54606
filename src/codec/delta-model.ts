/**
 * State shared by the LFD1 encoder and patcher, allocated once at a fixed capacity: the segment table (which old
 * range each diff segment copies, used to translate addresses) and the diff predictor (Thumb-2 branches re-aimed
 * through a learnt target cache or the table, address words translated or taken from a small learnt cache).
 */
import { branchOffset, branchWith, isAddressWord, isBranch, KIND_BRANCH, KIND_PLAIN, KIND_WORD, WORD_CACHE_SIZE, wordCacheIndex } from './delta-format.js';

/** Bytes of RAM per segment-table entry: old start, new start, diff length (u32 each) and a u16 sort index. */
export const SEGMENT_ENTRY_BYTES = 14;

export class SegmentTable {
  readonly oldStart: Uint32Array;
  readonly newStart: Uint32Array;
  readonly diffLen: Uint32Array;
  /** Entry indexes sorted by oldStart. */
  readonly order: Uint16Array;
  count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 0xffff) throw new RangeError(`maxSegments: must be 0..65535, got ${capacity}`);
    this.oldStart = new Uint32Array(capacity);
    this.newStart = new Uint32Array(capacity);
    this.diffLen = new Uint32Array(capacity);
    this.order = new Uint16Array(capacity);
  }

  get ramBytes(): number {
    return this.capacity * SEGMENT_ENTRY_BYTES;
  }

  clear(): void {
    this.count = 0;
  }

  /** Appends an entry (caller checks capacity) and keeps `order` sorted (insertion, stable). */
  push(oldStart: number, newStart: number, diffLen: number): void {
    const i = this.count++;
    this.oldStart[i] = oldStart;
    this.newStart[i] = newStart;
    this.diffLen[i] = diffLen;
    let j = i;
    while (j > 0 && this.oldStart[this.order[j - 1]!]! > oldStart) {
      this.order[j] = this.order[j - 1]!;
      j--;
    }
    this.order[j] = i;
  }

  /** new - old offset to apply to an old-image offset, from the segment covering it (or the nearest before it). */
  shiftFor(off: number): number {
    if (this.count === 0) return 0;
    let lo = 0;
    let hi = this.count - 1;
    if (this.oldStart[this.order[0]!]! > off) {
      const e = this.order[0]!;
      return this.newStart[e]! - this.oldStart[e]!;
    }
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.oldStart[this.order[mid]!]! <= off) lo = mid;
      else hi = mid - 1;
    }
    let pick = this.order[lo]!;
    for (let k = lo; k >= 0 && k > lo - 4; k--) {
      const e = this.order[k]!;
      if (off < this.oldStart[e]! + this.diffLen[e]! && this.diffLen[e]! > 0) {
        pick = e;
        break;
      }
    }
    return this.newStart[pick]! - this.oldStart[pick]!;
  }
}

/** Reads one byte of the old image (offset checked by the caller). */
export type OldReader = (pos: number) => number;

export class Predictor {
  /** Result of unit(): length (1 or 4), residual kind of its first byte, predicted bytes (little-endian u32). */
  unitLen = 1;
  unitKind = KIND_PLAIN;
  predicted = 0;
  private oldWord = 0;
  private oldTarget = 0;
  private newPc = 0;
  readonly targetOld = new Uint32Array(WORD_CACHE_SIZE);
  readonly targetNew = new Uint32Array(WORD_CACHE_SIZE);
  readonly targetUsed = new Uint8Array(WORD_CACHE_SIZE);
  readonly cacheOld = new Uint32Array(WORD_CACHE_SIZE);
  readonly cacheNew = new Uint32Array(WORD_CACHE_SIZE);
  readonly cacheUsed = new Uint8Array(WORD_CACHE_SIZE);

  constructor(
    readonly segments: SegmentTable,
    public loadAddress: number,
    public oldLength: number,
  ) {}

  static readonly RAM_BYTES = WORD_CACHE_SIZE * 18 + 32;

  reset(loadAddress: number, oldLength: number): void {
    this.loadAddress = loadAddress >>> 0;
    this.oldLength = oldLength;
    this.cacheUsed.fill(0);
    this.targetUsed.fill(0);
  }

  private translate(addr: number): number {
    const off = addr - this.loadAddress;
    if (off < 0 || off > this.oldLength) return addr;
    return (addr + this.segments.shiftFor(off)) >>> 0;
  }

  /**
   * Chooses the prediction unit at old offset r / new offset q with `remain` diff bytes left in the segment.
   * Sets unitLen, unitKind, predicted.
   */
  unit(read: OldReader, r: number, q: number, remain: number): void {
    const abs = (this.loadAddress + r) >>> 0;
    if (remain >= 4 && r + 4 <= this.oldLength && (abs & 1) === 0) {
      const b0 = read(r);
      const b1 = read(r + 1);
      const b2 = read(r + 2);
      const b3 = read(r + 3);
      const hw1 = b0 | (b1 << 8);
      const hw2 = b2 | (b3 << 8);
      const w = (hw1 | (hw2 << 16)) >>> 0;
      if (isBranch(hw1, hw2)) {
        const target = (abs + 4 + branchOffset(hw1, hw2)) >>> 0;
        const t = wordCacheIndex(target);
        const newTarget = this.targetUsed[t] && this.targetOld[t] === target ? this.targetNew[t]! : this.translate(target);
        const newPc = this.loadAddress + q + 4;
        this.oldTarget = target;
        this.newPc = newPc;
        const enc = branchWith(hw2, newTarget - newPc);
        this.unitLen = 4;
        this.unitKind = KIND_BRANCH;
        this.predicted = enc < 0 ? w : enc;
        return;
      }
      if ((abs & 3) === 0 && isAddressWord(w, this.loadAddress, this.oldLength)) {
        const i = wordCacheIndex(w);
        let p: number;
        if (this.cacheUsed[i] && this.cacheOld[i] === w) p = this.cacheNew[i]!;
        else if (w >>> 28 === 1 || w >>> 28 === 2) p = w;
        else p = (this.translate(w & ~1) | (w & 1)) >>> 0;
        this.unitLen = 4;
        this.unitKind = KIND_WORD;
        this.predicted = p;
        this.oldWord = w;
        return;
      }
    }
    this.unitLen = 1;
    this.unitKind = KIND_PLAIN;
    this.predicted = read(r);
  }

  /** After a branch unit: when the new bytes are a branch too, remember where the old target went. */
  learnBranch(newWord: number): void {
    const hw1 = newWord & 0xffff;
    const hw2 = newWord >>> 16;
    if (!isBranch(hw1, hw2)) return;
    const i = wordCacheIndex(this.oldTarget);
    this.targetOld[i] = this.oldTarget;
    this.targetNew[i] = (this.newPc + branchOffset(hw1, hw2)) >>> 0;
    this.targetUsed[i] = 1;
  }

  /** After an address-word unit: remember what its old value became. */
  learn(newWord: number): void {
    const i = wordCacheIndex(this.oldWord);
    this.cacheOld[i] = this.oldWord;
    this.cacheNew[i] = newWord >>> 0;
    this.cacheUsed[i] = 1;
  }
}
