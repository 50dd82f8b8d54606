/**
 * One device's unicast conversation with the service, as a pure state machine:
 *   discover -> fragSetup -> ready -> session -> listening -> complete -> upgrade -> reboot -> verify -> cleanup -> final
 * `onAnswer` folds a decoded uplink into the state; `nextRequests` says which downlinks the device needs now.
 * Requests are plain command objects (src/codec); the worker encodes, enqueues and records them. No I/O here.
 */
import { u32ToVersion } from '../codec/image-header.js';
import type { AnyCommand, PackageName } from '../codec/frame.js';
import { unixMsToGps } from '../codec/gpstime.js';
import type { FragSessionSetupAns, FragSessionSetupReq } from '../codec/ts004.js';
import type { McClassBSessionAns, McClassCSessionAns } from '../codec/ts005.js';
import type { DeviceState, DeviceStatus, DevicePhase } from './model.js';
import { CUMULATIVE_COUNTERS, isCumulative } from './repair.js';

export type { PackageName };
export const PACKAGE_INDEX: Record<PackageName, number> = { ts003: 0, ts004: 1, ts005: 2, ts006: 3 };
const PACKAGE_ID: Record<number, PackageName> = { 1: 'ts003', 3: 'ts004', 2: 'ts005', 4: 'ts006' };

/** A command object as the codecs take it: the codec's typed union. */
export type Cmd = AnyCommand;

export interface Request {
  pkg: PackageName;
  commands: Cmd[];
}

/** What the machine needs to know about the campaign. */
export interface MachineContext {
  nowMs: number;
  /** FPort of each package in this campaign. */
  ports: Record<PackageName, number>;
  fragIndex: number;
  mcGroupId: number;
  mcAddr: number;
  groupType: 'C' | 'B';
  nbFrag: number;
  fragSize: number;
  padding: number;
  blockAckDelay: number;
  descriptor: number;
  dr: number;
  frequencyHz: number;
  classBPeriodicity: number;
  sessionTimeOut: number;
  /** GPS seconds at which the multicast session starts, once chosen, and at which it must end. */
  sessionTimeGps?: number;
  sessionEndGps?: number;
  /** How far ahead a re-sent session request starts (s): time for the request to reach the device. */
  sessionLeadS: number;
  /** Firmware version (u32) the image carries. */
  targetVersion: number;
  /** A device running a newer version than the image is updated anyway (otherwise it fails DowngradeRefused). */
  allowDowngrade?: boolean;
  /** Ask each device its running version at discovery (the spec gives `currentVersion` and no `allowDowngrade`). */
  checkVersions?: boolean;
  /** A delta campaign: discovery asks the device's running version (its base) with its TS006 version. */
  askFirmware?: boolean;
  /** The device's group sends the delta image for this base version (u32). */
  deltaBase?: number;
  rebootDelayS: number;
  /** How long to wait for an answer before re-sending (simulated ms). */
  answerTimeoutMs: number;
  retries: number;
  /** Highest fragment N sent when the current FragSessionStatusReq went out (recorded with each status answer). */
  statusSentN?: number;
  /** Per-device key material, fetched by the worker for devices that need it. */
  keys?: { mcKeyEncrypted: Uint8Array; fragSetupMic?: (sessionCnt: number) => Uint8Array } | undefined;
}

export interface Transition {
  state: DeviceState;
  /** Event to record when the status or phase changed. */
  event?: Record<string, unknown>;
  /** Fire-and-forget replies (e.g. FragDataBlockReceivedAns). */
  replies?: Request[];
}

function to(s: DeviceState, p: DevicePhase, now: number, extra: Partial<DeviceState> = {}): DeviceState {
  const { o: _o, ...rest } = s;
  return { ...rest, ...extra, p, t: now };
}

/** A final status for the device; it then only gets the clean-up requests. */
export function finish(s: DeviceState, status: DeviceStatus, reason: string, now: number): DeviceState {
  const { o: _o, ...rest } = s;
  return { ...rest, s: status, r: reason, p: status === 'Updated' || needsCleanup(s.p) ? 'cleanup' : 'final', t: now };
}

function needsCleanup(p: DevicePhase): boolean {
  return p !== 'discover' && p !== 'final' && p !== 'cleanup';
}

