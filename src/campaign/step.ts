/**
 * One step of a campaign as a pure function: from the state, the devices, the answers that came in and the time,
 * the next state, the changed devices, the events, the effects to carry out and when the next step is due.
 * No I/O, no clock, no randomness: McAddr and McKey come in from the caller at prepare, root keys as inputs.
 *
 * prepare -> group -> setup -> session -> broadcast <-> status -> apply -> cleanup -> done
 */
import { decodeCommands, encodeCommands, packageForPort, type Versions } from '../codec/frame.js';
import { gpsToUnixMs, unixMsToGps } from '../codec/gpstime.js';
import { dataBlockIntKey, encryptMcKey, mcKEKey, mcRootKey, mcSessionKeys } from '../codec/keys.js';
import { dataBlockMic } from '../codec/mic.js';
import {
  nextRequest,
  onAnswer,
  onCancel,
  onKeyError,
  onRuleMismatch,
  onSent,
  onTimeout,
  type MachineContext,
} from './device-machine.js';
import { apply, count, newDraft, type Draft } from './draft.js';
import type { Effect } from './effects.js';
import { FINAL_STAGES, type DeviceState, type Stage } from './model.js';
import { checkApply, evaluateStatus } from './repair-round.js';
import type { CampaignState, GroupState } from './state.js';

/** Fragments enqueued ahead of the planner's schedule, so ChirpStack's queue never runs dry between steps. */
export const LOOKAHEAD = 8;

/** One device answer from the uplink intake. */
export interface DeviceAnswer {
  id: string;
  devEui: string;
  fPort: number;
  hex: string;
  timeMs: number;
}

export interface StepInput {
  state: CampaignState;
  devices: ReadonlyMap<string, DeviceState>;
  /** Answers after `state.ansCursor`, oldest first (read only when `devicesDue`). */
  answers: readonly DeviceAnswer[];
  now: number;
  /** McAddr (used unless the spec fixes one) and McKey (hex) drawn by the caller, consumed at prepare. */
  fresh?: { mcAddr: number; mcKeyHex: string };
  /** Root keys (GenAppKey / AppKey) of the devices `keysNeeded` names, and the read errors of the others. */
  rootKeys?: ReadonlyMap<string, Uint8Array>;
  keyErrors?: ReadonlyMap<string, string>;
  /** The image, needed for the MIC of a TS004 v2 FragSessionSetupReq. */
  image?: Uint8Array;
}

export interface StepResult {
  state: CampaignState;
  /** Device records that changed. */
  devices: Map<string, DeviceState>;
  events: Record<string, unknown>[];
  effects: Effect[];
  /** Time the next step is due, or null when the campaign has ended. */
  nextAt: number | null;
}

export function versionsOf(s: DeviceState): Versions {
  return { ts004: s.v?.[1] === 2 ? 2 : 1, ts005: s.v?.[2] === 2 ? 2 : 1 };
}

export function machineContext(c: CampaignState, g: GroupState, now: number): MachineContext {
  const s = c.spec;
  return {
    nowMs: now,
    ports: s.ports,
    fragIndex: s.fragmentation.fragIndex,
    mcGroupId: g.mcGroupId,
    mcAddr: g.mcAddr,
    groupType: s.multicast.groupType,
    nbFrag: g.plan.nbFrag,
    fragSize: g.plan.fragSize,
    padding: g.plan.padding,
    blockAckDelay: s.fragmentation.blockAckDelay,
    descriptor: parseInt(s.fragmentation.descriptor, 16) >>> 0,
    dr: s.multicast.dr,
    frequencyHz: s.multicast.frequencyHz,
    classBPeriodicity: s.multicast.classBPeriodicity,
    sessionTimeOut: g.plan.sessionTimeOut,
    ...(c.session ? { sessionTimeGps: c.session.timeGps, sessionEndGps: unixMsToGps(c.session.endMs) } : {}),
    sessionLeadS: 4 * s.timing.uplinkIntervalS,
    targetVersion: c.targetVersion,
    rebootDelayS: s.timing.rebootDelayS,
    // The request waits for the device's next uplink (one interval plus jitter) and the answer follows at once.
    answerTimeoutMs: 1.25 * s.timing.uplinkIntervalS * 1000 + 10_000,
    retries: s.timing.unicastRetries,
    statusSentN: g.status.sentN,
  };
}

