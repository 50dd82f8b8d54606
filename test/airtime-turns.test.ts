/**
 * Turn-taking on shared gateways (src/campaign/airtime-budget.ts): groups of a split campaign whose gateways
 * intersect broadcast one after the other, each at its own interval; groups on disjoint gateways side by side.
 * The pure rule, then the pipeline on the harness (virtual time, no Redis).
 */
import { describe, expect, it } from 'vitest';
import {
  commonGateways,
  overlap,
  planTurns,
  shareGateways,
  turnsToStart,
  waitsFor,
  type BudgetGroup,
  type TurnState,
} from '../src/campaign/airtime-budget.js';
import { imageBytesOf, planGroup } from '../src/campaign/group-plan.js';
import type { CampaignState } from '../src/campaign/state.js';
import { turnStateOf } from '../src/campaign/step-groups.js';
import { parseCampaignState, serialiseCampaignState } from '../src/store/campaign-state.js';
import { PipelineHarness, HARNESS_GATEWAYS } from './helpers/pipeline-harness.js';
import { EU_GATEWAY, splitFleetHarness } from './helpers/split-fleet.js';

const g = (over: Partial<BudgetGroup>): BudgetGroup => ({
  gatewayIds: ['a'], region: 'EU868', ownIntervalMs: 5000, ...over,
});
/** A group that holds its gateways for `turnMs`. */
const t = (turnMs: number, over: Partial<BudgetGroup> = {}) => ({ ...g(over), turnMs });

describe('turns on shared gateways (pure)', () => {
  it('lets one of two groups through a common gateway start, the other when the first is through', () => {
    const groups = [g({}), g({ gatewayIds: ['b', 'a'], ownIntervalMs: 4000 })];
    expect(shareGateways(groups[0]!, groups[1]!)).toBe(true);
    expect(commonGateways(groups[1]!, groups[0]!)).toEqual(['a']);
    expect(turnsToStart(groups, ['wait', 'wait'])).toEqual([0]);
    expect(turnsToStart(groups, ['hold', 'wait'])).toEqual([]);
    expect(waitsFor(groups, ['hold', 'wait'], 1)).toEqual([0]);
    expect(turnsToStart(groups, ['free', 'wait'])).toEqual([1]);
  });

  it('starts groups on disjoint gateways together; groups without a list share their region\'s gateways', () => {
    expect(turnsToStart([g({}), g({ gatewayIds: ['b'] })], ['wait', 'wait'])).toEqual([0, 1]);
    expect(turnsToStart([g({ gatewayIds: [] }), g({ gatewayIds: [] })], ['wait', 'wait'])).toEqual([0]);
    expect(turnsToStart([g({ gatewayIds: [] }), g({ gatewayIds: [], region: 'AS923-1' })], ['wait', 'wait'])).toEqual([0, 1]);
    // A group with a list does not share with the region's unnamed gateways.
    expect(turnsToStart([g({ gatewayIds: [] }), g({})], ['wait', 'wait'])).toEqual([0, 1]);
  });

  it('lets a later group whose gateways are free go ahead of an earlier one that waits for others', () => {
    // 0 holds a; 1 waits for a and b; 2 needs only b: 2 starts, and 1 then waits for both.
    const groups = [g({}), g({ gatewayIds: ['a', 'b'] }), g({ gatewayIds: ['b'] })];
    const states: TurnState[] = ['hold', 'wait', 'wait'];
    expect(turnsToStart(groups, states)).toEqual([2]);
    expect(waitsFor(groups, ['hold', 'wait', 'hold'], 1)).toEqual([0, 2]);
  });

  it('plans turns one after the other on a common gateway, each at its own interval', () => {
    const turns = planTurns([t(1000), t(600, { ownIntervalMs: 4000 })]);
    expect(turns).toEqual([
      { startMs: 0, endMs: 1000, intervalMs: 5000 },
      { startMs: 1000, endMs: 1600, intervalMs: 4000 },
    ]);
    expect(overlap(turns[0]!, turns[1]!)).toBe(false);
  });

  it('plans groups on disjoint gateways side by side: sum of turns along a shared gateway, max across', () => {
    const turns = planTurns([t(1000), t(3000, { gatewayIds: ['b'] }), t(700), t(500, { gatewayIds: ['b', 'c'] }), t(200, { gatewayIds: ['d'] })]);
    expect(turns.map((x) => [x.startMs, x.endMs])).toEqual([[0, 1000], [0, 3000], [1000, 1700], [3000, 3500], [0, 200]]);
    expect(overlap(turns[0]!, turns[1]!)).toBe(true);
    expect(overlap(turns[0]!, turns[2]!)).toBe(false);
    expect(overlap(turns[1]!, turns[3]!)).toBe(false);
    expect(Math.max(...turns.map((x) => x.endMs))).toBe(Math.max(1000 + 700, 3000 + 500, 200));
  });
});

