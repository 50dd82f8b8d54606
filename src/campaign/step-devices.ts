/**
 * The per-device half of a campaign step (pure): fold new answers into device states through the device machine,
 * expire outstanding requests, and choose each device's next request (recorded as outstanding, returned as a
 * unicast effect).
 */
import { decodeCommands, encodeCommands, packageForPort, type Versions } from '../codec/frame.js';
import { unixMsToGps } from '../codec/gpstime.js';
import { dataBlockIntKey, encryptMcKey, mcKEKey, mcRootKey } from '../codec/keys.js';
import { dataBlockMic } from '../codec/mic.js';
import { nextRequest, onAnswer, onKeyError, onSent, onTimeout, type MachineContext } from './device-machine.js';
import { apply, type Draft } from './draft.js';
import type { Effect } from './effects.js';
import type { DeviceState } from './model.js';
import { groupParams } from './grouping.js';
import { selectImage } from './images.js';
import type { CampaignState, GroupState } from './state.js';

/** One device answer from the uplink intake. */
export interface DeviceAnswer {
  id: string;
  devEui: string;
  fPort: number;
  hex: string;
  timeMs: number;
}

/** Key material the caller supplies for the devices that need it. */
export interface KeyInputs {
  rootKeys?: ReadonlyMap<string, Uint8Array>;
  keyErrors?: ReadonlyMap<string, string>;
  image?: Uint8Array;
  sessionCnts?: ReadonlyMap<string, number>;
  /** A delta campaign's delta images by base version (for the MIC of a delta group's v2 FragSessionSetupReq). */
  deltaImages?: ReadonlyMap<number, Uint8Array>;
}

export function versionsOf(s: DeviceState): Versions {
  return { ts004: s.v?.[1] === 2 ? 2 : 1, ts005: s.v?.[2] === 2 ? 2 : 1 };
}

export function machineContext(c: CampaignState, g: GroupState, now: number): MachineContext {
  const s = c.spec;
  const m = groupParams(s, g.key);
  return {
    nowMs: now,
    ports: s.ports,
    fragIndex: s.fragmentation.fragIndex,
    mcGroupId: g.mcGroupId,
    mcAddr: g.mcAddr,
    groupType: m.groupType,
    nbFrag: g.plan.nbFrag,
    fragSize: g.plan.fragSize,
    padding: g.plan.padding,
    blockAckDelay: s.fragmentation.blockAckDelay,
    descriptor: parseInt(s.fragmentation.descriptor, 16) >>> 0,
    dr: m.dr,
    frequencyHz: m.frequencyHz,
    classBPeriodicity: m.classBPeriodicity,
    sessionTimeOut: g.plan.sessionTimeOut,
    ...(g.session ? { sessionTimeGps: g.session.timeGps, sessionEndGps: unixMsToGps(g.session.endMs) } : {}),
    sessionLeadS: 4 * s.timing.uplinkIntervalS,
    targetVersion: c.targetVersion,
    allowDowngrade: s.allowDowngrade === true,
    checkVersions: s.allowDowngrade !== true && s.currentVersion !== undefined,
    ...(c.images?.deltas.length ? { askFirmware: true } : {}),
    ...(g.key.base !== undefined ? { deltaBase: g.key.base } : {}),
    rebootDelayS: s.timing.rebootDelayS,
    // The request waits for the device's next uplink (one interval plus jitter) and the answer follows at once.
    answerTimeoutMs: 1.25 * s.timing.uplinkIntervalS * 1000 + 10_000,
    retries: s.timing.unicastRetries,
    statusSentN: g.status.sentN,
  };
}

/** The image a group's fragments carry, when the caller supplied it (undefined: a delta image not supplied). */
function groupImage(g: GroupState, full: Uint8Array, deltas: ReadonlyMap<number, Uint8Array> | undefined): Uint8Array | undefined {
  return g.key.base === undefined ? full : deltas?.has(g.key.base) ? selectImage(g.key, full, deltas) : undefined;
}

/** Devices whose next request needs key material: McGroupSetupReq, and a v2 FragSessionSetupReq (its MIC). */
export function needsKeys(st: DeviceState): boolean {
  return !st.o && st.s === 'Pending' && ((st.p === 'discover' && !!st.v?.[1] && !st.v?.[2] && st.g !== undefined) || (st.p === 'fragSetup' && st.v?.[1] === 2));
}

/** Folds new answers into the device states; expires outstanding requests. */
/** The group a device is in (the first group while its key is not known yet). */
export function deviceGroup(c: CampaignState, st: DeviceState | undefined): GroupState {
  return (st?.g !== undefined ? c.groups[st.g] : undefined) ?? c.groups[0];
}

/** Machine contexts by group, for the devices of each. */
export function contexts(c: CampaignState, now: number): (st: DeviceState | undefined) => MachineContext {
  const byGroup = c.groups.map((g) => machineContext(c, g, now));
  return (st) => byGroup[st?.g ?? 0] ?? byGroup[0]!;
}