/** Whether this step looks at the devices: during the broadcast only every half uplink interval. */
export function devicesDue(c: CampaignState, now: number): boolean {
  return c.stage !== 'broadcast' || now - c.lastDeviceStepMs >= (c.spec.timing.uplinkIntervalS * 1000) / 2;
}

/** Devices whose next request needs key material: McGroupSetupReq, and a v2 FragSessionSetupReq (its MIC). */
export function needsKeys(st: DeviceState): boolean {
  return !st.o && st.s === 'Pending' && ((st.p === 'discover' && !st.v?.[2]) || (st.p === 'fragSetup' && st.v?.[1] === 2));
}

/** The devices whose root keys the caller must supply for this step. */
export function keysNeeded(c: CampaignState, devices: ReadonlyMap<string, DeviceState>, now: number): string[] {
  if (c.cancel || FINAL_STAGES.includes(c.stage) || c.stage === 'prepare' || c.stage === 'group' || !devicesDue(c, now)) return [];
  return [...devices].filter(([, st]) => needsKeys(st)).map(([eui]) => eui);
}

export function report(c: CampaignState, devices: ReadonlyMap<string, DeviceState>, now: number): Record<string, unknown> {
  const byStatus: Record<string, number> = {};
  for (const s of devices.values()) byStatus[s.s] = (byStatus[s.s] ?? 0) + 1;
  const updated = byStatus.Updated ?? 0;
  const g = c.groups[0];
  return {
    type: 'report',
    devices: devices.size,
    updated,
    failed: devices.size - updated,
    byStatus,
    fragmentsSent: g.fragmentsSent,
    repairRounds: g.repair.rounds,
    airtimeSeconds: g.airtimeMs / 1000,
    simulatedSeconds: (now - (c.startedAtMs ?? now)) / 1000,
  };
}

function result(state: CampaignState, d: Draft, effects: Effect[], nextAt: number | null): StepResult {
  return { state, devices: d.changed, events: d.events, effects, nextAt };
}

