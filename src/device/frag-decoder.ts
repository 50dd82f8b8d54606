// Device-side TS004 fragment decoder (TS004-2.0.0 §5; docs/protocol.md §4), written to be ported to C: every buffer is allocated
// once in the constructor from the limits. Incremental GF(2) elimination over the lost uncoded fragments that
// completes on exactly the fragment at which the received set first reaches full rank, in any arrival order.
import { createHash } from 'node:crypto';
import { crc32 } from '../codec/crc32.js';
import { CodecError } from '../codec/errors.js';
import { decodeDataFragment } from '../codec/data-fragment.js';
import { MAX_N, parityRowInto, rowWords, type FecRule } from '../codec/fec-row.js';
import { PivotMatrix } from './frag-matrix.js';

export interface FragDecoderLimits {
  maxNbFrag: number;
  maxFragSize: number;
  maxLost: number;
}
export interface FragSessionParams {
  fragIndex: number;
  nbFrag: number;
  fragSize: number;
  padding: number;
  rule: FecRule;
}
export type FragDecoderStatus = 'idle' | 'receiving' | 'done' | 'memoryError';
export type FragDecoderErrorCode = 'WRONG_SIZE' | 'N_OUT_OF_RANGE' | 'WRONG_INDEX' | 'NO_SESSION' | 'PARAMS' | 'NOT_DONE' | 'BAD_COMMAND';

