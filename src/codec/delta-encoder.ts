/**
 * LFD1 encoder (server side): finds the old ranges the new image copies (suffix array over the old image with
 * Thumb-2 branch offsets and address words masked, then a bsdiff-style scan that keeps an alignment through small
 * changes), and codes segments, predicted diff residuals and LZ-coded extra bytes with the adaptive range coder.
 * A full image is compressed by the same code with an empty old image (no segments, one extra region).
 */
import {
  DEFAULT_LOAD_ADDRESS,
  encodeByte,
  encodeNumber,
  isAddressWord,
  isBranch,
  KIND_BRANCH,
  KIND_PLAIN,
  LFD_FORMAT_ID,
  LFD_PREFIX_SIZE,
  litBase,
  MATCH_MAX,
  MATCH_MIN,
  P,
  resetProbs,
} from './delta-format.js';
import { Predictor, SegmentTable } from './delta-model.js';
import { RangeEncoder } from './range-coder.js';

export const DEFAULT_MAX_SEGMENTS = 512;

export interface DeltaEncodeOptions {
  /** Address the image is linked at (Cortex-M flash start); default 0x08000000. */
  loadAddress?: number;
  /** Segment-table capacity of the patcher; the encoder merges the shortest segments to fit. */
  maxSegments?: number;
}

interface Segment {
  newStart: number;
  oldStart: number;
  diffLen: number;
  extraLen: number;
}

/** Copy of `b` with branch offsets and address words masked, so that moved code still matches. */
export function maskForMatching(b: Uint8Array, loadAddress: number, length: number): Uint8Array {
  const out = b.slice();
  for (let i = 0; i + 4 <= b.length; ) {
    const abs = (loadAddress + i) >>> 0;
    if (abs & 1) {
      i++;
      continue;
    }
    const hw1 = b[i]! | (b[i + 1]! << 8);
    const hw2 = b[i + 2]! | (b[i + 3]! << 8);
    if (isBranch(hw1, hw2)) {
      out[i] = 0;
      out[i + 1] = 0xf0;
      out[i + 2] = 0;
      out[i + 3] = b[i + 3]! & 0xd0;
      i += 4;
      continue;
    }
    const w = (hw1 | (hw2 << 16)) >>> 0;
    if ((abs & 3) === 0 && isAddressWord(w, loadAddress, length)) {
      out[i] = 0;
      out[i + 1] = 0;
      out[i + 2] = 0;
      i += 4;
      continue;
    }
    i += 2;
  }
  return out;
}

/** Suffix array by prefix doubling (n log^2 n; fine for firmware-sized inputs). */
export function suffixArray(s: Uint8Array): Int32Array {
  const n = s.length;
  const sa = new Int32Array(n);
  let rank = new Int32Array(n);
  let tmp = new Int32Array(n);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    sa[i] = i;
    rank[i] = s[i]!;
  }
  for (let k = 1; n > 1; k <<= 1) {
    for (let i = 0; i < n; i++) keys[i] = rank[i]! * (n + 2) + (i + k < n ? rank[i + k]! + 1 : 0);
    sa.sort((a, b) => keys[a]! - keys[b]!);
    tmp[sa[0]!] = 0;
    for (let i = 1; i < n; i++) tmp[sa[i]!] = tmp[sa[i - 1]!]! + (keys[sa[i]!] !== keys[sa[i - 1]!] ? 1 : 0);
    [rank, tmp] = [tmp, rank];
    if (rank[sa[n - 1]!] === n - 1) break;
  }
  return sa;
}

function matchLen(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  let i = 0;
  while (ai + i < a.length && bi + i < b.length && a[ai + i] === b[bi + i]) i++;
  return i;
}

/** Longest match of b[bi..] in a (via its suffix array): [length, position]. */
function search(sa: Int32Array, a: Uint8Array, b: Uint8Array, bi: number): [number, number] {
  let st = 0;
  let en = sa.length - 1;
  while (en - st >= 2) {
    const x = st + ((en - st) >> 1);
    const ax = sa[x]!;
    let cmp = 0;
    for (let i = 0; ; i++) {
      if (ax + i >= a.length) {
        cmp = -1;
        break;
      }
      if (bi + i >= b.length) {
        cmp = 1;
        break;
      }
      const d = a[ax + i]! - b[bi + i]!;
      if (d !== 0) {
        cmp = d;
        break;
      }
    }
    if (cmp < 0) st = x;
    else en = x;
  }
  const x = matchLen(a, sa[st]!, b, bi);
  const y = matchLen(a, sa[en]!, b, bi);
  return x > y ? [x, sa[st]!] : [y, sa[en]!];
}