export function step(input: StepInput): StepResult {
  const { now } = input;
  const state: CampaignState = structuredClone(input.state);
  const d = newDraft(input.devices);
  if (FINAL_STAGES.includes(state.stage)) return result(state, d, [], null);
  if (state.cancel) return cancel(state, d, now);
  const g = state.groups[0];
  const spec = state.spec;

  if (state.stage === 'prepare') {
    if (!g.mcKeyHex) {
      if (!input.fresh) throw new Error('step: prepare needs fresh McAddr and McKey');
      g.mcAddr = spec.multicast.mcAddr ? parseInt(spec.multicast.mcAddr, 16) >>> 0 : input.fresh.mcAddr;
      g.mcKeyHex = input.fresh.mcKeyHex;
      g.broadcast.nextN = 1;
      g.fragmentsSent = 0;
      g.airtimeMs = 0;
      g.repair.rounds = 0;
      state.startedAtMs = now;
    }
    state.stage = 'group';
    return result(state, d, [], now);
  }
  if (state.stage === 'group') {
    // The worker creates the group (keeping its id at once), fills it, then folds `onGroupReady` in: stage setup.
    const mcKey = Buffer.from(g.mcKeyHex, 'hex');
    const { mcAppSKey, mcNwkSKey } = mcSessionKeys(mcKey, g.mcAddr);
    const m = spec.multicast;
    const groupType = m.groupType === 'B' ? 'CLASS_B' : 'CLASS_C';
    const devEuis = spec.devices.map((x) => x.devEui);
    const effects: Effect[] = [{ kind: 'checkProfiles', devEuis, groupType }];
    if (!g.groupId) {
      effects.push({
        kind: 'createGroup',
        group: 0,
        params: {
          name: `lorafuota-${state.id}`,
          applicationId: spec.applicationId,
          region: m.region,
          mcAddr: g.mcAddr,
          mcAppSKey,
          mcNwkSKey,
          groupType,
          dr: m.dr,
          frequencyHz: m.frequencyHz,
          ...(m.groupType === 'B' ? { pingSlotPeriodicity: m.classBPeriodicity } : {}),
        },
      });
    }
    effects.push({ kind: 'fillGroup', group: 0, devEuis, gatewayIds: m.gatewayIds });
    return result(state, d, effects, now);
  }

  const uplinkMs = spec.timing.uplinkIntervalS * 1000;
  const mctx = machineContext(state, g, now);
  const effects: Effect[] = [];
  let nextStage: Stage | undefined;
  let delay = uplinkMs / 4;

  if (devicesDue(state, now)) {
    foldAnswers(state, g, d, mctx, input.answers);
    state.lastDeviceStepMs = now;
    switch (state.stage) {
      case 'setup': {
        const waiting = count(d, (s) => s.s === 'Pending' && (s.p === 'discover' || s.p === 'fragSetup'));
        // Stragglers do not hold the fleet back for ever: once nine devices in ten are ready and every device had
        // time for its four exchanges twice over, the session is set; late devices get a later start of it.
        const ready = count(d, (s) => s.p === 'ready');
        const overdue = now >= (state.setupStartedMs ?? now) + 8 * mctx.answerTimeoutMs && ready >= 0.9 * d.devices.size;
        if (waiting === 0 || overdue) {
          if (ready === 0) {
            state.stage = 'failed';
            state.error = 'no device completed the set-up';
            return result(state, d, [], null);
          }
          // The session request reaches each device on its next uplink; leave room for its retries (up to five
          // lost downlinks), so that hardly any device opens its window late: a late device needs more fragments
          // than its radio losses alone, and the whole fleet would pay for them.
          const attempts = Math.min(spec.timing.unicastRetries + 1, 6);
          const timeGps = unixMsToGps(now + attempts * mctx.answerTimeoutMs + uplinkMs);
          const startMs = gpsToUnixMs(timeGps);
          const lengthS = spec.multicast.groupType === 'C' ? 2 ** g.plan.sessionTimeOut : 128 * 2 ** g.plan.sessionTimeOut;
          state.session = { timeGps, startMs, endMs: startMs + lengthS * 1000 };
          mctx.sessionTimeGps = timeGps;
          mctx.sessionEndGps = unixMsToGps(startMs + lengthS * 1000);
          nextStage = 'session';
        }
        break;
      }
      case 'session': {
        // Broadcast once every device that is still being offered the session has its window open: a device whose
        // request was lost and re-sent opens later, and would otherwise need many more fragments than its losses.
        const start = state.session?.startMs ?? now;
        const waitLimit = start + 3 * mctx.answerTimeoutMs;
        const pending = count(d, (s) => s.s === 'Pending' && (s.p === 'ready' || s.p === 'session'));
        let opens = start;
        for (const s of d.devices.values()) {
          if (s.p === 'listening' && s.tts && s.tts[0] !== 0xffffff) opens = Math.max(opens, s.tts[1] + s.tts[0] * 1000);
        }
        const bStart = Math.min(opens, waitLimit);
        if (now >= bStart && (pending === 0 || now >= waitLimit)) {
          g.broadcast = { startMs: bStart + 1000, startN: 1, nextN: 1, targetN: g.plan.nbFrag + g.plan.initialCoded };
          nextStage = 'broadcast';
        }
        break;
      }
      case 'status':
        nextStage = evaluateStatus(state, g, d, now);
        break;
      case 'apply':
        nextStage = checkApply(state, g, d, now);
        break;
      case 'cleanup':
        if (count(d, (s) => s.p !== 'final') === 0) nextStage = 'done';
        break;
      default:
        break;
    }
    dispatch(state, g, d, mctx, input, effects);
  }

  if (state.stage === 'broadcast') {
    const b = g.broadcast;
    const interval = g.plan.fragmentIntervalMs;
    const dueN = b.startN + Math.floor(Math.max(0, now - b.startMs) / interval) + LOOKAHEAD;
    for (let n = b.nextN; n <= Math.min(b.targetN, dueN); n++) effects.push({ kind: 'fragment', group: 0, n });
    const lastDue = b.startMs + (b.targetN - b.startN) * interval;
    if (b.nextN > b.targetN && now >= lastDue + interval) {
      nextStage = 'status';
      delete g.status.askedAt;
    }
    delay = Math.min(uplinkMs / 2, (LOOKAHEAD / 2) * interval);
  }
  if (state.stage === 'status' && g.status.askedAt === undefined && !nextStage) {
    // Every receiver answers (Participants = 1): the answers are the repair planner's input.
    const commands = [{ type: 'FragSessionStatusReq' as const, fragIndex: spec.fragmentation.fragIndex, participants: true }];
    const hex = Buffer.from(encodeCommands('ts004', 'downlink', commands)).toString('hex');
    effects.push({ kind: 'statusRequest', group: 0, at: now, commands, hex });
    g.status.sentN = g.broadcast.nextN - 1;
    delay = g.plan.statusWindowMs + 1.5 * uplinkMs;
  }
  if (nextStage === 'done') {
    state.stage = 'done';
    d.events.push(report(state, d.devices, now));
    if (g.groupId) effects.push({ kind: 'deleteGroup', group: 0, groupId: g.groupId });
    effects.push({ kind: 'release' });
    return result(state, d, effects, null);
  }
  if (nextStage) {
    state.stage = nextStage;
    return result(state, d, effects, now);
  }
  return result(state, d, effects, now + delay);
}

