/**
 * TS004 fragmented data block transport, device side (port 201). One fragment decoder serves every FragIndex, as in
 * LoRaMac-node and LBM: a new setup replaces the running session. The decoder is allocated at the first accepted
 * setup (memory fixed by the device's limits) and released when the session ends or the device reboots.
 */
import type { AnyCommand } from '../codec/frame.js';
import type { FragSessionSetupReq } from '../codec/ts004.js';
import { dataBlockIntKey } from '../codec/keys.js';
import { dataBlockMic } from '../codec/mic.js';
import { FragDecoder, FragDecoderError, type FragDecoderLimits, type FragDecoderStats } from './frag-decoder.js';
import type { HandlerContext } from './handler-context.js';
import type { DeviceProfile } from './profiles.js';
import type { Rng } from './rng.js';

export const TS004_PACKAGE_ID = 3;
const BLOCK_RECEIVED_TAG = 'FragDataBlockReceivedReq';
/** Highest N a DataFragment can carry (14 bits). */
const MAX_N = 0x3fff;

interface SetupParams {
  fragIndex: number;
  mcGroupBitMask: number;
  nbFrag: number;
  fragSize: number;
  blockAckDelay: number;
  ackReception: boolean;
  padding: number;
  descriptor: number;
  sessionCnt?: number;
  mic?: Uint8Array;
}

export type FragStats = FragDecoderStats;

export interface FragSessionState {
  params: SetupParams;
  /** FragSessionDeleteReq seen; reassembly still completes (both stacks do this). */
  deleted: boolean;
  /** At least one DataFragment arrived. */
  fed: boolean;
  status: 'receiving' | 'done' | 'memoryError';
  micError: boolean;
  /** Bitset of the N received (bit N), grown as fragments arrive. */
  receivedN: Uint8Array;
  /** Decoder counters, frozen when the decoder is released (read live ones through FragSessions.stats()). */
  stats: FragStats;
}

const ZERO_STATS: FragStats = Object.freeze({
  received: 0,
  lastN: 0,
  lostUncoded: 0,
  missing: 0,
  rank: 0,
  doneAtN: null,
  consumed: 0,
  duplicates: 0,
}) as FragStats;

/** What the device does with a reassembled block (image check, received slot). */
export type BlockSink = (block: Uint8Array, nowMs: number) => void;

export class FragSessions {
  private session: FragSessionState | null = null;
  private decoder: FragDecoder | null = null;
  private readonly sessionCntPrev = [-1, -1, -1, -1];
  private intKey: Uint8Array | null = null;

  constructor(
    private readonly profile: DeviceProfile,
    private readonly version: 1 | 2,
    private readonly limits: FragDecoderLimits,
    private readonly rootKey: Uint8Array,
    private readonly rng: Rng,
    private readonly onBlock: BlockSink,
  ) {}

  get current(): Readonly<FragSessionState> | null {
    return this.session;
  }

  /** Counters of the current session: live from the decoder while it runs, frozen afterwards. */
  stats(): FragStats {
    const s = this.session;
    if (!s) return ZERO_STATS;
    return s.status === 'receiving' && this.decoder ? this.decoder.stats : s.stats;
  }

  /** Bytes held by the fragment decoder right now (0 when no session is running). */
  get decoderBytes(): number {
    return this.decoder?.memoryBytes ?? 0;
  }

  /** RAM state is lost at reboot; LBM also forgets the SessionCnt replay state. */
  reset(): void {
    this.session = null;
    this.decoder = null;
    if (this.profile.sessionCntInRam) this.sessionCntPrev.fill(-1);
  }

  handle(cmd: AnyCommand, ctx: HandlerContext): void {
    const multicast = ctx.mcGroupId !== null;
    switch (cmd.type) {
      case 'PackageVersionReq':
        if (!multicast) ctx.reply(() => ({ type: 'PackageVersionAns', packageIdentifier: TS004_PACKAGE_ID, packageVersion: this.version }));
        return;
      case 'FragSessionSetupReq':
        if (!multicast) this.setup(cmd, ctx);
        return;
      case 'FragSessionDeleteReq':
        if (!multicast) this.remove(cmd.fragIndex, ctx);
        return;
      case 'FragSessionStatusReq':
        this.status(cmd.fragIndex, cmd.participants, ctx);
        return;
      case 'FragDataBlockReceivedAns':
        if (this.session?.params.fragIndex === cmd.fragIndex) ctx.cancel(BLOCK_RECEIVED_TAG);
        return;
      case 'DataFragment':
        this.fragment(cmd.fragIndex, cmd.n, cmd.payload, ctx);
        return;
      default:
        return;
    }
  }