function setupError(a: FragSessionSetupAns): [DeviceStatus, string] | null {
  if (a.fragAlgoUnsupported) return ['FragAlgoUnsupported', 'FragSessionSetupAns: FragAlgo unsupported'];
  if (a.notEnoughMemory) return ['NotEnoughMemory', 'FragSessionSetupAns: not enough memory'];
  if (a.fragIndexUnsupported) return ['FragIndexUnsupported', 'FragSessionSetupAns: FragIndex unsupported'];
  if (a.wrongDescriptor) return ['WrongDescriptor', 'FragSessionSetupAns: wrong descriptor'];
  if (a.sessionCntReplay) return ['SessionCntReplay', 'FragSessionSetupAns: SessionCnt replay'];
  return null;
}

function sessionError(a: McClassCSessionAns | McClassBSessionAns): string | null {
  const flags = { mcGroupUndefined: a.mcGroupUndefined, freqError: a.freqError, drError: a.drError, startMissed: a.startMissed };
  const bits = Object.entries(flags).filter(([, v]) => v).map(([k]) => k);
  return bits.length ? `McClass${a.type === 'McClassBSessionAns' ? 'B' : 'C'}SessionAns: ${bits.join(', ')}` : null;
}

/** Folds one decoded uplink (all commands of one frame on one package port) into the device state. */
export function onAnswer(s0: DeviceState, pkg: PackageName, cmds: Cmd[], ctx: MachineContext, uplinkMs: number): Transition {
  let s: DeviceState = { ...s0 };
  const replies: Request[] = [];
  let event: Record<string, unknown> | undefined;
  const now = ctx.nowMs;
  // The outstanding request on this port is answered by any frame on the port that carries one of its answers.
  const answered = cmds.some((c) => !['AppTimeReq', 'FragDataBlockReceivedReq', 'FragSessionStatusAns'].includes(c.type));
  if (answered && s.o && s.o.port === ctx.ports[pkg]) {
    const { o: _o, ...rest } = s;
    s = rest;
  }
  for (const c of cmds) {
    switch (c.type) {
      case 'PackageVersionAns': {
        const name = PACKAGE_ID[c.packageIdentifier];
        if (!name) break;
        const v: [number, number, number, number] = s.v ? [...s.v] : [0, 0, 0, 0];
        v[PACKAGE_INDEX[name]] = c.packageVersion;
        s.v = v;
        break;
      }
      case 'McGroupSetupAns':
        if (c.idError) s = finish(s, 'McGroupError', 'McGroupSetupAns: IDerror', now);
        break;
      case 'FragSessionSetupAns': {
        const err = setupError(c);
        if (err) s = finish(s, err[0], err[1], now);
        else if (s.p === 'fragSetup') s = to(s, 'ready', now);
        break;
      }
      case 'McClassCSessionAns':
      case 'McClassBSessionAns': {
        if (s.p !== 'session') break;
        const err = sessionError(c);
        // The request came too late for the device's clock (StartMissed; LoRaMac-node says McGroupUndefined):
        // offer it a later start inside the same broadcast, twice at most.
        const late = (c.startMissed || c.mcGroupUndefined) && !c.drError && !c.freqError;
        if (err && late && (s.sr ?? 0) < 2 && ctx.sessionEndGps !== undefined) {
          s = to(s, 'ready', now, { sr: (s.sr ?? 0) + 1 });
          break;
        }
        if (err) {
          s = finish(s, 'SessionError', err, now);
          break;
        }
        // TimeToStart against the start that was sent and the uplink's own time gives the device's clock error
        // (TS005-2.0.0 §4.5; docs/protocol.md §9 item 5): the device opens its window `skew` seconds late (or early, if negative).
        // Offer it the session again with the start moved by its error, so the window opens on time whatever its
        // clock says (an unsynchronised LBM, TimeToStart 0xFFFFFF, opens its window at once and needs nothing).
        const tts = c.timeToStart ?? 0;
        const sentStart = sessionTimeOf(s0.o?.hex) ?? ctx.sessionTimeGps;
        const skew = sentStart === undefined || tts === 0xffffff ? 0 : tts - (sentStart - unixMsToGps(uplinkMs));
        if (Math.abs(skew - (s.sk ?? 0)) > MAX_CLOCK_SKEW_S && (s.sr ?? 0) < 2 && ctx.sessionEndGps !== undefined) {
          s = to(s, 'ready', now, { sr: (s.sr ?? 0) + 1, sk: skew, tts: [tts, uplinkMs] });
          event = { type: 'device', phase: 'ready', status: s.s, reason: `clock off by ${skew} s: session start moved` };
        } else s = to(s, 'listening', now, { tts: [tts, uplinkMs] });
        break;
      }
      case 'FragSessionStatusAns': {
        const flags =
          (c.notEnoughMatrixMemory || c.memoryError ? 1 : 0) | (c.micError ? 2 : 0) | (c.sessionDoesNotExist ? 4 : 0);
        const sentN = ctx.statusSentN ?? s.fs?.[3] ?? 0;
        // Bit 3: the device's counters have shown they are LoRaMac-node's (cumulative), in this answer or an earlier one.
        const cumulative = (s.fs?.[2] ?? 0) & CUMULATIVE_COUNTERS || isCumulative({ ts004: s.v?.[1] === 2 ? 2 : 1, nbFragReceived: c.nbFragReceived, missingFrag: c.missingFrag, sentN });
        if (s.fs) s.pf = [s.fs[0], s.fs[1], s.fs[3]];
        s.fs = [c.nbFragReceived, c.missingFrag, flags | (cumulative ? CUMULATIVE_COUNTERS : 0), sentN];
        if (s.p === 'listening' && flags & 1) s = finish(s, 'NotEnoughMemory', 'FragSessionStatusAns: decoder memory exhausted', now);
        else if (s.p === 'listening' && flags & 2 && c.missingFrag === 0) s = finish(s, 'MICError', 'FragSessionStatusAns: MIC error', now);
        break;
      }
      case 'FragDataBlockReceivedReq':
        replies.push({ pkg: 'ts004', commands: [{ type: 'FragDataBlockReceivedAns', fragIndex: c.fragIndex }] });
        if (s.p !== 'listening' && s.p !== 'session') break;
        if (c.micError) s = finish(s, 'MICError', 'FragDataBlockReceivedReq: MIC error, block discarded', now);
        else s = to(s, 'complete', now);
        break;
      case 'DevUpgradeImageAns': {
        if (s.p !== 'upgrade') break;
        const st = c.status;
        if (st === 3) {
          if (c.nextFirmwareVersion === ctx.targetVersion) s = to(s, 'reboot', now);
          else s = finish(s, 'ImageRejected', `DevUpgradeImageAns: valid image but version ${hex32(c.nextFirmwareVersion ?? 0)}`, now);
        } else if (st === 0) {
          // Nothing reassembled yet: back to listening; the campaign sizes its next repair by the upper bound.
          s = to(s, 'listening', now, { np: (s.np ?? 0) + 1 });
        } else {
          const wrong =
            ctx.deltaBase !== undefined
              ? `DevUpgradeImageAns: delta for base ${hex32(ctx.deltaBase)} refused (the running firmware's digest differs from the delta's base, or wrong hardware)`
              : 'DevUpgradeImageAns: wrong hardware';
          s = finish(s, 'ImageRejected', st === 1 ? 'DevUpgradeImageAns: image corrupt or bad signature' : wrong, now);
        }
        break;
      }
      case 'DevRebootCountdownAns':
      case 'DevRebootTimeAns': {
        if (s.p !== 'reboot') break;
        const left = c.type === 'DevRebootCountdownAns' ? c.countdown : c.rebootTime;
        if (left === 0) s = finish(s, 'ImageRejected', `${c.type}: device refused the reboot`, now);
        // Ask for the version once the reboot time has passed (plus one answer time-out of slack).
        else s = to(s, 'verify', now, { w: uplinkMs + left * 1000 });
        break;
      }
      case 'DevVersionAns': {
        s.fw = c.fwVersion;
        if (s.p !== 'verify') {
          // Anti-rollback: a device that runs a newer version than the image is not sent it unless allowed.
          if (s.s === 'Pending' && !ctx.allowDowngrade && c.fwVersion >>> 0 > ctx.targetVersion >>> 0) {
            s = finish(s, 'DowngradeRefused', `running ${hex32(c.fwVersion)}, newer than the image's ${hex32(ctx.targetVersion)} (allowDowngrade is false)`, now);
          }
          break;
        }
        if (c.fwVersion === ctx.targetVersion) s = finish(s, 'Updated', `running ${hex32(ctx.targetVersion)}`, now);
        // Asked because the reboot request went unanswered: the request itself may have been lost; ask again.
        else if (s.rv !== undefined && s.rv <= MAX_REBOOT_CHECKS) s = to(s, 'reboot', now);
        else s = finish(s, 'ImageRejected', `after reboot still running ${hex32(c.fwVersion)}`, now);
        break;
      }
      case 'FragSessionDeleteAns':
      case 'McGroupDeleteAns':
        if (s.p === 'cleanup') {
          const done = (s.cl ?? 0) | (c.type === 'FragSessionDeleteAns' ? 1 : 2);
          s = done === 3 ? to({ ...s, cl: done }, 'final', now) : { ...s, cl: done };
        }
        break;
      default:
        break;
    }
  }
  // Discovery is complete when TS004, TS005 and TS006 (asked in that order) have all answered.
  if (s.p === 'discover' && s.s === 'Pending' && !s.o && s.v && s.v[1] && s.v[2] && s.v[3]) {
    if (s.v[3] !== 1) s = finish(s, 'PackageNotSupported', `TS006 version ${s.v[3]} unsupported`, now);
    else if (s.fw !== undefined || !ctx.checkVersions) s = to(s, 'fragSetup', now);
  }
  if (!event && (s.p !== s0.p || s.s !== s0.s)) event = { type: 'device', phase: s.p, status: s.s, reason: s.r };
  return { state: s, ...(event ? { event } : {}), ...(replies.length ? { replies } : {}) };
}