/** Per group: its multicast stage from its session start to its last multicast frame, and its fragment effects. */
function windows(h: PipelineHarness): { startMs: number; endMs: number; fragAt: number[] }[] {
  return h.state.groups.map((grp, gi) => {
    const mc = h.effects.filter((x) => (x.effect.kind === 'fragment' || x.effect.kind === 'statusRequest') && x.effect.group === gi);
    return {
      startMs: grp.session!.startMs,
      endMs: Math.max(...mc.map((x) => x.at)),
      fragAt: mc.filter((x) => x.effect.kind === 'fragment').map((x) => x.at),
    };
  });
}

/** Gaps between consecutive fragments of a group (a repair round's first one after the status window included). */
function gaps(at: number[]): number[] {
  return at.slice(1).map((t, i) => t - at[i]!);
}

describe('a campaign of two groups through the same gateways', () => {
  // TS004 v1 and v2 stacks in one EU868 Class C fleet: two groups, both through the harness's two gateways.
  const h = new PipelineHarness({ devices: 40, loss: 0.05, seed: 5, imageBytes: 2048, mix: { 'loramac-node': 1, 'lbm-v2': 1 } });
  h.run({ maxMs: 12 * 3600_000, maxSteps: 30_000 });
  const w = windows(h);

  it('updates every device in two groups', () => {
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 40 });
    expect(h.state.groups.map((x) => `${x.key.region}/${x.key.groupType}/v${x.key.rule}`)).toEqual(['EU868/C/v1', 'EU868/C/v2']);
  });

  it('never overlaps their multicast stages: the second session starts after the first group\'s last frame', () => {
    expect(w.every((x) => x.fragAt.length > 0)).toBe(true);
    expect(overlap(w[0]!, w[1]!)).toBe(false);
    expect(w[1]!.startMs).toBeGreaterThan(w[0]!.endMs);
    const [t0, t1] = h.state.groups.map((x) => x.turn!);
    expect(t1!.startMs).toBe(t0!.endMs);
    expect(t1!.waitedMs).toBe(t0!.endMs! - t0!.startMs!);
    expect(t0!.waitedMs).toBe(0);
  });

  it('broadcasts each group at its own interval: two gateways x the 5 s margin, not twice that', () => {
    for (const [gi, grp] of h.state.groups.entries()) {
      const own = planGroup(h.state.spec, grp.key, imageBytesOf(grp.plan));
      expect(grp.plan.fragmentIntervalMs).toBe(own.fragmentIntervalMs);
      expect(grp.plan.fragmentIntervalMs).toBe(HARNESS_GATEWAYS.slice(0, 2).length * 5000);
      const d = gaps(w[gi]!.fragAt);
      expect(Math.min(...d)).toBe(grp.plan.fragmentIntervalMs);
      // Within a burst the fragments go out exactly one interval apart.
      expect(d.filter((x) => x === grp.plan.fragmentIntervalMs).length).toBeGreaterThanOrEqual(grp.plan.nbFrag);
    }
  });

  it('tells operators why the second group waits and when its turn starts', () => {
    const turnEvents = h.events.filter((e) => String(e.type).startsWith('turn'));
    expect(turnEvents.map((e) => `${String(e.type)}:${String(e.group ?? '')}`)).toEqual(['turnPlan:', 'turnStart:0', 'turnWait:1', 'turnEnd:0', 'turnStart:1', 'turnEnd:1']);
    expect(turnEvents[2]).toMatchObject({ waitsFor: [0], gateways: HARNESS_GATEWAYS.slice(0, 2), key: 'EU868/C/v2' });
    const plan = turnEvents[0] as { groups: { group: number; startInSeconds: number; endInSeconds: number; fragmentIntervalMs: number }[]; etaSeconds: number };
    expect(plan.groups[1]!.startInSeconds).toBe(plan.groups[0]!.endInSeconds);
    expect(plan.groups.map((x) => x.fragmentIntervalMs)).toEqual([10_000, 10_000]);
    expect(plan.etaSeconds).toBeGreaterThan(plan.groups[1]!.endInSeconds);
    const report = h.events.find((e) => e.type === 'report') as { groups: { turnStartSeconds: number; turnEndSeconds: number; waitedSeconds: number }[] };
    expect(report.groups[1]!.turnStartSeconds).toBe(report.groups[0]!.turnEndSeconds);
    expect(report.groups[1]!.waitedSeconds).toBeGreaterThan(0);
  });

  it('stores the turns and reads back a state stored before groups took turns', () => {
    const record = (data: Record<string, string>) => ({
      id: h.state.id, name: 'turns', stage: h.state.stage, createdAt: 0, updatedAt: 0, spec: h.state.spec,
      data: { ...data, plan: JSON.stringify(h.state.groups[0].plan), ruleVersion: '1', targetVersion: String(h.state.targetVersion) },
    });
    const fields = serialiseCampaignState(h.state);
    expect(fields.turnStartMs).toBe(String(h.state.groups[0].turn!.startMs));
    expect(parseCampaignState(record(fields))).toEqual(h.state);
    // Without the turn fields: no turn, and a running group of such a state sends whenever it is due.
    const { turnFromMs: _a, turnStartMs: _b, turnEndMs: _c, turnWaitedMs: _d, ...old } = fields;
    const g1 = JSON.parse(old.g1!) as Record<string, unknown>;
    delete g1.turn;
    const legacy: CampaignState = parseCampaignState(record({ ...old, g1: JSON.stringify(g1) }));
    expect(legacy.groups.map((x) => x.turn)).toEqual([undefined, undefined]);
    expect(turnStateOf({ ...legacy.groups[1]!, stage: 'broadcast' })).toBe('hold');
    expect(() => parseCampaignState(record({ ...old, g1: JSON.stringify({ ...g1, turn: { fromMs: 1 } }) }))).toThrow(/g1\.turn/);
    // A group still waiting: no start or end yet.
    const waiting = { ...h.state, groups: h.state.groups.map((x, i) => (i === 1 ? { ...x, turn: { fromMs: 5, waitedMs: 0 } } : x)) as CampaignState['groups'] };
    expect(JSON.parse(serialiseCampaignState(waiting).g1!).turn).toEqual([5, null, null, 0]);
    expect(parseCampaignState(record(serialiseCampaignState(waiting))).groups[1]!.turn).toEqual({ fromMs: 5, waitedMs: 0 });
  });
});