/** Folds new answers into the device states; expires outstanding requests. */
function foldAnswers(c: CampaignState, g: GroupState, d: Draft, mctx: MachineContext, answers: readonly DeviceAnswer[]): void {
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
    const t = onAnswer(st, pkg, dec.commands, mctx, a.timeMs);
    apply(d, a.devEui, t);
  }
  for (const [eui, st] of d.devices) {
    // The campaign's multicast stream uses one parity rule: a device of the other TS004 version cannot decode it.
    if (st.p === 'fragSetup' && st.s === 'Pending' && st.v && st.v[1] !== g.ruleVersion) {
      apply(d, eui, onRuleMismatch(st, g.ruleVersion, mctx.nowMs));
      continue;
    }
    if (st.o && st.o.ok && mctx.nowMs - st.o.at > mctx.answerTimeoutMs) apply(d, eui, onTimeout(st, mctx));
  }
}

/** Chooses each device's next request and records it as outstanding; re-sends the unlanded ones. */
function dispatch(c: CampaignState, g: GroupState, d: Draft, mctx: MachineContext, input: StepInput, effects: Effect[]): void {
  const mcKey = Buffer.from(g.mcKeyHex, 'hex');
  const lw = new Map(c.spec.devices.map((x) => [x.devEui, x.lorawan]));
  for (const [eui, st] of d.devices) {
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
    const image = input.image;
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

/** Cancellation: pending devices end Cancelled, set-up devices are asked to drop the session and the group. */
function cancel(state: CampaignState, d: Draft, now: number): StepResult {
  const g = state.groups[0];
  const s = state.spec;
  const effects: Effect[] = [];
  if (g.groupId) effects.push({ kind: 'deleteGroup', group: 0, groupId: g.groupId });
  const fragDelete = [{ type: 'FragSessionDeleteReq' as const, fragIndex: s.fragmentation.fragIndex }];
  const groupDelete = [{ type: 'McGroupDeleteReq' as const, mcGroupId: g.mcGroupId }];
  const fragHex = Buffer.from(encodeCommands('ts004', 'downlink', fragDelete)).toString('hex');
  const groupHex = Buffer.from(encodeCommands('ts005', 'downlink', groupDelete)).toString('hex');
  // Stop what is queued for the devices, then ask those that were set up to drop the session and the group.
  for (const eui of d.devices.keys()) effects.push({ kind: 'flushDeviceQueue', devEui: eui });
  let cancelled = 0;
  for (const [eui, st] of [...d.devices]) {
    if (st.p !== 'discover' && st.p !== 'final') {
      effects.push({ kind: 'reply', devEui: eui, pkg: 'ts004', port: s.ports.ts004, commands: fragDelete, hex: fragHex });
      effects.push({ kind: 'reply', devEui: eui, pkg: 'ts005', port: s.ports.ts005, commands: groupDelete, hex: groupHex });
    }
    const t = onCancel(st, now);
    if (t.state !== st) {
      d.devices.set(eui, t.state);
      d.changed.set(eui, t.state);
      cancelled++;
    }
  }
  d.events.push({ type: 'cancelled', devices: cancelled });
  d.events.push(report(state, d.devices, now));
  state.stage = 'cancelled';
  effects.push({ kind: 'release' });
  return result(state, d, effects, null);
}
