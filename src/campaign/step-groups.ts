/**
 * The multicast groups of a campaign step (pure): creating a group when a device of a new key is discovered,
 * starting the groups when the set-up ends, taking turns on common gateways (src/campaign/airtime-budget.ts), and
 * each group's own session -> broadcast <-> status -> apply -> cleanup -> done, run on its own devices.
 */
import { pace } from './pacing.js';
import { createHash } from 'node:crypto';
import { encodeCommands } from '../codec/frame.js';
import { gpsToUnixMs, unixMsToGps } from '../codec/gpstime.js';
import { mcSessionKeys } from '../codec/keys.js';
import { commonGateways, contended, planTurns, shareGateways, turnsToStart, waitsFor, type BudgetGroup, type TurnState } from './airtime-budget.js';
import { finish, type MachineContext } from './device-machine.js';
import { apply, count, type Draft } from './draft.js';
import type { Effect } from './effects.js';
import { budgetOf, imageBytesOf, planGroup } from './group-plan.js';
import { groupKeyOf, groupParams, keyString, sameKey, type GroupKey, type ProfileFacts } from './grouping.js';
import { baseVersions, imageBytesFor } from './images.js';
import { groupImageFigures } from './savings.js';
import { STAGES, type DevicePhase, type DeviceState, type Stage } from './model.js';
import { checkApply, evaluateStatus, statusWaitMs } from './repair-round.js';
import type { CampaignState, GroupState } from './state.js';

/** ChirpStack's default multicast_class_b_margin. */
const CLASS_B_MARGIN_MS = 5000;

/** The stages a group runs on its own. */
const GROUP_STAGES: readonly Stage[] = ['session', 'broadcast', 'status', 'apply', 'cleanup'];

/** The stages in which a group sends multicast frames (or opens the session its frames go to). */
const MULTICAST_STAGES: readonly Stage[] = ['session', 'broadcast', 'status'];

/**
 * Phases of a pending device that may still need its group's multicast during apply: a session to open, or
 * fragments (a device whose DevUpgradeImageAns says "no image" goes back to listening and gets a repair round).
 */
const AWAITING_MULTICAST: readonly DevicePhase[] = ['ready', 'session', 'listening', 'complete', 'upgrade'];

/**
 * McAddr and McKey of group i > 0, derived from the first group's (drawn by the caller): distinct per group, and
 * the same on every replay of the step.
 */
function derivedKeys(first: GroupState, i: number): { mcAddr: number; mcKeyHex: string } {
  const h = createHash('sha256').update(Buffer.from(first.mcKeyHex, 'hex')).update(`lorafuota group ${i}`).digest();
  let mcAddr = (first.mcAddr + i) >>> 0;
  if (mcAddr === 0) mcAddr = 1;
  return { mcAddr, mcKeyHex: h.subarray(0, 16).toString('hex') };
}

function newGroup(c: CampaignState, key: GroupKey): GroupState {
  const first = c.groups[0];
  const i = c.groups.length;
  const { mcAddr, mcKeyHex } = derivedKeys(first, i);
  return {
    key,
    stage: 'setup',
    mcGroupId: first.mcGroupId,
    mcAddr,
    mcKeyHex,
    ruleVersion: key.rule,
    plan: planGroup(c.spec, key, imageBytesFor(c.images, key, imageBytesOf(first.plan))),
    mcFCnt: 0,
    fragAirMs: 0,
    broadcast: { startMs: 0, startN: 1, nextN: 1, targetN: 0 },
    status: { sentN: 0 },
    repair: { rounds: 0 },
    fragmentsSent: 0,
    airtimeMs: 0,
  };
}

/**
 * Puts every device whose key became known (its TS004 version answered) into the group of its key, creating the
 * group if needed. New groups are only formed during the set-up; a device discovered later whose key has no group
 * fails alone.
 */
