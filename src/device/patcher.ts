/**
 * Device-side LFD1 patcher and decompressor (docs/delta.md), written to port to C: every table is allocated in the
 * constructor from the build-time limits (`ramBytes` reports the total), nothing is allocated while applying, the
 * payload is read once in order, the old image is read from its slot, the new image is written in order and read
 * back (LZ matches) through the caller's I/O, and every failure is a PatchError with a code.
 */
import {
  decodeByte,
  decodeNumber,
  KIND_BRANCH,
  KIND_PLAIN,
  LFD_FORMAT_ID,
  LFD_PREFIX_SIZE,
  litBase,
  MATCH_MIN,
  P,
  resetProbs,
} from '../codec/delta-format.js';
import { Predictor, SegmentTable } from '../codec/delta-model.js';
import { RangeDecoder, RangeInputEnded } from '../codec/range-coder.js';

export type PatchErrorCode = 'truncated' | 'corrupt' | 'limit' | 'format';

export class PatchError extends Error {
  override readonly name = 'PatchError';
  constructor(
    readonly code: PatchErrorCode,
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export interface PatchLimits {
  /** Segment-table capacity (0 for a decompressor only). */
  maxSegments: number;
  /** Largest image the output slot holds. */
  maxOutput: number;
}

/** Where the patcher reads and writes; positions are offsets in the firmware (not the slot). */
export interface PatchIo {
  /** Length of the running (old) firmware; 0 when decompressing. */
  oldLength: number;
  readOld(pos: number): number;
  /** Appends the next byte of the new firmware. */
  write(byte: number): void;
  /** Reads back a byte already written (pos < bytes written). */
  readNew(pos: number): number;
}

const EMPTY = new Uint8Array(0);

/** Bytes of decoder state besides the tables: range decoder, cursors, counters (a C port's struct fields). */
const FIXED_STATE_BYTES = 64;

export class Patcher {
  private readonly probs = new Uint16Array(P.total);
  private readonly segments: SegmentTable;
  private readonly predictor: Predictor;
  private readonly rc = new RangeDecoder();
  private input: Uint8Array = EMPTY;
  private at = 0;
  private readonly source = (): number => (this.at < this.input.length ? this.input[this.at++]! : -1);

  constructor(readonly limits: PatchLimits) {
    if (!Number.isInteger(limits.maxOutput) || limits.maxOutput < 0) throw new RangeError(`maxOutput: must be a non-negative integer, got ${limits.maxOutput}`);
    this.segments = new SegmentTable(limits.maxSegments);
    this.predictor = new Predictor(this.segments, 0, 0);
  }

  /** RAM of this patcher: probability table, segment table, predictor cache, fixed state. */
  get ramBytes(): number {
    return this.probs.byteLength + this.segments.ramBytes + Predictor.RAM_BYTES + FIXED_STATE_BYTES;
  }

  /** Applies `payload`; returns the length of the new firmware. Throws PatchError. */
  apply(payload: Uint8Array, io: PatchIo): number {
    try {
      return this.run(payload, io);
    } catch (err) {
      if (err instanceof RangeInputEnded) throw new PatchError('truncated', 'payload', `ends at byte ${payload.length} before the patch does`);
      throw err;
    } finally {
      this.input = EMPTY;
    }
  }

  private run(payload: Uint8Array, io: PatchIo): number {
    if (payload.length < LFD_PREFIX_SIZE + 5) throw new PatchError('truncated', 'payload', `${payload.length} bytes is shorter than the ${LFD_PREFIX_SIZE + 5}-byte minimum`);
    if (payload[0] !== LFD_FORMAT_ID) throw new PatchError('format', 'formatId', `unknown patch format ${payload[0]}`);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const newLength = view.getUint32(1, true);
    const loadAddress = view.getUint32(5, true);
    const segCount = view.getUint16(9, true);
    if (newLength > this.limits.maxOutput) throw new PatchError('limit', 'newLength', `${newLength} bytes exceed the ${this.limits.maxOutput}-byte slot`);
    if (segCount > this.segments.capacity) throw new PatchError('limit', 'segmentCount', `${segCount} segments exceed this patcher's ${this.segments.capacity}`);
    if (segCount > 0 && io.oldLength === 0) throw new PatchError('corrupt', 'segmentCount', 'a patch with segments needs a base image');
    if (payload[LFD_PREFIX_SIZE] !== 0) throw new PatchError('corrupt', 'rangeCoder', 'the coded stream must start with a zero byte');
    this.input = payload;
    this.at = LFD_PREFIX_SIZE;
    this.rc.init(this.source);
    resetProbs(this.probs);
    const segs = this.segments;
    segs.clear();
    this.predictor.reset(loadAddress, io.oldLength);
    const rc = this.rc;
    const probs = this.probs;

    let expectOld = 0;
    let newAt = 0;
    for (let i = 0; i < segCount; i++) {
      const diff = decodeNumber(rc, probs, P.segDiff);
      const extra = decodeNumber(rc, probs, P.segExtra);
      const neg = rc.bit(probs, P.seekSign);
      const mag = decodeNumber(rc, probs, P.segSeek);
      const oldStart = expectOld + (neg ? -mag : mag);
      if (oldStart < 0 || oldStart + diff > io.oldLength) throw new PatchError('corrupt', `segment[${i}]`, `old range ${oldStart}+${diff} is outside the ${io.oldLength}-byte base`);
      if (newAt + diff + extra > newLength) throw new PatchError('corrupt', `segment[${i}]`, `ends past the ${newLength}-byte image`);
      segs.push(oldStart, newAt, diff);
      newAt += diff + extra;
      expectOld = oldStart + diff;
    }
    if (segCount > 0 && newAt !== newLength) throw new PatchError('corrupt', 'segments', `cover ${newAt} of ${newLength} bytes`);

    const pred = this.predictor;
    const readOld = io.readOld;
    let p = 0;
    let state = 0;
    let rep0 = 0;
    let prev = 0;
    const regions = segCount === 0 ? 1 : segCount;
    for (let i = 0; i < regions; i++) {
      const oldStart = segCount ? segs.oldStart[i]! : 0;
      const diffLen = segCount ? segs.diffLen[i]! : 0;
      const end = segCount ? (i + 1 < segCount ? segs.newStart[i + 1]! : newLength) : newLength;
      const newStart = p;
      let prevZero = 1;
      for (let k = 0; k < diffLen; ) {
        pred.unit(readOld, oldStart + k, newStart + k, diffLen - k);
        const n = pred.unitLen;
        let word = 0;
        for (let j = 0; j < n; j++) {
          const kind = pred.unitKind === KIND_PLAIN ? 0 : pred.unitKind + j;
          let res = 0;
          if (rc.bit(probs, P.resZero + kind * 2 + prevZero)) res = decodeByte(rc, probs, P.resByte + (kind > 0 ? 256 : 0));
          const byte = (((pred.predicted >>> (8 * j)) & 0xff) + res) & 0xff;
          io.write(byte);
          prev = byte;
          word |= byte << (8 * j);
          prevZero = res === 0 ? 1 : 0;
        }
        if (n === 4 && pred.unitKind >= 5) pred.learn(word >>> 0);
        else if (n === 4 && pred.unitKind === KIND_BRANCH) pred.learnBranch(word >>> 0);
        k += n;
        p += n;
      }
      let shift = newStart - oldStart;
      while (p < end) {
        if (!rc.bit(probs, P.isMatch + state * 4 + (p & 3))) {
          prev = decodeByte(rc, probs, litBase(p, prev));
          io.write(prev);
          p++;
          state = 0;
          continue;
        }
        let len: number;
        const isRep = rc.bit(probs, P.isRep + state);
        if (!isRep && segCount > 0 && rc.bit(probs, P.isOld + state)) {
          len = decodeNumber(rc, probs, P.oldLen) + MATCH_MIN;
          const neg = rc.bit(probs, P.oldSign);
          const mag = decodeNumber(rc, probs, P.oldOff);
          const from = p - shift + (neg ? -mag : mag);
          if (from < 0 || from + len > io.oldLength) throw new PatchError('corrupt', 'match', `old copy ${from}+${len} at byte ${p} is outside the ${io.oldLength}-byte base`);
          if (len > end - p) throw new PatchError('corrupt', 'match', `length ${len} at byte ${p} runs past its region (ends at ${end})`);
          shift = p - from;
          for (let j = 0; j < len; j++, p++) {
            prev = readOld(from + j);
            io.write(prev);
          }
          state = 1;
          continue;
        }
        if (isRep) {
          len = decodeNumber(rc, probs, P.repLen) + MATCH_MIN;
          if (rep0 === 0) throw new PatchError('corrupt', 'match', `repeat match at byte ${p} before any match`);
        } else {
          len = decodeNumber(rc, probs, P.len) + MATCH_MIN;
          rep0 = decodeNumber(rc, probs, P.dist) + 1;
        }
        if (rep0 > p) throw new PatchError('corrupt', 'match', `distance ${rep0} at byte ${p} reaches before the image`);
        if (len > end - p) throw new PatchError('corrupt', 'match', `length ${len} at byte ${p} runs past its region (ends at ${end})`);
        for (let j = 0; j < len; j++, p++) {
          prev = io.readNew(p - rep0);
          io.write(prev);
        }
        state = 1;
      }
    }
    return newLength;
  }
}

/** A PatchIo over byte arrays (tests, the CLI): writes into `out`, which must hold limits.maxOutput bytes. */
export function memoryIo(old: Uint8Array, out: Uint8Array): PatchIo & { written: () => number } {
  let n = 0;
  return {
    oldLength: old.length,
    readOld: (pos) => old[pos]!,
    write: (byte) => {
      if (n >= out.length) throw new PatchError('limit', 'output', `write past the ${out.length}-byte output`);
      out[n++] = byte;
    },
    readNew: (pos) => out[pos]!,
    written: () => n,
  };
}