/** bsdiff-style segmentation of `nw` against `old` (both masked). */
function segment(old: Uint8Array, nw: Uint8Array): Segment[] {
  const segs: Segment[] = [];
  if (old.length === 0) return nw.length ? [{ newStart: 0, oldStart: 0, diffLen: 0, extraLen: nw.length }] : [];
  const sa = suffixArray(old);
  const oldsize = old.length;
  const newsize = nw.length;
  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastscan = 0;
  let lastpos = 0;
  let lastoffset = 0;
  while (scan < newsize) {
    let oldscore = 0;
    let scsc = (scan += len);
    for (; scan < newsize; scan++) {
      [len, pos] = search(sa, old, nw, scan);
      for (; scsc < scan + len; scsc++) if (scsc + lastoffset < oldsize && old[scsc + lastoffset] === nw[scsc]) oldscore++;
      if ((len === oldscore && len !== 0) || len > oldscore + 8) break;
      if (scan + lastoffset < oldsize && old[scan + lastoffset] === nw[scan]) oldscore--;
    }
    if (len !== oldscore || scan === newsize) {
      let s = 0;
      let sf = 0;
      let lenf = 0;
      for (let i = 0; lastscan + i < scan && lastpos + i < oldsize; ) {
        if (old[lastpos + i] === nw[lastscan + i]) s++;
        i++;
        if (s * 2 - i > sf * 2 - lenf) {
          sf = s;
          lenf = i;
        }
      }
      let lenb = 0;
      if (scan < newsize) {
        let sb = 0;
        s = 0;
        for (let i = 1; scan >= lastscan + i && pos >= i; i++) {
          if (old[pos - i] === nw[scan - i]) s++;
          if (s * 2 - i > sb * 2 - lenb) {
            sb = s;
            lenb = i;
          }
        }
      }
      if (lastscan + lenf > scan - lenb) {
        const overlap = lastscan + lenf - (scan - lenb);
        s = 0;
        let ss = 0;
        let lens = 0;
        for (let i = 0; i < overlap; i++) {
          if (nw[lastscan + lenf - overlap + i] === old[lastpos + lenf - overlap + i]) s++;
          if (nw[scan - lenb + i] === old[pos - lenb + i]) s--;
          if (s > ss) {
            ss = s;
            lens = i + 1;
          }
        }
        lenf += lens - overlap;
        lenb -= lens;
      }
      segs.push({ newStart: lastscan, oldStart: lastpos, diffLen: lenf, extraLen: scan - lenb - (lastscan + lenf) });
      lastscan = scan - lenb;
      lastpos = pos - lenb;
      lastoffset = pos - scan;
    }
  }
  return segs;
}

/** Merges the shortest diff segments into extra bytes until at most `max` remain. */
function capSegments(segs: Segment[], max: number): Segment[] {
  let out = segs.filter((s, i) => i === 0 || s.diffLen > 0 || s.extraLen > 0);
  // Fold empty-diff segments into the previous one's extra bytes.
  const merged: Segment[] = [];
  for (const s of out) {
    const prev = merged[merged.length - 1];
    if (prev && s.diffLen === 0) prev.extraLen += s.extraLen;
    else merged.push({ ...s });
  }
  out = merged;
  if (max === 0) return [];
  while (out.length > max) {
    let k = 1;
    for (let i = 2; i < out.length; i++) if (out[i]!.diffLen < out[k]!.diffLen) k = i;
    const prev = out[k - 1]!;
    prev.extraLen += out[k]!.diffLen + out[k]!.extraLen;
    out.splice(k, 1);
  }
  return out;
}