export function foldAnswers(c: CampaignState, d: Draft, ctxOf: (st: DeviceState | undefined) => MachineContext, answers: readonly DeviceAnswer[]): void {
  for (const a of answers) {
    c.ansCursor = a.id;
    const st = d.devices.get(a.devEui);
    const pkg = packageForPort(a.fPort, c.spec.ports);
    if (!st || !pkg || pkg === 'ts003') continue;
    const dec = decodeCommands(pkg, 'uplink', Buffer.from(a.hex, 'hex'), versionsOf(st));
    if (dec.error || dec.unknownCid) {
      d.events.push({
        type: 'badAnswer',
        devEui: a.devEui,
        port: a.fPort,
        hex: a.hex,
        error: dec.error?.message ?? `unknown CID 0x${dec.unknownCid!.cid.toString(16)} at byte ${dec.unknownCid!.offset}`,
      });
    }
    if (dec.commands.length === 0) continue;
    const t = onAnswer(st, pkg, dec.commands, ctxOf(st), a.timeMs);
    apply(d, a.devEui, t);
  }
  for (const [eui, st] of d.devices) {
    const mctx = ctxOf(st);
    if (st.o && st.o.ok && mctx.nowMs - st.o.at > mctx.answerTimeoutMs) apply(d, eui, onTimeout(st, mctx));
  }
}

/** Chooses each device's next request and records it as outstanding; re-sends the unlanded ones. */
export function dispatch(c: CampaignState, d: Draft, ctxOf: (st: DeviceState | undefined) => MachineContext, input: KeyInputs, effects: Effect[]): void {
  // Built only when a device needs key material (the spec lists every device).
  let lwMap: Map<string, '1.0' | '1.1'> | undefined;
  const lw = { get: (eui: string) => (lwMap ??= new Map(c.spec.devices.map((x) => [x.devEui, x.lorawan]))).get(eui) };
  for (const [eui, st0] of d.devices) {
    // A TS004 v2 set-up goes on from the device's SessionCnt of earlier campaigns (a repeated one is refused).
    const st = st0.p === 'fragSetup' && st0.v?.[1] === 2 && st0.sc === undefined && !st0.o ? { ...st0, sc: input.sessionCnts?.get(eui) ?? 0 } : st0;
    const mctx = ctxOf(st);
    const mcKey = Buffer.from(deviceGroup(c, st).mcKeyHex, 'hex');
    const keyError = input.keyErrors?.get(eui);
    if (keyError !== undefined && st.s === 'Pending' && needsKeys(st)) {
      apply(d, eui, onKeyError(st, keyError, mctx.nowMs));
      continue;
    }
    if (st.o && !st.o.ok) {
      const pkg = packageForPort(st.o.port, c.spec.ports) ?? 'ts004';
      const dec = decodeCommands(pkg, 'downlink', Buffer.from(st.o.hex, 'hex'), versionsOf(st));
      effects.push({ kind: 'unicast', devEui: eui, pkg, port: st.o.port, commands: dec.commands, hex: st.o.hex, retry: true });
      continue;
    }
    const root = needsKeys(st) ? input.rootKeys?.get(eui) : undefined;
    const image = input.image && groupImage(deviceGroup(c, st), input.image, input.deltaImages);
    const keys = root
      ? {
          mcKeyEncrypted: encryptMcKey(mcKEKey(mcRootKey(root, lw.get(eui) ?? '1.0')), mcKey),
          ...(image
            ? {
                fragSetupMic: (sessionCnt: number) =>
                  dataBlockMic(dataBlockIntKey(root), { sessionCnt, fragIndex: mctx.fragIndex, descriptor: mctx.descriptor, data: image }),
              }
            : {}),
        }
      : undefined;
    const req = nextRequest(st, { ...mctx, keys });
    if (!req) continue;
    const bytes = encodeCommands(req.pkg, 'downlink', req.commands, versionsOf(st));
    const port = c.spec.ports[req.pkg];
    const hex = Buffer.from(bytes).toString('hex');
    apply(d, eui, onSent(st, port, hex, mctx.nowMs));
    effects.push({ kind: 'unicast', devEui: eui, pkg: req.pkg, port, commands: req.commands, hex, retry: false });
  }
  for (const [eui, { pkg, commands }] of d.replies) {
    const st = d.devices.get(eui);
    const hex = Buffer.from(encodeCommands(pkg, 'downlink', commands, st ? versionsOf(st) : {})).toString('hex');
    effects.push({ kind: 'reply', devEui: eui, pkg, port: c.spec.ports[pkg], commands, hex });
  }
}

/** The next SessionCnt of each device whose TS004 v2 FragSessionSetupReq the effects send (to keep before sending). */
export function sessionCntsSent(effects: readonly Effect[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of effects) {
    if (e.kind !== 'unicast') continue;
    for (const c of e.commands) if (c.type === 'FragSessionSetupReq' && c.sessionCnt !== undefined) out.set(e.devEui, c.sessionCnt + 1);
  }
  return out;
}
