/**
 * One step of a campaign as a pure function: from the state, the devices, the answers that came in and the time,
 * the next state, the changed devices, the events, the effects to carry out and when the next step is due.
 * No I/O, no clock, no randomness: McAddr and McKey come in from the caller at prepare, root keys as inputs.
 *
 * prepare -> group -> setup -> session -> broadcast <-> status -> apply -> cleanup -> done
 * From the session on, each multicast group of the campaign (src/campaign/grouping.ts) runs these stages on its
 * own devices (src/campaign/step-groups.ts), groups through common gateways one after the other
 * (src/campaign/airtime-budget.ts); the campaign's stage is the earliest of its groups on air.
 */
import { count, newDraft, type Draft } from './draft.js';
import type { Effect } from './effects.js';
import type { ProfileFacts } from './grouping.js';
import { FINAL_STAGES, type DeviceState, type Stage } from './model.js';
import type { CampaignState } from './state.js';
import { contexts, dispatch, foldAnswers, machineContext, needsKeys, type DeviceAnswer } from './step-devices.js';
import { cancel, endCampaign, report } from './step-end.js';
import { aggregateStage, assignGroups, groupDecision, groupSetUpEffects, groupPacing, isGroupRunning, mergeDraft, startSessions, subDraft, takeTurns } from './step-groups.js';

export { machineContext, needsKeys, sessionCntsSent, versionsOf, type DeviceAnswer } from './step-devices.js';
export { report } from './step-end.js';


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
  /** A delta campaign's delta images by base version, needed likewise for the devices of a delta group. */
  deltaImages?: ReadonlyMap<number, Uint8Array>;
  /** Device profiles (region, classes) of the devices `profilesNeeded` names; absent ones use the spec's. */
  profiles?: ReadonlyMap<string, ProfileFacts>;
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

/** The devices whose profile the caller must supply for this step: those whose group is about to be chosen. */
export function profilesNeeded(c: CampaignState, devices: ReadonlyMap<string, DeviceState>, now: number, answers: readonly DeviceAnswer[]): string[] {
  if (c.cancel || FINAL_STAGES.includes(c.stage) || c.stage === 'prepare' || c.stage === 'group' || !devicesDue(c, now)) return [];
  // Devices without a group whose TS004 version is known, or may be told by this step's answers.
  const answering = new Set(answers.filter((a) => a.fPort === c.spec.ports.ts004).map((a) => a.devEui));
  return [...devices]
    .filter(([eui, st]) => st.g === undefined && st.s === 'Pending' && st.p === 'discover' && (!!st.v?.[1] || answering.has(eui)))
    .map(([eui]) => eui);
}

function result(state: CampaignState, d: Draft, effects: Effect[], nextAt: number | null): StepResult {
  return { state, devices: d.changed, events: d.events, effects, nextAt };
}

export function step(input: StepInput): StepResult {
  const { now } = input;
  // The spec (thousands of devices) is never changed by a step: shared, not copied.
  const state: CampaignState = { ...structuredClone({ ...input.state, spec: undefined }), spec: input.state.spec };
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
    // The devices' profiles are checked; the ChirpStack groups are created when the set-up has shown which groups
    // the fleet needs (startSessions).
    // A device that already failed (ChirpStack does not know it) is not looked up again when the step is repeated.
    const devEuis = spec.devices.map((x) => x.devEui).filter((eui) => input.devices.get(eui)?.p !== 'final');
    const groupType = spec.multicast.groupType === 'B' ? 'CLASS_B' : 'CLASS_C';
    state.stage = 'setup';
    state.setupStartedMs = now;
    return result(state, d, [{ kind: 'checkProfiles', devEuis, groupType }], now);
  }

  const uplinkMs = spec.timing.uplinkIntervalS * 1000;
  const effects: Effect[] = [];
  const nextStages = new Map<number, Stage>();
  let campaignNext: Stage | undefined;
  let delay = uplinkMs / 4;

  if (devicesDue(state, now)) {
    const answerTimeoutMs = machineContext(state, g, now).answerTimeoutMs;
    foldAnswers(state, d, contexts(state, now), input.answers);
    state.lastDeviceStepMs = now;
    assignGroups(state, d, input.profiles, now);
    if (state.stage === 'setup') {
      const waiting = count(d, (s) => s.s === 'Pending' && (s.p === 'discover' || s.p === 'fragSetup'));
      // Stragglers do not hold the fleet back for ever: once nine devices in ten are ready and every device had
      // time for its four exchanges twice over, the session is set; late devices get a later start of it.
      const ready = count(d, (s) => s.p === 'ready');
      // Stragglers are waited for, but not for ever: the last few per cent of a large fleet would hold everyone
      // back by several uplink intervals. Once 99 % are ready they get 4 answer time-outs, once 90 % are, 8. A
      // device set up later still joins the session (its request starts no earlier than it can arrive).
      const since = now - (state.setupStartedMs ?? now);
      const overdue = (since >= 4 * answerTimeoutMs && ready >= 0.99 * d.devices.size) || (since >= 8 * answerTimeoutMs && ready >= 0.9 * d.devices.size);
      if (waiting === 0 || overdue) {
        if (ready === 0) {
          const c = endCampaign(state, d, now, { stage: 'failed', error: 'no device completed the set-up' });
          return result(c.state, d, c.effects, null);
        }
        startSessions(state, d, (gi) => machineContext(state, state.groups[gi]!, now), now, effects);
        campaignNext = 'session';
      }
    }
    state.groups.forEach((grp, gi) => {
      if (!isGroupRunning(grp)) return;
      const sub = subDraft(d, gi);
      const next = groupDecision(state, gi, sub, machineContext(state, grp, now), now);
      mergeDraft(d, sub, gi, state.groups.length);
      if (next) nextStages.set(gi, next);
    });
    dispatch(state, d, contexts(state, now), input, effects);
  }
  // A running group whose ChirpStack set-up was not carried out (a worker died after the step's write): again.
  if (!campaignNext) {
    state.groups.forEach((grp, gi) => {
      if (isGroupRunning(grp) && !grp.ready && d.devices.size > 0) groupSetUpEffects(state, gi, d, effects);
    });
  }

  let paced = Infinity;
  state.groups.forEach((grp, gi) => {
    if (!isGroupRunning(grp)) return;
    const p = groupPacing(state, gi, now, nextStages.get(gi), effects);
    if (p.nextStage) nextStages.set(gi, p.nextStage);
    paced = Math.min(paced, p.delay);
  });
  if (paced < Infinity) delay = paced;
  for (const [gi, next] of nextStages) {
    const grp = state.groups[gi]!;
    grp.stage = next;
    if (next === 'done' && grp.groupId) effects.push({ kind: 'deleteGroup', group: gi, groupId: grp.groupId });
  }
  // Groups through common gateways take turns (src/campaign/airtime-budget.ts): one that is through hands over
  // to the next, whose session requests go out on the next step, at once.
  let turnStarted = false;
  if (state.stage !== 'setup') turnStarted = takeTurns(state, d, (gi) => machineContext(state, state.groups[gi]!, now), now);
  if (state.stage !== 'setup' || campaignNext) {
    const agg = aggregateStage(state);
    if (agg === 'done') {
      state.stage = 'done';
      d.events.push(report(state, d.devices, now));
      effects.push({ kind: 'release' });
      return result(state, d, effects, null);
    }
    if (agg !== state.stage) {
      state.stage = agg;
      return result(state, d, effects, now);
    }
  }
  if (nextStages.size || turnStarted) return result(state, d, effects, now);
  return result(state, d, effects, now + delay);
}