/** LZ match finder over the new image (hash chains over 3 bytes). */
class MatchFinder {
  private readonly head = new Int32Array(1 << 16).fill(-1);
  private readonly prev: Int32Array;
  private inserted = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly depth = 192,
  ) {
    this.prev = new Int32Array(b.length);
  }
  private hash(i: number): number {
    return ((this.b[i]! << 8) ^ (this.b[i + 1]! << 4) ^ this.b[i + 2]! ^ (this.b[i + 1]! >> 4) * 0x9e5) & 0xffff;
  }
  insertUpTo(p: number): void {
    for (; this.inserted < p; this.inserted++) {
      const i = this.inserted;
      if (i + 3 > this.b.length) continue;
      const h = this.hash(i);
      this.prev[i] = this.head[h]!;
      this.head[h] = i;
    }
  }
  best(p: number, maxLen: number): [number, number] {
    if (p + 3 > this.b.length || maxLen < 3) return [0, 0];
    let cand = this.head[this.hash(p)]!;
    let bestLen = 0;
    let bestDist = 0;
    for (let d = 0; cand >= 0 && d < this.depth; d++, cand = this.prev[cand]!) {
      if (this.b[cand + bestLen] !== this.b[p + bestLen]) continue;
      let l = 0;
      while (l < maxLen && this.b[cand + l] === this.b[p + l]) l++;
      if (l > bestLen) {
        bestLen = l;
        bestDist = p - cand;
        if (l === maxLen) break;
      }
    }
    return [bestLen, bestDist];
  }
}

/** Hash chains over the old image, for extra bytes that exist elsewhere in it. */
class OldFinder {
  private readonly head = new Int32Array(1 << 16).fill(-1);
  private readonly prev: Int32Array;
  constructor(
    private readonly old: Uint8Array,
    private readonly depth = 96,
  ) {
    this.prev = new Int32Array(old.length);
    for (let i = 0; i + 3 <= old.length; i++) {
      const h = OldFinder.hash(old, i);
      this.prev[i] = this.head[h]!;
      this.head[h] = i;
    }
  }
  static hash(b: Uint8Array, i: number): number {
    return ((b[i]! << 8) ^ (b[i + 1]! << 4) ^ b[i + 2]! ^ (b[i + 1]! >> 4) * 0x9e5) & 0xffff;
  }
  best(nw: Uint8Array, p: number, maxLen: number): [number, number] {
    if (p + 3 > nw.length || maxLen < 3 || this.old.length < 3) return [0, 0];
    let cand = this.head[OldFinder.hash(nw, p)]!;
    let bestLen = 0;
    let bestPos = 0;
    for (let d = 0; cand >= 0 && d < this.depth; d++, cand = this.prev[cand]!) {
      let l = 0;
      while (l < maxLen && cand + l < this.old.length && this.old[cand + l] === nw[p + l]) l++;
      if (l > bestLen) {
        bestLen = l;
        bestPos = cand;
      }
    }
    return [bestLen, bestPos];
  }
}