/**
 * The request the device needs next, if any, given its phase. A device has at most one outstanding request;
 * the worker records it in `o` before sending it.
 */
export function nextRequest(s: DeviceState, ctx: MachineContext): Request | null {
  if (s.o) return null;
  switch (s.p) {
    case 'discover': {
      const v = s.v ?? [0, 0, 0, 0];
      // TS004 first: its version decides the device's multicast group (parity rule), whose McAddr and McKey the
      // McGroupSetupReq carries.
      if (!v[1]) return { pkg: 'ts004', commands: [{ type: 'PackageVersionReq' }] };
      // A delta campaign groups devices by the firmware they run too: ask it (with the TS006 version) before the
      // group is chosen.
      if (ctx.askFirmware && !v[3]) return { pkg: 'ts006', commands: [{ type: 'PackageVersionReq' }, { type: 'DevVersionReq' }] };
      if (!v[2]) {
        if (!ctx.keys) return null;
        return {
          pkg: 'ts005',
          commands: [
            { type: 'PackageVersionReq' },
            {
              type: 'McGroupSetupReq',
              mcGroupId: ctx.mcGroupId,
              mcAddr: ctx.mcAddr,
              mcKeyEncrypted: ctx.keys.mcKeyEncrypted,
              minMcFCnt: 0,
              maxMcFCnt: 0xffffffff,
            },
          ],
        };
      }
      if (!v[3]) return { pkg: 'ts006', commands: [{ type: 'PackageVersionReq' }] };
      // Anti-rollback: the running version, before anything is set up (TS006 takes one command per frame).
      if (v[3] === 1 && s.fw === undefined && ctx.checkVersions) return { pkg: 'ts006', commands: [{ type: 'DevVersionReq' }] };
      return null;
    }
    case 'fragSetup': {
      const v2 = s.v?.[1] === 2;
      const base: FragSessionSetupReq = {
        type: 'FragSessionSetupReq',
        fragIndex: ctx.fragIndex,
        mcGroupBitMask: 1 << ctx.mcGroupId,
        nbFrag: ctx.nbFrag,
        fragSize: ctx.fragSize,
        fragAlgo: 0,
        blockAckDelay: ctx.blockAckDelay,
        padding: ctx.padding,
        descriptor: ctx.descriptor,
      };
      if (!v2) return { pkg: 'ts004', commands: [base] };
      if (!ctx.keys?.fragSetupMic) return null;
      const sessionCnt = s.sc ?? 0;
      return {
        pkg: 'ts004',
        commands: [{ ...base, ackReception: true, sessionCnt, mic: ctx.keys.fragSetupMic(sessionCnt) }],
      };
    }
    case 'ready': {
      if (ctx.sessionTimeGps === undefined) return null;
      let start = ctx.sessionTimeGps;
      let timeOut = ctx.sessionTimeOut;
      const earliest = unixMsToGps(ctx.nowMs) + ctx.sessionLeadS;
      if (ctx.sessionEndGps !== undefined && (s.sr || earliest > start)) {
        // A retry, or a device set up after the session was planned: start no earlier than the request can
        // arrive, end with everyone else.
        start = Math.max(start, earliest);
        const left = Math.max(1, ctx.sessionEndGps - start);
        timeOut = Math.max(0, Math.ceil(Math.log2(ctx.groupType === 'C' ? left : left / 128)));
      }
      // In the device's own (wrong) time, when its clock error is known.
      const sessionTime = start - (s.sk ?? 0);
      return {
        pkg: 'ts005',
        commands: [
          ctx.groupType === 'C'
            ? { type: 'McClassCSessionReq', mcGroupId: ctx.mcGroupId, sessionTime, timeOut, dlFrequencyHz: ctx.frequencyHz, dr: ctx.dr }
            : {
                type: 'McClassBSessionReq',
                mcGroupId: ctx.mcGroupId,
                sessionTime: sessionTime - (sessionTime % 128),
                periodicity: ctx.classBPeriodicity,
                timeOut,
                dlFrequencyHz: ctx.frequencyHz,
                dr: ctx.dr,
              },
        ],
      };
    }
    case 'complete':
      return { pkg: 'ts006', commands: [{ type: 'DevUpgradeImageReq' }] };
    case 'reboot':
      return { pkg: 'ts006', commands: [{ type: 'DevRebootCountdownReq', countdown: ctx.rebootDelayS }] };
    case 'verify':
      if (s.w !== undefined && ctx.nowMs < s.w) return null;
      return { pkg: 'ts006', commands: [{ type: 'DevVersionReq' }] };
    case 'cleanup': {
      const done = s.cl ?? 0;
      if (!(done & 1)) return { pkg: 'ts004', commands: [{ type: 'FragSessionDeleteReq', fragIndex: ctx.fragIndex }] };
      if (!(done & 2)) return { pkg: 'ts005', commands: [{ type: 'McGroupDeleteReq', mcGroupId: ctx.mcGroupId }] };
      return null;
    }
    default:
      return null;
  }
}