export function assignGroups(c: CampaignState, d: Draft, profiles: ReadonlyMap<string, ProfileFacts> | undefined, now: number): void {
  for (const [eui, st] of d.devices) {
    // Past discovery without a group: a campaign stored before campaigns split; its devices stay in group 0.
    if (st.g !== undefined || st.s !== 'Pending' || st.p !== 'discover') continue;
    const key = groupKeyOf(c.spec, st, profiles?.get(eui), baseVersions(c.images));
    if (!key) continue;
    let gi = c.groups.findIndex((g) => sameKey(g.key, key));
    if (gi < 0 && c.stage === 'setup') {
      try {
        c.groups.push(newGroup(c, key));
        gi = c.groups.length - 1;
        d.events.push({ type: 'group', group: gi, key: keyString(key), fragSize: c.groups[gi]!.plan.fragSize, nbFrag: c.groups[gi]!.plan.nbFrag, ...groupImageFigures(c, c.groups[gi]!) });
      } catch (e) {
        const s = finish(st, 'PackageNotSupported', `no multicast group for ${keyString(key)}: ${(e as Error).message}`, now);
        apply(d, eui, { state: s, event: { type: 'device', phase: s.p, status: s.s, reason: s.r } });
        continue;
      }
    }
    if (gi < 0 || c.groups[gi]!.stage === 'done') {
      const s = finish(st, 'PackageNotSupported', `${keyString(key)} device discovered after the set-up; no group of its key is running`, now);
      apply(d, eui, { state: s, event: { type: 'device', phase: s.p, status: s.s, reason: s.r } });
      continue;
    }
    apply(d, eui, { state: { ...st, g: gi } });
  }
}

/** The devices of group `gi` as a draft of their own (merged back with `mergeDraft`). */
export function subDraft(d: Draft, gi: number): Draft {
  const devices = new Map<string, DeviceState>();
  for (const [eui, st] of d.devices) if ((st.g ?? 0) === gi) devices.set(eui, st);
  return { devices, changed: new Map(), events: [], replies: [] };
}

export function mergeDraft(d: Draft, sub: Draft, gi: number, groups: number): void {
  for (const [eui, st] of sub.changed) {
    d.devices.set(eui, st);
    d.changed.set(eui, st);
  }
  for (const e of sub.events) d.events.push(groups > 1 && e.type !== 'device' ? { ...e, group: gi } : e);
  d.replies.push(...sub.replies);
}

/**
 * The set-up is over: create the groups that have ready devices in ChirpStack and queue them for their turns on
 * their gateways; those whose gateways are free start at once (their session is set now), the others when the
 * groups ahead of them are through. Groups without a ready device end here.
 */
export function startSessions(c: CampaignState, d: Draft, ctxOf: (gi: number) => MachineContext, now: number, effects: Effect[]): void {
  const active = c.groups.map((_, gi) => [...d.devices.values()].some((s) => (s.g ?? 0) === gi && s.p === 'ready'));
  const waiting = new Set<number>();
  c.groups.forEach((g, gi) => {
    if (!active[gi]) {
      g.stage = 'done';
      return;
    }
    groupSetUpEffects(c, gi, d, effects);
    // Each group broadcasts at its own plan's interval: during its turn it has its gateways to itself.
    g.turn = { fromMs: now, waitedMs: 0 };
    g.stage = 'session';
    waiting.add(gi);
  });
  turnPlanEvent(c, d, ctxOf, now);
  takeTurns(c, d, ctxOf, now, waiting);
}

/**
 * The group's multicast session, starting now. The session request reaches each device on its next uplink; leave
 * room for its retries (up to five lost downlinks), so that hardly any device opens its window late: a late
 * device needs more fragments than its radio losses alone, and the whole fleet would pay for them.
 */
function sessionFrom(c: CampaignState, g: GroupState, mctx: MachineContext, now: number): NonNullable<GroupState['session']> {
  const spec = c.spec;
  const m = groupParams(spec, g.key);
  const uplinkMs = spec.timing.uplinkIntervalS * 1000;
  const attempts = Math.min(spec.timing.unicastRetries + 1, 6);
  const timeGps = unixMsToGps(now + attempts * mctx.answerTimeoutMs + uplinkMs);
  const startMs = gpsToUnixMs(timeGps);
  const lengthS = m.groupType === 'C' ? 2 ** g.plan.sessionTimeOut : 128 * 2 ** g.plan.sessionTimeOut;
  return { timeGps, startMs, endMs: startMs + lengthS * 1000 };
}