export class FragDecoderError extends Error {
  override readonly name = 'FragDecoderError';
  constructor(
    readonly code: FragDecoderErrorCode,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export interface FragDecoderStats {
  /** Fragments accepted (uncoded and coded), duplicates excluded. */
  received: number;
  /** N of the last fragment accepted (0 before any). */
  lastN: number;
  /** Uncoded fragments currently known lost (declared lost from a gap and not received since). */
  lostUncoded: number;
  /** Lost uncoded fragments not yet solved: lostUncoded - rank. */
  missing: number;
  /** Independent equations held over the lost fragments. */
  rank: number;
  /** N of the fragment that completed the block, or null. */
  doneAtN: number | null;
  /** Fragments pushed while receiving, duplicates included, up to and including the completing one. */
  consumed: number;
  duplicates: number;
}

const CODED_SEEN_WORDS = (MAX_N + 1 + 31) >>> 5;
const stride4 = (fragSize: number): number => (fragSize + 3) & ~3;

function checkInt(code: FragDecoderErrorCode, field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new FragDecoderError(code, field, `must be an integer ${min}..${max}, got ${v}`);
}

export class FragDecoder {
  /** Every byte the decoder allocates for these limits. */
  static memoryBytes(limits: FragDecoderLimits): number {
    const { maxNbFrag: m, maxFragSize: f, maxLost: l } = limits;
    return m * stride4(f) + 2 * m + 2 * l + PivotMatrix.bytes(l) + 4 * rowWords(m) + 4 * ((l + 31) >>> 5) + stride4(f) + 4 * CODED_SEEN_WORDS;
  }

  readonly memoryBytes: number;
  /** Workspace and, once done, the block: row i (stride bytes) holds uncoded fragment i or a pivot's data. */
  private readonly file: Uint8Array;
  private readonly file32: Uint32Array;
  /** Per uncoded position: 0 = received (or not yet reached), c + 1 = lost in column c. */
  private readonly lossMap: Uint16Array;
  /** Per column: the uncoded position it stands for. */
  private readonly columnPos: Uint16Array;
  private readonly matrix: PivotMatrix;
  private readonly line: Uint32Array; // parity row of the coded fragment being processed
  private readonly vec: Uint32Array; // that row restricted to the lost columns
  private readonly acc: Uint8Array; // its payload, reduced
  private readonly acc32: Uint32Array;
  private readonly codedSeen: Uint32Array; // bit N: coded fragment N already received

  private session: FragSessionParams | null = null;
  private stride = 0;
  private strideWords = 0;
  private reached = 0; // positions 0..reached-1 are received or declared lost
  private lost = 0; // of those, declared lost and not received since
  private state: FragDecoderStatus = 'idle';
  private counts = { received: 0, lastN: 0, consumed: 0, duplicates: 0, doneAtN: null as number | null };

  constructor(readonly limits: FragDecoderLimits) {
    checkInt('PARAMS', 'maxNbFrag', limits.maxNbFrag, 1, MAX_N);
    checkInt('PARAMS', 'maxFragSize', limits.maxFragSize, 1, 255);
    checkInt('PARAMS', 'maxLost', limits.maxLost, 0, limits.maxNbFrag);
    const { maxNbFrag: m, maxFragSize: f, maxLost: l } = limits;
    this.file = new Uint8Array(m * stride4(f));
    this.file32 = new Uint32Array(this.file.buffer);
    this.lossMap = new Uint16Array(m);
    this.columnPos = new Uint16Array(l);
    this.matrix = new PivotMatrix(l);
    this.line = new Uint32Array(rowWords(m));
    this.vec = new Uint32Array(this.matrix.words);
    this.acc = new Uint8Array(stride4(f));
    this.acc32 = new Uint32Array(this.acc.buffer);
    this.codedSeen = new Uint32Array(CODED_SEEN_WORDS);
    this.memoryBytes = FragDecoder.memoryBytes(limits);
  }

  get status(): FragDecoderStatus {
    return this.state;
  }

  get stats(): FragDecoderStats {
    const { lost, matrix } = this;
    return { ...this.counts, lostUncoded: lost, rank: matrix.rank, missing: lost - matrix.rank };
  }

  /** Starts a session; a new begin discards the previous one. PARAMS if it does not fit the limits. */
  begin(p: FragSessionParams): void {
    checkInt('PARAMS', 'fragIndex', p.fragIndex, 0, 3);
    checkInt('PARAMS', 'nbFrag', p.nbFrag, 1, this.limits.maxNbFrag);
    checkInt('PARAMS', 'fragSize', p.fragSize, 1, this.limits.maxFragSize);
    checkInt('PARAMS', 'padding', p.padding, 0, p.fragSize - 1);
    if (p.rule !== 1 && p.rule !== 2) throw new FragDecoderError('PARAMS', 'rule', `must be 1 or 2, got ${String(p.rule)}`);
    this.session = { ...p };
    this.stride = stride4(p.fragSize);
    this.strideWords = this.stride >>> 2;
    this.reached = 0;
    this.lost = 0;
    this.lossMap.fill(0);
    this.matrix.reset();
    this.codedSeen.fill(0);
    this.counts = { received: 0, lastN: 0, consumed: 0, duplicates: 0, doneAtN: null };
    this.state = 'receiving';
  }

  /** The whole DataFragment command, CID included; its FragIndex must be the session's. */
  pushDataFragment(cmd: Uint8Array): FragDecoderStatus {
    const s = this.requireSession();
    let f: ReturnType<typeof decodeDataFragment>;
    try {
      f = decodeDataFragment(cmd);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      const code = e.field === 'n' ? 'N_OUT_OF_RANGE' : e.field === 'payload' ? 'WRONG_SIZE' : 'BAD_COMMAND';
      throw new FragDecoderError(code, `DataFragment.${e.field}`, e.reason);
    }
    if (f.fragIndex !== s.fragIndex) {
      throw new FragDecoderError('WRONG_INDEX', 'DataFragment.fragIndex', `is ${f.fragIndex}, the session is ${s.fragIndex}`);
    }
    return this.push(f.n, f.payload);
  }

  /** Feeds fragment N. Bad input throws a FragDecoderError and leaves the state as it was. */
  push(n: number, payload: Uint8Array): FragDecoderStatus {
    const s = this.requireSession();
    checkInt('N_OUT_OF_RANGE', 'n', n, 1, MAX_N);
    if (payload.length !== s.fragSize) {
      throw new FragDecoderError('WRONG_SIZE', 'payload', `must be ${s.fragSize} bytes (FragSize), got ${payload.length}`);
    }
    if (this.state !== 'receiving') return this.state; // finished or failed: ignored until the next begin
    this.counts.consumed++;
    const fresh = n <= s.nbFrag ? this.uncoded(n - 1, payload) : this.coded(n, payload);
    if (!fresh) {
      this.counts.duplicates++;
      return this.state;
    }
    this.counts.received++;
    this.counts.lastN = n;
    if (this.state === 'receiving' && this.reached === s.nbFrag && this.matrix.rank === this.lost) {
      this.solve();
      this.counts.doneAtN = n;
      this.state = 'done';
    }
    return this.state;
  }

  /** The unpadded data block. */
  block(): Uint8Array {
    const s = this.session;
    if (this.state !== 'done' || !s) throw new FragDecoderError('NOT_DONE', 'status', `is ${this.state}, not done`);
    return this.file.subarray(0, s.nbFrag * s.fragSize - s.padding);
  }

  /** Checks the block against the expected CRC-32 and/or SHA-256 (at least one). */
  verify(expected: { crc32?: number; sha256?: Uint8Array }): boolean {
    if (expected.crc32 === undefined && expected.sha256 === undefined) {
      throw new FragDecoderError('PARAMS', 'expected', 'give crc32 or sha256');
    }
    const data = this.block();
    if (expected.crc32 !== undefined && crc32(data) !== expected.crc32 >>> 0) return false;
    if (expected.sha256 !== undefined) {
      const digest = createHash('sha256').update(data).digest();
      if (digest.length !== expected.sha256.length || !digest.equals(expected.sha256)) return false;
    }
    return true;
  }

  private requireSession(): FragSessionParams {
    if (!this.session) throw new FragDecoderError('NO_SESSION', 'session', 'no session: call begin() first');
    return this.session;
  }

  /** Declares positions reached..upTo-1 lost; false (and memoryError) when the columns run out. */
  private reach(upTo: number): boolean {
    for (; this.reached < upTo; this.reached++) {
      const c = this.matrix.allocate();
      if (c < 0) {
        this.state = 'memoryError';
        return false;
      }
      this.lossMap[this.reached] = c + 1;
      this.columnPos[c] = this.reached;
      this.lost++;
    }
    return true;
  }

  /** Uncoded fragment at position i; false if it was already received. */
  private uncoded(i: number, payload: Uint8Array): boolean {
    if (i < this.reached) {
      const c = this.lossMap[i]! - 1;
      if (c < 0) return false;
      this.fold(i, c, payload);
      return true;
    }
    if (this.reach(i)) {
      this.file.set(payload, i * this.stride);
      this.reached = i + 1;
    }
    return true;
  }

  /** A lost fragment arrived late: its column becomes known and is removed from every stored row. */
  private fold(i: number, c: number, payload: Uint8Array): void {
    this.loadAcc(payload);
    // Rows p < c that use column c absorb its now known data.
    this.matrix.clearColumn(c, (p) => this.xor(this.file32, this.columnPos[p]! * this.strideWords, this.acc32, 0));
    const hadPivot = this.matrix.hasPivot(c);
    if (hadPivot) {
      this.matrix.take(c, this.vec);
      this.vec[c >>> 5]! &= ~(1 << (c & 31));
      this.xor(this.acc32, 0, this.file32, i * this.strideWords); // the pivot's equation without column c
    }
    this.matrix.release(c);
    this.lossMap[i] = 0;
    this.lost--;
    this.file.set(payload, i * this.stride);
    if (hadPivot) this.insert(c >>> 5);
  }

  /** Coded fragment N; false if already received. */
  private coded(n: number, payload: Uint8Array): boolean {
    const s = this.session!;
    if ((this.codedSeen[n >>> 5]! >>> (n & 31)) & 1) return false;
    this.codedSeen[n >>> 5]! |= 1 << (n & 31);
    if (!this.reach(s.nbFrag)) return true;
    parityRowInto(n - s.nbFrag, s.nbFrag, s.rule, this.line);
    this.loadAcc(payload);
    this.vec.fill(0);
    for (let w = 0, words = rowWords(s.nbFrag); w < words; w++) {
      let bits = this.line[w]!;
      while (bits !== 0) {
        const i = (w << 5) + 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const lost = this.lossMap[i]!;
        if (lost === 0) this.xor(this.acc32, 0, this.file32, i * this.strideWords);
        else this.vec[(lost - 1) >>> 5]! |= 1 << ((lost - 1) & 31);
      }
    }
    this.insert(0);
    return true;
  }

  /** Reduces (vec, acc) by the stored pivots and stores it if anything is left. */
  private insert(fromWord: number): void {
    for (;;) {
      const p = this.matrix.lowest(this.vec, fromWord);
      if (p < 0) return; // no new information
      if (!this.matrix.hasPivot(p)) {
        this.matrix.store(p, this.vec);
        this.file32.set(this.acc32.subarray(0, this.strideWords), this.columnPos[p]! * this.strideWords);
        return;
      }
      this.matrix.reduce(p, this.vec);
      this.xor(this.acc32, 0, this.file32, this.columnPos[p]! * this.strideWords);
      fromWord = p >>> 5;
    }
  }

  /** Full rank: back-substitute from the highest column down, then close the gaps between rows. */
  private solve(): void {
    const s = this.session!;
    const sw = this.strideWords;
    this.matrix.forEachUsedDescending((p) => {
      const at = this.columnPos[p]! * sw;
      this.matrix.forEachAbove(p, (c) => this.xor(this.file32, at, this.file32, this.columnPos[c]! * sw));
    });
    for (let i = 1; i < s.nbFrag; i++) this.file.copyWithin(i * s.fragSize, i * this.stride, i * this.stride + s.fragSize);
  }

  private loadAcc(payload: Uint8Array): void {
    this.acc.fill(0);
    this.acc.set(payload);
  }

  /** One row of data, word-wise: dst[dstAt..] ^= src[srcAt..]. */
  private xor(dst: Uint32Array, dstAt: number, src: Uint32Array, srcAt: number): void {
    for (let w = 0; w < this.strideWords; w++) dst[dstAt + w]! ^= src[srcAt + w]!;
  }
}