/** The phase a device enters when the request for its current phase has been sent. */
export function phaseAfterSend(p: DevicePhase): DevicePhase {
  switch (p) {
    case 'ready':
      return 'session';
    case 'complete':
      return 'upgrade';
    default:
      return p;
  }
}

/**
 * An outstanding request got no answer in time: re-send it (the worker checks the device queue first) or give up.
 * Clean-up requests that time out end the conversation without changing the status.
 */
export function onTimeout(s: DeviceState, ctx: MachineContext): Transition {
  if (!s.o) return { state: s };
  // The reboot request's answer was lost, but the device may have rebooted into the new version: once its reboot
  // window has passed, ask it which version it runs before re-sending (a re-sent request could reboot it again)
  // or calling it anything (a bounded number of times).
  if (s.p === 'reboot' && (s.rv ?? 0) < MAX_REBOOT_CHECKS) {
    // The device takes the request on its next uplink (within an answer time-out of `o.at`) and reboots
    // `rebootDelayS` later: ask once that has surely passed, so an old version means the request was lost.
    const w = s.o.at + ctx.answerTimeoutMs + ctx.rebootDelayS * 1000;
    const state = to(s, 'verify', ctx.nowMs, { rv: (s.rv ?? 0) + 1, w: Math.max(ctx.nowMs, w) });
    return { state, event: { type: 'device', phase: 'verify', status: s.s, reason: `no DevRebootCountdownAns after ${s.o.n} attempts: asking the running version` } };
  }
  if (s.o.n <= ctx.retries) return { state: { ...s, o: { ...s.o, at: ctx.nowMs, n: s.o.n + 1, ok: false } } };
  if (s.p === 'cleanup') return { state: to(s, 'final', ctx.nowMs), event: { type: 'device', phase: 'final', status: s.s } };
  // A device that answered before in this campaign lost the answers (or the requests) on the radio: say so, with
  // the phase, rather than guess a status from a silence (e.g. PackageNotSupported, or Timeout after an install).
  const answeredBefore = s.v?.some((v) => v > 0) || s.fw !== undefined;
  const what = s.p === 'discover' ? (s.v?.[3] ? 'DevVersionAns' : 'PackageVersionAns') : s.p === 'verify' ? 'DevVersionAns' : 'answer';
  const state = answeredBefore
    ? finish(s, 'NoAnswer', `no ${what} on port ${s.o.port} after ${s.o.n} attempts (${s.p})`, ctx.nowMs)
    : finish(s, 'Timeout', `no answer on port ${s.o.port} after ${s.o.n} attempts (${s.p})`, ctx.nowMs);
  return { state, event: { type: 'device', phase: state.p, status: state.s, reason: state.r } };
}