describe('a campaign of two groups through disjoint gateways', () => {
  const AS_GATEWAY = '0016c001f153a1aa';
  const { h } = splitFleetHarness({
    devices: 40,
    loss: 0.05,
    seed: 9,
    imageBytes: 2048,
    extraGateways: [{ gatewayId: AS_GATEWAY, region: 'AS923-1' }],
    profiles: { eu: { region: 'EU868', supportsClassC: true }, as: { region: 'AS923-1', supportsClassC: true } },
    profileOf: (i) => (i % 2 === 0 ? 'eu' : 'as'),
    spec: (s) => ({ ...s, multicast: { ...s.multicast, gatewayIds: [EU_GATEWAY], byRegion: { 'AS923-1': { dr: 5, gatewayIds: [AS_GATEWAY] } } } }),
  });
  h.run({ maxMs: 12 * 3600_000, maxSteps: 30_000 });
  const w = windows(h);

  it('runs them side by side, each at its own interval, with no turn events', () => {
    expect(h.byStatus()).toEqual({ Updated: 40 });
    expect(h.state.groups.map((x) => x.key.region)).toEqual(['EU868', 'AS923-1']);
    expect(overlap(w[0]!, w[1]!)).toBe(true);
    expect(h.state.groups.map((x) => x.turn!.startMs)).toEqual([h.state.groups[0].turn!.fromMs, h.state.groups[0].turn!.fromMs]);
    for (const [gi, grp] of h.state.groups.entries()) {
      expect(grp.plan.fragmentIntervalMs).toBe(planGroup(h.state.spec, grp.key, imageBytesOf(grp.plan)).fragmentIntervalMs);
      expect(Math.min(...gaps(w[gi]!.fragAt))).toBe(grp.plan.fragmentIntervalMs);
    }
    expect(h.events.filter((e) => String(e.type).startsWith('turn'))).toEqual([]);
  });
});