/**
 * Expected length of a group's turn: the session request's lead, the first broadcast at the group's own
 * interval, one status round and the DevUpgradeImageReq exchange (the turn lasts until every device has said
 * whether it has the image).
 */
export function turnEstimateMs(c: CampaignState, g: GroupState, answerTimeoutMs: number): number {
  const t = c.spec.timing;
  const uplinkMs = t.uplinkIntervalS * 1000;
  const leadMs = Math.min(t.unicastRetries + 1, 6) * answerTimeoutMs + uplinkMs + 1000;
  const broadcastMs = (g.plan.nbFrag + g.plan.initialCoded) * g.plan.fragmentIntervalMs;
  return leadMs + broadcastMs + statusWaitMs(g.plan, t.uplinkIntervalS) + answerTimeoutMs;
}

/**
 * With several groups on common gateways, the expected turns (from now) and the campaign's ETA they make: one
 * after the other on common gateways, side by side on disjoint ones; after a group's turn its devices reboot and
 * are asked their version.
 */
function turnPlanEvent(c: CampaignState, d: Draft, ctxOf: (gi: number) => MachineContext, now: number): void {
  const idx = c.groups.flatMap((g, gi) => (g.turn ? [gi] : []));
  const budgets = idx.map((gi) => budgetOf(c.spec, c.groups[gi]!.key, c.groups[gi]!.plan));
  if (!budgets.some((_, k) => contended(budgets, k))) return;
  const turnMs = idx.map((gi) => turnEstimateMs(c, c.groups[gi]!, ctxOf(gi).answerTimeoutMs));
  const turns = planTurns(budgets.map((b, k) => ({ ...b, turnMs: turnMs[k]! })));
  const tailMs = (gi: number) => c.spec.timing.rebootDelayS * 1000 + 2 * ctxOf(gi).answerTimeoutMs;
  const endMs = Math.max(...idx.map((gi, k) => turns[k]!.endMs + tailMs(gi)));
  d.events.push({
    type: 'turnPlan',
    groups: idx.map((gi, k) => ({
      group: gi,
      key: keyString(c.groups[gi]!.key),
      startInSeconds: Math.round(turns[k]!.startMs / 1000),
      endInSeconds: Math.round(turns[k]!.endMs / 1000),
      fragmentIntervalMs: turns[k]!.intervalMs,
    })),
    etaSeconds: Math.ceil((now - (c.startedAtMs ?? now) + endMs) / 1000),
  });
}

/** Where a group is with respect to its turn on its gateways. */
export function turnStateOf(g: GroupState): TurnState {
  if (!isGroupRunning(g)) return 'free';
  // Stored before groups took turns: the group runs whenever it is due.
  if (!g.turn) return 'hold';
  if (g.turn.startMs === undefined) return 'wait';
  return g.turn.endMs === undefined ? 'hold' : 'free';
}

/** Whether a group still needs its gateways: its multicast stage, or devices that may still need a repair round. */
function needsAirtime(g: GroupState, gi: number, d: Draft): boolean {
  if (MULTICAST_STAGES.includes(g.stage)) return true;
  if (g.stage !== 'apply') return false;
  for (const s of d.devices.values()) if ((s.g ?? 0) === gi && s.s === 'Pending' && AWAITING_MULTICAST.includes(s.p)) return true;
  return false;
}

/**
 * Turn-taking on common gateways, after the groups' stages of this step: a holding group that no longer needs its
 * gateways gives them up; a group whose turn was over but that needs them again (a repair round it could not
 * finish in its turn) queues again; waiting groups whose gateways are free start their turn, their session set
 * from now. `waiting`: groups that began to wait in this step (announced with a `turnWait` event if they still
 * wait). Returns whether a turn started.
 *
 * A group's turn covers its session, broadcast, status and repair rounds, and lasts until every device of it has
 * said whether it has the image: every repair round it can need happens within its turn, before the next group
 * on its gateways starts.
 */