/** Times a device whose reboot request went unanswered is asked its version (and sent the request again). */
const MAX_REBOOT_CHECKS = 2;

/** Largest device clock error (s) tolerated at the session start. */
const MAX_CLOCK_SKEW_S = 10;

/** SessionTime of an encoded McClassC/BSessionReq (CID, McGroupIDHeader, then u32 LE). */
function sessionTimeOf(hex: string | undefined): number | undefined {
  if (!hex || !/^0[45]/.test(hex) || hex.length < 12) return undefined;
  return Buffer.from(hex.slice(4, 12), 'hex').readUInt32LE(0);
}

/** A TS006 firmware version as operators read it: 0x01010000 -> '1.1.0'. */
function hex32(n: number): string {
  return u32ToVersion(n >>> 0);
}

/** Event of a transition that changed the device's phase or status. */
function changeEvent(before: DeviceState, after: DeviceState): Record<string, unknown> | undefined {
  if (before.p === after.p && before.s === after.s) return undefined;
  return { type: 'device', phase: after.p, status: after.s, ...(after.r !== undefined && after.s !== before.s ? { reason: after.r } : {}) };
}

function transition(before: DeviceState, after: DeviceState): Transition {
  const event = changeEvent(before, after);
  return { state: after, ...(event ? { event } : {}) };
}