  private setup(cmd: FragSessionSetupReq, ctx: HandlerContext): void {
    const fragAlgoUnsupported = cmd.fragAlgo !== 0;
    const sessionCntReplay = this.version === 2 && (cmd.sessionCnt ?? 0) <= this.sessionCntPrev[cmd.fragIndex]!;
    let notEnoughMemory = false;
    if (!fragAlgoUnsupported && !sessionCntReplay) {
      this.decoder ??= new FragDecoder(this.limits);
      try {
        this.decoder.begin({ fragIndex: cmd.fragIndex, nbFrag: cmd.nbFrag, fragSize: cmd.fragSize, padding: cmd.padding, rule: this.version });
      } catch (e) {
        if (!(e instanceof FragDecoderError)) throw e;
        notEnoughMemory = true;
      }
    }
    if (!fragAlgoUnsupported && !sessionCntReplay && !notEnoughMemory) {
      const { fragIndex, mcGroupBitMask, nbFrag, fragSize, blockAckDelay, padding, descriptor, sessionCnt, mic } = cmd;
      this.session = {
        params: { fragIndex, mcGroupBitMask, nbFrag, fragSize, blockAckDelay, ackReception: cmd.ackReception ?? false, padding, descriptor, sessionCnt, mic },
        deleted: false,
        fed: false,
        status: 'receiving',
        micError: false,
        receivedN: new Uint8Array(Math.ceil((nbFrag + 1) / 8)),
        stats: { ...ZERO_STATS },
      };
    } else if (this.session?.status !== 'receiving') {
      this.decoder = null; // nothing is being reassembled: do not keep a decoder allocated for a refused setup
    }
    const ans = { type: 'FragSessionSetupAns', fragIndex: cmd.fragIndex, fragAlgoUnsupported, notEnoughMemory, fragIndexUnsupported: false, wrongDescriptor: false };
    ctx.reply(() => (this.version === 2 ? { ...ans, sessionCntReplay } : ans) as AnyCommand);
  }

  private remove(fragIndex: number, ctx: HandlerContext): void {
    const s = this.session;
    const exists = s !== null && !s.deleted && s.params.fragIndex === fragIndex;
    if (exists) s.deleted = true;
    ctx.reply(() => ({ type: 'FragSessionDeleteAns', fragIndex, sessionDoesNotExist: !exists }));
  }

  private fragment(fragIndex: number, n: number, payload: Uint8Array, ctx: HandlerContext): void {
    const s = this.session;
    const d = this.decoder;
    if (!s || !d || s.status !== 'receiving' || s.params.fragIndex !== fragIndex) return;
    const group = ctx.mcGroupId;
    if (group !== null && this.profile.enforcesGroupMask && ((s.params.mcGroupBitMask >> group) & 1) === 0) return;
    // A short payload would make the device read past its buffer; a long one is cut to FragSize.
    if (payload.length < s.params.fragSize || n < 1 || n > MAX_N) return;
    const data = payload.length === s.params.fragSize ? payload : payload.subarray(0, s.params.fragSize);
    if (!s.fed && s.params.sessionCnt !== undefined) this.sessionCntPrev[fragIndex] = s.params.sessionCnt;
    s.fed = true;
    markN(s, n);
    let status;
    try {
      status = d.push(n, data);
    } catch (e) {
      if (e instanceof FragDecoderError) return;
      throw e;
    }
    if (status === 'done') this.complete(s, d.block(), ctx);
    else if (status === 'memoryError') {
      s.stats = d.stats;
      if (this.profile.completesOnMemoryError) {
        // LoRaMac-node reports "finished" and hands over a block that was never solved.
        this.complete(s, new Uint8Array(s.params.nbFrag * s.params.fragSize - s.params.padding), ctx);
      } else {
        s.status = 'memoryError';
        this.decoder = null;
      }
    }
  }