/** Encodes `nw` as an LFD1 patch against `old` (empty `old`: plain compression). */
export function encodeDelta(old: Uint8Array, nw: Uint8Array, opts: DeltaEncodeOptions = {}): Uint8Array {
  const loadAddress = (opts.loadAddress ?? DEFAULT_LOAD_ADDRESS) >>> 0;
  const maxSegments = old.length === 0 ? 0 : (opts.maxSegments ?? DEFAULT_MAX_SEGMENTS);
  let segs = old.length === 0 ? [] : segment(maskForMatching(old, loadAddress, old.length), maskForMatching(nw, loadAddress, old.length));
  segs = capSegments(segs, maxSegments);
  const probs = new Uint16Array(P.total);
  resetProbs(probs);
  const rc = new RangeEncoder();
  const table = new SegmentTable(Math.max(segs.length, 1));
  const pred = new Predictor(table, loadAddress, old.length);
  // Segment list.
  let expectOld = 0;
  for (const s of segs) {
    encodeNumber(rc, probs, P.segDiff, s.diffLen);
    encodeNumber(rc, probs, P.segExtra, s.extraLen);
    const seek = s.oldStart - expectOld;
    rc.bit(probs, P.seekSign, seek < 0 ? 1 : 0);
    encodeNumber(rc, probs, P.segSeek, Math.abs(seek));
    table.push(s.oldStart, s.newStart, s.diffLen);
    expectOld = s.oldStart + s.diffLen;
  }
  // Data. Without segments the whole image is one extra region.
  const regions = segs.length ? segs : [{ newStart: 0, oldStart: 0, diffLen: 0, extraLen: nw.length }];
  const mf = new MatchFinder(nw);
  // Old copies exist only in a patch with segments (the patcher reads the is-old bit only then).
  const of = segs.length > 0 ? new OldFinder(old) : null;
  const readOld = (i: number): number => old[i]!;
  let state = 0;
  let rep0 = 0;
  for (const s of regions) {
    // Diff bytes.
    let prevZero = 1;
    for (let k = 0; k < s.diffLen; ) {
      pred.unit(readOld, s.oldStart + k, s.newStart + k, s.diffLen - k);
      const n = pred.unitLen;
      let word = 0;
      for (let j = 0; j < n; j++) {
        const q = s.newStart + k + j;
        const byte = nw[q]!;
        word |= byte << (8 * j);
        const res = (byte - ((pred.predicted >>> (8 * j)) & 0xff)) & 0xff;
        const kind = pred.unitKind === KIND_PLAIN ? 0 : pred.unitKind + j;
        rc.bit(probs, P.resZero + kind * 2 + prevZero, res !== 0 ? 1 : 0);
        if (res !== 0) encodeByte(rc, probs, P.resByte + (kind > 0 ? 256 : 0), res);
        prevZero = res === 0 ? 1 : 0;
      }
      if (n === 4 && pred.unitKind >= 5) pred.learn(word >>> 0);
      else if (n === 4 && pred.unitKind === KIND_BRANCH) pred.learnBranch(word >>> 0);
      k += n;
    }
    // Extra bytes, LZ over the new image written so far (and, in a delta, over the old image).
    const end = s.newStart + s.diffLen + s.extraLen;
    let shift = s.newStart - s.oldStart;
    for (let p = s.newStart + s.diffLen; p < end; ) {
      mf.insertUpTo(p);
      const maxLen = Math.min(MATCH_MAX, end - p);
      let repLen = 0;
      if (rep0 > 0 && rep0 <= p) while (repLen < maxLen && nw[p - rep0 + repLen] === nw[p + repLen]) repLen++;
      let [bestLen, bestDist] = mf.best(p, maxLen);
      if (bestLen === 3 && bestDist > 4096) bestLen = 0;
      let kind: 'lit' | 'rep' | 'match' | 'old' = 'lit';
      if (repLen >= MATCH_MIN && repLen + 1 >= bestLen) kind = 'rep';
      else if (bestLen >= 3) kind = 'match';
      const [oldLen, oldPos] = of ? of.best(nw, p, maxLen) : [0, 0];
      if (oldLen >= 4 && oldLen >= Math.max(bestLen, kind === 'rep' ? repLen : 0) + 1) kind = 'old';
      if (kind === 'match' && p + 1 < end) {
        mf.insertUpTo(p + 1);
        const [l1] = mf.best(p + 1, Math.min(MATCH_MAX, end - p - 1));
        if (l1 > bestLen + 1) kind = 'lit';
      }
      const ctx = P.isMatch + state * 4 + (p & 3);
      if (kind === 'lit') {
        rc.bit(probs, ctx, 0);
        encodeByte(rc, probs, litBase(p, p > 0 ? nw[p - 1]! : 0), nw[p]!);
        state = 0;
        p++;
        continue;
      }
      rc.bit(probs, ctx, 1);
      if (kind === 'old') {
        rc.bit(probs, P.isRep + state, 0);
        rc.bit(probs, P.isOld + state, 1);
        encodeNumber(rc, probs, P.oldLen, oldLen - MATCH_MIN);
        const off = oldPos - (p - shift);
        rc.bit(probs, P.oldSign, off < 0 ? 1 : 0);
        encodeNumber(rc, probs, P.oldOff, Math.abs(off));
        shift = p + oldLen - (oldPos + oldLen);
        p += oldLen;
        state = 1;
        continue;
      }
      if (kind === 'rep') {
        rc.bit(probs, P.isRep + state, 1);
        encodeNumber(rc, probs, P.repLen, repLen - MATCH_MIN);
        p += repLen;
      } else {
        rc.bit(probs, P.isRep + state, 0);
        if (of) rc.bit(probs, P.isOld + state, 0);
        encodeNumber(rc, probs, P.len, bestLen - MATCH_MIN);
        encodeNumber(rc, probs, P.dist, bestDist - 1);
        rep0 = bestDist;
        p += bestLen;
      }
      state = 1;
    }
  }
  const body = rc.finish();
  const out = new Uint8Array(LFD_PREFIX_SIZE + body.length);
  const view = new DataView(out.buffer);
  out[0] = LFD_FORMAT_ID;
  view.setUint32(1, nw.length, true);
  view.setUint32(5, loadAddress, true);
  view.setUint16(9, segs.length, true);
  out.set(body, LFD_PREFIX_SIZE);
  return out;
}

/** A full image, compressed (an LFD1 stream with no segments). */
export function compressImage(firmware: Uint8Array, opts: Pick<DeltaEncodeOptions, 'loadAddress'> = {}): Uint8Array {
  return encodeDelta(new Uint8Array(0), firmware, opts);
}
