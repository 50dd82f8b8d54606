/**
 * One step of a campaign as a pure function: from the state, the devices, the answers that came in and the time,
 * the next state, the changed devices, the events, the effects to carry out and when the next step is due.
 * No I/O, no clock, no randomness: McAddr and McKey come in from the caller at prepare, root keys as inputs.
 *
 * prepare -> group -> setup -> session -> broadcast <-> status -> apply -> cleanup -> done
 */
import { encodeCommands } from '../codec/frame.js';
import { gpsToUnixMs, unixMsToGps } from '../codec/gpstime.js';
import { mcSessionKeys } from '../codec/keys.js';
import { count, newDraft, type Draft } from './draft.js';
import type { Effect } from './effects.js';
import { FINAL_STAGES, type DeviceState, type Stage } from './model.js';
import { checkApply, evaluateStatus } from './repair-round.js';
import type { CampaignState } from './state.js';
import { dispatch, foldAnswers, machineContext, needsKeys, type DeviceAnswer } from './step-devices.js';
import { cancel, endCampaign, report } from './step-end.js';

export { machineContext, needsKeys, sessionCntsSent, versionsOf, type DeviceAnswer } from './step-devices.js';
export { report } from './step-end.js';

/** Fragments enqueued ahead of the planner's schedule, so ChirpStack's queue never runs dry between steps. */
export const LOOKAHEAD = 8;

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
  /** The next TS004 v2 SessionCnt of the devices about to be sent a FragSessionSetupReq (kept across campaigns). */
  sessionCnts?: ReadonlyMap<string, number>;
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

/** Whether this step looks at the devices: during the broadcast only every half uplink interval. */
export function devicesDue(c: CampaignState, now: number): boolean {
  return c.stage !== 'broadcast' || now - c.lastDeviceStepMs >= (c.spec.timing.uplinkIntervalS * 1000) / 2;
}

/** The devices whose root keys the caller must supply for this step. */
export function keysNeeded(c: CampaignState, devices: ReadonlyMap<string, DeviceState>, now: number): string[] {
  if (c.cancel || c.abort || FINAL_STAGES.includes(c.stage) || c.stage === 'prepare' || c.stage === 'group' || !devicesDue(c, now)) return [];
  return [...devices].filter(([, st]) => needsKeys(st)).map(([eui]) => eui);
}

function result(state: CampaignState, d: Draft, effects: Effect[], nextAt: number | null): StepResult {
  return { state, devices: d.changed, events: d.events, effects, nextAt };
}

export function step(input: StepInput): StepResult {
  const { now } = input;
  const state: CampaignState = structuredClone(input.state);
  const d = newDraft(input.devices);
  if (FINAL_STAGES.includes(state.stage)) return result(state, d, [], null);
  if (state.cancel) {
    const c = cancel(state, d, now);
    return result(c.state, d, c.effects, null);
  }
  if (state.abort) {
    // The shell gave up on a step that kept failing: end with the clean-up, naming the error.
    const c = endCampaign(state, d, now, { stage: 'failed', error: state.abort });
    return result(c.state, d, c.effects, null);
  }
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
    // A device that already failed (ChirpStack does not know it) is not added again when the step is repeated.
    const devEuis = spec.devices.map((x) => x.devEui).filter((eui) => input.devices.get(eui)?.p !== 'final');
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
            const c = endCampaign(state, d, now, { stage: 'failed', error: 'no device completed the set-up' });
            return result(c.state, d, c.effects, null);
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