  private complete(s: FragSessionState, block: Uint8Array, ctx: HandlerContext): void {
    if (this.decoder) s.stats = this.decoder.stats;
    s.status = 'done';
    this.decoder = null;
    const p = s.params;
    if (this.version === 2 && p.mic) {
      this.intKey ??= dataBlockIntKey(this.rootKey);
      const mic = dataBlockMic(this.intKey, { sessionCnt: p.sessionCnt ?? 0, fragIndex: p.fragIndex, descriptor: p.descriptor, data: block });
      s.micError = !equalBytes(mic, p.mic);
    }
    if (this.version === 2 && p.ackReception) {
      const windowMs = ackWindowMs(p.blockAckDelay);
      let delayMs = 0;
      for (let i = 0; i < this.profile.blockReceivedRepeats; i++) {
        delayMs += this.rng.int(windowMs);
        const micError = s.micError;
        ctx.reply(() => ({ type: 'FragDataBlockReceivedReq', fragIndex: p.fragIndex, micError }), { delayMs, tag: BLOCK_RECEIVED_TAG });
      }
    }
    if (!s.micError) this.onBlock(block, ctx.nowMs);
  }

  private status(fragIndex: number, participants: boolean, ctx: HandlerContext): void {
    const s = this.session;
    const exists = s !== null && !s.deleted && s.params.fragIndex === fragIndex;
    const delayMs = this.rng.int(ackWindowMs(s?.params.blockAckDelay ?? 0));
    if (this.version === 1) {
      const st = exists ? this.stats() : ZERO_STATS;
      const missingFrag = exists ? this.missingFrag(s) : 0;
      if (!participants && missingFrag === 0) return;
      const nbFragReceived = this.nbFragReceived(st);
      const notEnoughMatrixMemory = exists && s.status === 'memoryError';
      ctx.reply(() => ({ type: 'FragSessionStatusAns', fragIndex, nbFragReceived, missingFrag, notEnoughMatrixMemory }), { delayMs });
      return;
    }
    if (!exists) {
      if (!participants) return;
      // LBM: 4 bytes, a spurious MIC error bit and the shared decoder's counters; the spec: the 1-byte form.
      const long = this.profile.statusAnsAlwaysLong;
      const st = this.stats();
      const ans = long
        ? { fragIndex, nbFragReceived: this.nbFragReceived(st), missingFrag: st.missing & 0xff, micError: true }
        : { fragIndex: 0, nbFragReceived: 0, missingFrag: 0, shortForm: true };
      ctx.reply(() => ({ type: 'FragSessionStatusAns', sessionDoesNotExist: true, memoryError: false, micError: false, ...ans }), { delayMs });
      return;
    }
    const missingFrag = this.missingFrag(s);
    if (!participants && missingFrag === 0) return;
    // LBM answers all zeros (FragIndex 0) for a session set up but not fed yet.
    const unfed = !s.fed && this.profile.statusAnsAlwaysLong;
    const ans = {
      type: 'FragSessionStatusAns',
      fragIndex: unfed ? 0 : fragIndex,
      nbFragReceived: unfed ? 0 : this.nbFragReceived(this.stats()),
      missingFrag: unfed ? 0 : missingFrag,
      memoryError: s.status === 'memoryError',
      micError: s.micError && missingFrag === 0,
      sessionDoesNotExist: false,
    };
    ctx.reply(() => ans as AnyCommand, { delayMs });
  }

  private nbFragReceived(st: FragStats): number {
    const v = this.profile.nbFragReceived === 'lastN' ? st.lastN : st.lastN - st.lostUncoded;
    return Math.max(0, v) & 0x3fff;
  }

  private missingFrag(s: FragSessionState): number {
    const st = this.stats();
    if (this.profile.missingFrag === 'cumulative') return st.lostUncoded & 0xff;
    // LBM v4.8.0 leaves MissingFrag at 1 after a loss-free reception.
    if (s.status === 'done' && st.lostUncoded === 0) return 1;
    return Math.min(0xff, s.status === 'done' ? 0 : st.missing);
  }
}

/** Upper bound of the BlockAckDelay answer window, ms: 2^(b+4) s. */
export function ackWindowMs(blockAckDelay: number): number {
  return 2 ** (blockAckDelay + 4) * 1000;
}

function markN(s: FragSessionState, n: number): void {
  const byte = n >> 3;
  if (byte >= s.receivedN.length) {
    const grown = new Uint8Array(Math.min((MAX_N >> 3) + 1, Math.max(byte + 1, s.receivedN.length * 2)));
    grown.set(s.receivedN);
    s.receivedN = grown;
  }
  s.receivedN[byte]! |= 1 << (n & 7);
}

/** The N set in a received-N bitset, ascending. */
export function listN(bits: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if (b === 0) continue;
    for (let j = 0; j < 8; j++) if (b & (1 << j)) out.push(i * 8 + j);
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