/** The request for the device's phase was recorded for sending (the worker enqueues it next, then calls `onLanded`). */
export function onSent(s: DeviceState, port: number, hex: string, now: number): Transition {
  const p = phaseAfterSend(s.p);
  const next: DeviceState = { ...s, p, o: { port, hex, at: now, n: 1, ok: false } };
  if (p !== s.p) next.t = now;
  return transition(s, next);
}

/** The outstanding request is known to be in the device's ChirpStack queue. */
export function onLanded(s: DeviceState): DeviceState {
  return s.o ? { ...s, o: { ...s.o, ok: true } } : s;
}

/** The device runs the other TS004 version than the campaign's parity rule: it cannot decode the stream. */
export function onRuleMismatch(s: DeviceState, ruleVersion: number, now: number): Transition {
  const v = s.v?.[1] ?? 0;
  return transition(s, finish(s, 'PackageNotSupported', `TS004 v${v} device; this campaign sends the v${ruleVersion} parity code (run a separate campaign)`, now));
}

/** The device's root key could not be read: it cannot be given the multicast key. */
export function onKeyError(s: DeviceState, error: string, now: number): Transition {
  return transition(s, finish(s, 'McGroupError', error, now));
}

/** The campaign decided the device has (or should be asked whether it has) the image: ask it to upgrade. */
export function markComplete(s: DeviceState, now: number): Transition {
  return transition(s, to(s, 'complete', now));
}

/** The campaign was cancelled: a pending device ends here (the worker asks set-up devices to drop the session). */
export function onCancel(s: DeviceState, now: number): Transition {
  if (s.s !== 'Pending') return { state: s };
  const { o: _o, ...rest } = s;
  return transition(s, { ...rest, s: 'Cancelled', r: 'campaign cancelled', p: 'final', t: now });
}

/**
 * ChirpStack does not know the device (NOT_FOUND) or refused a call about it: the device fails alone and gets no
 * more requests (none could reach it). A device that already has a final status keeps it.
 */
export function onDeviceMissing(s: DeviceState, reason: string, now: number): Transition {
  if (s.p === 'final') return { state: s };
  const { o: _o, ...rest } = s;
  const status = s.s === 'Pending' ? 'DeviceNotFound' : s.s;
  return transition(s, { ...rest, s: status, r: s.s === 'Pending' ? reason : (s.r ?? reason), p: 'final', t: now });
}