export function takeTurns(c: CampaignState, d: Draft, ctxOf: (gi: number) => MachineContext, now: number, waiting: Set<number> = new Set()): boolean {
  const budgets: BudgetGroup[] = c.groups.map((g) => budgetOf(c.spec, g.key, g.plan));
  // Only groups that took part in the turns (those that ran when the set-up ended) can make one another wait.
  const inTurns = c.groups.map((g) => g.turn !== undefined);
  const busy = (gi: number) => c.groups.some((_, j) => j !== gi && inTurns[j] && shareGateways(budgets[gi]!, budgets[j]!));
  const ev = (type: string, gi: number, extra: Record<string, unknown>) => d.events.push({ type, group: gi, key: keyString(c.groups[gi]!.key), ...extra });
  c.groups.forEach((g, gi) => {
    const t = g.turn;
    if (!t) return;
    const state = turnStateOf(g);
    if (state === 'hold' && !needsAirtime(g, gi, d)) {
      t.endMs = now;
      if (busy(gi)) ev('turnEnd', gi, { heldSeconds: Math.round((now - t.startMs!) / 1000) });
    } else if (state === 'free' && isGroupRunning(g) && MULTICAST_STAGES.includes(g.stage)) {
      g.turn = { fromMs: now, waitedMs: t.waitedMs };
      waiting.add(gi);
    }
  });
  const states = c.groups.map(turnStateOf);
  let started = false;
  for (const gi of turnsToStart(budgets, states)) {
    const g = c.groups[gi]!;
    const t = g.turn!;
    t.startMs = now;
    t.waitedMs += now - t.fromMs;
    if (!g.session) g.session = sessionFrom(c, g, ctxOf(gi), now);
    states[gi] = 'hold';
    started = true;
    if (busy(gi)) ev('turnStart', gi, { waitedSeconds: Math.round((now - t.fromMs) / 1000), fragmentIntervalMs: g.plan.fragmentIntervalMs, sessionStartMs: g.session.startMs });
  }
  for (const gi of waiting) {
    if (states[gi] !== 'wait') continue;
    const ahead = waitsFor(budgets, states, gi);
    ev('turnWait', gi, { waitsFor: ahead, gateways: [...new Set(ahead.flatMap((j) => commonGateways(budgets[gi]!, budgets[j]!)))] });
  }
  return started;
}

/**
 * Creating (unless it has an id) and filling group `gi` in ChirpStack: at the end of the set-up, and again on
 * every later step until the group is ready (a worker may have died before carrying it out).
 */
