/**
 * TS005 remote multicast setup, device side (port 200): multicast groups with keys the device derives itself,
 * their frame-counter windows, and the Class C / Class B session windows timed by the device's own clock.
 * Incoming multicast frames are accepted here (group, FCnt window, session window, MIC) before their payload
 * goes to the package on its port.
 */
import type { AnyCommand } from '../codec/frame.js';
import type { McClassBSessionReq, McClassCSessionReq } from '../codec/ts005.js';
import { decryptMcKey, mcKEKey, mcRootKey, mcSessionKeys } from '../codec/keys.js';
import type { MulticastFrame } from './radio-frames.js';
import type { ClockSync } from './clock-sync.js';
import type { HandlerContext } from './handler-context.js';
import { decodeMulticast, type DecodedMulticast, type McKeys } from './mc-frame-cache.js';
import type { DeviceProfile } from './profiles.js';

export const TS005_PACKAGE_ID = 2;
const NB_GROUPS = 4;
const U24_MAX = 0xffffff;

type SessionRequest = McClassCSessionReq | McClassBSessionReq;

export interface McSessionWindow {
  kind: 'C' | 'B';
  /** Window by the device's clock, device GPS ms. */
  startReadingMs: number;
  endReadingMs: number;
  sessionTime: number;
  dlFrequencyHz: number;
  dr: number;
}

export interface McGroup extends McKeys {
  mcGroupId: number;
  mcAddr: number;
  minMcFCnt: number;
  maxMcFCnt: number;
  lastFCnt: number;
  session: McSessionWindow | null;
  accepted: number;
  dropped: { fCnt: number; window: number; mic: number };
}

export interface AcceptedMulticast extends DecodedMulticast {
  mcGroupId: number;
}

export class MulticastSetup {
  private readonly groups: (McGroup | undefined)[] = new Array(NB_GROUPS);
  private keKey: Uint8Array | null = null;

  constructor(
    private readonly profile: DeviceProfile,
    private readonly version: 1 | 2,
    private readonly rootKey: Uint8Array,
    private readonly lorawan: '1.0' | '1.1',
    private readonly clock: ClockSync,
  ) {}

  /** Defined groups, ascending McGroupID. */
  list(): McGroup[] {
    return this.groups.filter((g): g is McGroup => g !== undefined);
  }

  /** RAM state is lost at reboot. */
  reset(): void {
    this.groups.fill(undefined);
  }

  handle(cmd: AnyCommand, ctx: HandlerContext): void {
    switch (cmd.type) {
      case 'PackageVersionReq':
        ctx.reply(() => ({ type: 'PackageVersionAns', packageIdentifier: TS005_PACKAGE_ID, packageVersion: this.version }));
        return;
      case 'McGroupStatusReq':
        this.status(cmd.reqGroupMask, ctx);
        return;
      case 'McGroupSetupReq':
        this.setup(cmd, ctx);
        return;
      case 'McGroupDeleteReq': {
        const undefinedGroup = this.groups[cmd.mcGroupId] === undefined;
        this.groups[cmd.mcGroupId] = undefined;
        ctx.reply(() => ({ type: 'McGroupDeleteAns', mcGroupId: cmd.mcGroupId, mcGroupUndefined: undefinedGroup }));
        return;
      }
      case 'McClassCSessionReq':
        this.session('C', 2 ** cmd.timeOut, cmd, ctx);
        return;
      case 'McClassBSessionReq': {
        const asC = this.profile.classBAsClassC;
        const seconds = asC ? 2 ** cmd.timeOut : 128 * 2 ** cmd.timeOut;
        this.session(asC ? 'C' : 'B', seconds, cmd, ctx);
        return;
      }
      default:
        return;
    }
  }

  /**
   * Accepts a multicast frame heard at `nowMs` or returns null: unknown McAddr, FCnt outside [min, max] or not
   * increasing, no open session window by the device's clock, or a MIC that fails with the device's keys.
   */
  accept(frame: MulticastFrame, nowMs: number): AcceptedMulticast | null {
    const g = this.groups.find((x) => x !== undefined && x.mcAddr === frame.mcAddr);
    if (!g) return null;
    if (frame.fCnt < g.minMcFCnt || frame.fCnt > g.maxMcFCnt || frame.fCnt <= g.lastFCnt) {
      g.dropped.fCnt++;
      return null;
    }
    const reading = this.clock.clock.read(nowMs);
    if (!g.session || reading < g.session.startReadingMs || reading >= g.session.endReadingMs) {
      g.dropped.window++;
      return null;
    }
    const decoded = decodeMulticast(frame, g);
    if (!decoded) {
      g.dropped.mic++;
      return null;
    }
    g.lastFCnt = frame.fCnt;
    g.accepted++;
    return { fPort: decoded.fPort, payload: decoded.payload, mcGroupId: g.mcGroupId };
  }

