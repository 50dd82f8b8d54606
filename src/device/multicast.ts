/**
 * TS005 remote multicast setup, device side (port 200): multicast groups with keys the device derives itself,
 * their frame-counter windows, and the Class C / Class B session windows timed by the device's own clock.
 * Incoming multicast frames are accepted here (group, FCnt window, session window, MIC) before their payload
 * goes to the package on its port.
 */
import type { AnyCommand } from '../codec/frame.js';
import { decryptMcKey, mcKEKey, mcRootKey, mcSessionKeys } from '../codec/keys.js';
import type { MulticastFrame } from '../sim/types.js';
import type { ClockSync } from './clock-sync.js';
import type { HandlerContext } from './handler-context.js';
import { decodeMulticast, type DecodedMulticast, type McKeys } from './mc-frame-cache.js';
import type { DeviceProfile } from './profiles.js';

export const TS005_PACKAGE_ID = 2;
const NB_GROUPS = 4;
const U24_MAX = 0xffffff;

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
        this.session('C', cmd.mcGroupId, cmd.sessionTime, 2 ** cmd.timeOut, cmd.dlFrequencyHz, cmd.dr, ctx);
        return;
      case 'McClassBSessionReq': {
        // LoRaMac-node runs a Class B request as a Class C session with the Class C timeout rule.
        const lmn = this.profile.pastSessionAsUndefined;
        const seconds = lmn ? 2 ** cmd.timeOut : 128 * 2 ** cmd.timeOut;
        this.session(lmn ? 'C' : 'B', cmd.mcGroupId, cmd.sessionTime, seconds, cmd.dlFrequencyHz, cmd.dr, ctx, 'McClassBSessionAns');
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
    const ignored = !this.profile.pastSessionAsUndefined && (cmd.minMcFCnt > cmd.maxMcFCnt || cmd.mcAddr === 0);
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

  private session(
    kind: 'C' | 'B',
    mcGroupId: number,
    sessionTime: number,
    durationS: number,
    dlFrequencyHz: number,
    dr: number,
    ctx: HandlerContext,
    type: 'McClassCSessionAns' | 'McClassBSessionAns' = 'McClassCSessionAns',
  ): void {
    const g = this.groups[mcGroupId];
    const synced = this.clock.clock.synced;
    const nowGps = this.clock.gpsNow(ctx.nowMs);
    const past = synced || this.profile.pastSessionAsUndefined ? sessionTime <= nowGps : false;
    const mcGroupUndefined = !g || (past && this.profile.pastSessionAsUndefined);
    const startMissed = !mcGroupUndefined && past;
    const base = { type, mcGroupId, drError: false, freqError: false, mcGroupUndefined, startMissed };
    if (!g || mcGroupUndefined || startMissed) {
      ctx.reply(() => base as AnyCommand);
      return;
    }
    // Without a time source LBM opens the window at once and reports TimeToStart 0xFFFFFF.
    const startReadingMs = synced || this.profile.timeToStart === 'truncate' ? sessionTime * 1000 : this.clock.clock.read(ctx.nowMs);
    g.session = { kind, startReadingMs, endReadingMs: startReadingMs + durationS * 1000, sessionTime, dlFrequencyHz, dr };
    ctx.reply((txMs) => ({ ...base, timeToStart: this.timeToStart(sessionTime, txMs) }) as AnyCommand);
  }

  private timeToStart(sessionTime: number, txMs: number): number {
    const delta = sessionTime - this.clock.gpsNow(txMs);
    if (this.profile.timeToStart === 'truncate') return delta & U24_MAX;
    if (!this.clock.clock.synced) return U24_MAX;
    return Math.min(U24_MAX, Math.max(0, delta));
  }
}