export function groupSetUpEffects(c: CampaignState, gi: number, d: Draft, effects: Effect[]): void {
    const spec = c.spec;
    const g = c.groups[gi]!;
    const m = groupParams(spec, g.key);
    const mcKey = Buffer.from(g.mcKeyHex, 'hex');
    const { mcAppSKey, mcNwkSKey } = mcSessionKeys(mcKey, g.mcAddr);
    const groupType = m.groupType === 'B' ? 'CLASS_B' : 'CLASS_C';
    const devEuis = [...d.devices].filter(([, s]) => (s.g ?? 0) === gi && s.s === 'Pending').map(([eui]) => eui);
    if (!g.groupId) {
      effects.push({
        kind: 'createGroup',
        group: gi,
        params: {
          name: c.groups.length > 1 ? `lorafuota-${c.id}-${gi}` : `lorafuota-${c.id}`,
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
    effects.push({ kind: 'fillGroup', group: gi, devEuis, gatewayIds: m.gatewayIds });
}

/** A group's decision once its devices were looked at: its next stage, if it moves on. */
export function groupDecision(c: CampaignState, gi: number, d: Draft, mctx: MachineContext, now: number): Stage | undefined {
  const g = c.groups[gi]!;
  switch (g.stage) {
    case 'session': {
      // Waiting for its turn: no session yet.
      if (!g.session) return undefined;
      // Broadcast once every device that is still being offered the session has its window open: a device whose
      // request was lost and re-sent opens later, and would otherwise need many more fragments than its losses.
      const start = g.session?.startMs ?? now;
      const waitLimit = start + 3 * mctx.answerTimeoutMs;
      const pending = count(d, (s) => s.s === 'Pending' && (s.p === 'ready' || s.p === 'session'));
      let opens = start;
      for (const s of d.devices.values()) {
        if (s.p === 'listening' && s.tts && s.tts[0] !== 0xffffff) opens = Math.max(opens, s.tts[1] + s.tts[0] * 1000);
      }
      const bStart = Math.min(opens, waitLimit);
      if (now >= bStart && (pending === 0 || now >= waitLimit)) {
        g.broadcast = { startMs: bStart + 1000, startN: 1, nextN: 1, targetN: g.plan.nbFrag + g.plan.initialCoded };
        return 'broadcast';
      }
      return undefined;
    }
    case 'status':
      return evaluateStatus(c, g, d, now);
    case 'apply':
      return checkApply(c, g, d, now);
    case 'cleanup':
      return count(d, (s) => s.p !== 'final') === 0 ? 'done' : undefined;
    default:
      return undefined;
  }
}

/** A group's multicast frames due now (fragments ahead of schedule, the status request); its next step delay. */
export function groupPacing(c: CampaignState, gi: number, now: number, nextStage: Stage | undefined, effects: Effect[]): { nextStage: Stage | undefined; delay: number } {
  const g = c.groups[gi]!;
  const spec = c.spec;
  const uplinkMs = spec.timing.uplinkIntervalS * 1000;
  let delay = uplinkMs / 4;
  // No multicast frame before the ChirpStack group is ready (its set-up is re-sent until it is), nor outside the
  // group's turn on its gateways.
  if (!g.ready || turnStateOf(g) !== 'hold') return { nextStage, delay };
  if (g.stage === 'broadcast') {
    // One fragment when it is due, with an expiry (src/campaign/pacing.ts): ChirpStack's queue stays empty between
    // fragments, so its Class C margin never spaces them closer than the plan.
    // Class B: ChirpStack puts an item at the first ping slot after its Class B margin (5 s by default), so the
    // expiry leaves room for the margin and one ping period (2^periodicity x 0.96 s) beyond the interval.
    const params = groupParams(spec, g.key);
    const expiryAfter = params.groupType === 'B'
      ? g.plan.fragmentIntervalMs + CLASS_B_MARGIN_MS + 960 * 2 ** (params.classBPeriodicity ?? 0)
      : g.plan.fragmentIntervalMs;
    const p = pace(g.broadcast, g.plan.fragmentIntervalMs, now, expiryAfter);
    g.broadcast = p.broadcast;
    if (p.fragment) effects.push({ kind: 'fragment', group: gi, n: p.fragment.n, expiresAtMs: p.fragment.expiresAtMs });
    if (p.finished) {
      nextStage = 'status';
      delete g.status.askedAt;
    }
    delay = Math.max(1, Math.min(uplinkMs / 2, p.nextDueMs - now));
  }
  if (g.stage === 'status' && g.status.askedAt === undefined && !nextStage) {
    // Every receiver answers (Participants = 1): the answers are the repair planner's input.
    const commands = [{ type: 'FragSessionStatusReq' as const, fragIndex: spec.fragmentation.fragIndex, participants: true }];
    const hex = Buffer.from(encodeCommands('ts004', 'downlink', commands)).toString('hex');
    effects.push({ kind: 'statusRequest', group: gi, at: now, commands, hex });
    g.status.sentN = g.broadcast.nextN - 1;
    delay = statusWaitMs(g.plan, spec.timing.uplinkIntervalS);
  }
  return { nextStage, delay };
}

export function isGroupRunning(g: GroupState): boolean {
  return GROUP_STAGES.includes(g.stage);
}

/**
 * The campaign's stage once its groups run: the earliest stage of a group still running, or done. A group waiting
 * for its turn does not count (it has not started): the campaign is in the stage of the groups on air, and goes
 * back to `session` when a later group's turn starts.
 */
export function aggregateStage(c: CampaignState): Stage {
  let best: Stage = 'done';
  let waiting = false;
  for (const g of c.groups) {
    if (g.stage === 'done') continue;
    if (turnStateOf(g) === 'wait') {
      waiting = true;
      continue;
    }
    if (STAGES.indexOf(g.stage as (typeof STAGES)[number]) < STAGES.indexOf(best as (typeof STAGES)[number])) best = g.stage;
  }
  return best === 'done' && waiting ? 'session' : best;
}
