/**
 * The multicast groups of a campaign step (pure): creating a group when a device of a new key is discovered,
 * planning the groups' sessions together when the set-up ends (they share the airtime of common gateways), and
 * each group's own session -> broadcast <-> status -> apply -> cleanup -> done, run on its own devices.
 */
import { pace } from './pacing.js';
import { createHash } from 'node:crypto';
import { encodeCommands } from '../codec/frame.js';
import { gpsToUnixMs, unixMsToGps } from '../codec/gpstime.js';
import { mcSessionKeys } from '../codec/keys.js';
import { sharedIntervals } from './airtime-budget.js';
import { finish, type MachineContext } from './device-machine.js';
import { apply, count, type Draft } from './draft.js';
import type { Effect } from './effects.js';
import { budgetOf, imageBytesOf, planGroup } from './group-plan.js';
import { groupKeyOf, groupParams, keyString, sameKey, type GroupKey, type ProfileFacts } from './grouping.js';
import { baseVersions, imageBytesFor } from './images.js';
import { groupImageFigures } from './savings.js';
import { STAGES, type DeviceState, type Stage } from './model.js';
import { checkApply, evaluateStatus, statusWaitMs } from './repair-round.js';
import type { CampaignState, GroupState } from './state.js';

/** ChirpStack's default multicast_class_b_margin. */
const CLASS_B_MARGIN_MS = 5000;

/** The stages a group runs on its own. */
const GROUP_STAGES: readonly Stage[] = ['session', 'broadcast', 'status', 'apply', 'cleanup'];

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
 * The set-up is over: plan the groups that have ready devices together (shared gateways, shared airtime budget),
 * create them in ChirpStack and set each one's session. Groups without a ready device end here.
 */
export function startSessions(c: CampaignState, d: Draft, ctxOf: (gi: number) => MachineContext, now: number, effects: Effect[]): void {
  const spec = c.spec;
  const active = c.groups.map((_, gi) => [...d.devices.values()].some((s) => (s.g ?? 0) === gi && s.p === 'ready'));
  const running = c.groups.filter((_, gi) => active[gi]);
  const intervals = sharedIntervals(running.map((g) => budgetOf(spec, g.key, g.plan)));
  let k = 0;
  c.groups.forEach((g, gi) => {
    if (!active[gi]) {
      g.stage = 'done';
      return;
    }
    const interval = intervals[k++]!;
    if (interval > g.plan.fragmentIntervalMs) g.plan = planGroup(spec, g.key, imageBytesOf(g.plan), interval);
    const m = groupParams(spec, g.key);
    groupSetUpEffects(c, gi, d, effects);
    // The session request reaches each device on its next uplink; leave room for its retries (up to five lost
    // downlinks), so that hardly any device opens its window late: a late device needs more fragments than its
    // radio losses alone, and the whole fleet would pay for them.
    const mctx = ctxOf(gi);
    const uplinkMs = spec.timing.uplinkIntervalS * 1000;
    const attempts = Math.min(spec.timing.unicastRetries + 1, 6);
    const timeGps = unixMsToGps(now + attempts * mctx.answerTimeoutMs + uplinkMs);
    const startMs = gpsToUnixMs(timeGps);
    const lengthS = m.groupType === 'C' ? 2 ** g.plan.sessionTimeOut : 128 * 2 ** g.plan.sessionTimeOut;
    g.session = { timeGps, startMs, endMs: startMs + lengthS * 1000 };
    g.stage = 'session';
  });
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
  // No multicast frame before the ChirpStack group is ready (its set-up is re-sent until it is).
  if (!g.ready) return { nextStage, delay };
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

/** The campaign's stage once its groups run: the earliest stage of a group still running, or done. */
export function aggregateStage(c: CampaignState): Stage {
  let best: Stage = 'done';
  for (const g of c.groups) {
    if (g.stage === 'done') continue;
    if (STAGES.indexOf(g.stage as (typeof STAGES)[number]) < STAGES.indexOf(best as (typeof STAGES)[number])) best = g.stage;
  }
  return best;
}