  private status(reqGroupMask: number, ctx: HandlerContext): void {
    const limit = this.profile.groupStatus === 'unimplemented' ? NB_GROUPS : this.profile.groupStatus.maxGroups;
    const defined = this.list();
    const listed = defined.filter((g) => (reqGroupMask >> g.mcGroupId) & 1).slice(0, limit);
    let ansGroupMask = 0;
    for (const g of listed) ansGroupMask |= 1 << g.mcGroupId;
    ctx.reply(() => ({
      type: 'McGroupStatusAns',
      nbTotalGroups: defined.length,
      ansGroupMask,
      groups: listed.map((g) => ({ mcGroupId: g.mcGroupId, mcAddr: g.mcAddr })),
    }));
  }

  private setup(
    cmd: { mcGroupId: number; mcAddr: number; mcKeyEncrypted: Uint8Array; minMcFCnt: number; maxMcFCnt: number },
    ctx: HandlerContext,
  ): void {
    const id = cmd.mcGroupId;
    const idError = id >= NB_GROUPS;
    // LBM acknowledges an invalid counter range or McAddr 0 but does not apply it.
    const ignored = this.profile.ignoresInvalidGroupSetup && (cmd.minMcFCnt > cmd.maxMcFCnt || cmd.mcAddr === 0);
    if (!idError && !ignored) {
      this.keKey ??= mcKEKey(mcRootKey(this.rootKey, this.lorawan));
      const mcKey = decryptMcKey(this.keKey, cmd.mcKeyEncrypted);
      const { mcAppSKey, mcNwkSKey } = mcSessionKeys(mcKey, cmd.mcAddr);
      this.groups[id] = {
        mcGroupId: id,
        mcAddr: cmd.mcAddr,
        keyId: Buffer.from(mcAppSKey).toString('hex') + Buffer.from(mcNwkSKey).toString('hex'),
        mcAppSKey,
        mcNwkSKey,
        minMcFCnt: cmd.minMcFCnt,
        maxMcFCnt: cmd.maxMcFCnt,
        lastFCnt: -1,
        session: null,
        accepted: 0,
        dropped: { fCnt: 0, window: 0, mic: 0 },
      };
    }
    ctx.reply(() => ({ type: 'McGroupSetupAns', mcGroupId: id & 0x03, idError }));
  }

  private session(kind: 'C' | 'B', durationS: number, req: SessionRequest, ctx: HandlerContext): void {
    const { mcGroupId, sessionTime } = req;
    const g = this.groups[mcGroupId];
    // Without any time source LBM accepts every start, opens the window at once and reports TimeToStart 0xFFFFFF.
    const noTime = !this.clock.clock.synced && this.profile.timeToStart === 'saturate';
    const past = !noTime && sessionTime <= this.clock.gpsNow(ctx.nowMs);
    const mcGroupUndefined = !g || (past && this.profile.pastSessionAsUndefined);
    const startMissed = !mcGroupUndefined && past;
    const type = req.type === 'McClassBSessionReq' ? 'McClassBSessionAns' : 'McClassCSessionAns';
    const base = { type, mcGroupId, drError: false, freqError: false, mcGroupUndefined, startMissed } as const;
    if (!g || mcGroupUndefined || startMissed) {
      ctx.reply(() => base);
      return;
    }
    const startReadingMs = noTime ? this.clock.clock.read(ctx.nowMs) : sessionTime * 1000;
    g.session = { kind, startReadingMs, endReadingMs: startReadingMs + durationS * 1000, sessionTime, dlFrequencyHz: req.dlFrequencyHz, dr: req.dr };
    ctx.reply((txMs) => ({ ...base, timeToStart: this.timeToStart(sessionTime, txMs) }));
  }

  private timeToStart(sessionTime: number, txMs: number): number {
    const delta = sessionTime - this.clock.gpsNow(txMs);
    if (this.profile.timeToStart === 'truncate') return delta & U24_MAX;
    if (!this.clock.clock.synced) return U24_MAX;
    return Math.min(U24_MAX, Math.max(0, delta));
  }
}
