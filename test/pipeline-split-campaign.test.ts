/**
 * One campaign over a fleet of several device profiles, regions, TS004 versions and classes: the campaign splits
 * itself into one multicast group per region × class × parity rule and updates every device (harness, virtual
 * time, no Redis).
 */
import { describe, expect, it } from 'vitest';
import { campaignView } from '../src/api/campaign-view.js';
import { planGroup } from '../src/campaign/group-plan.js';
import { parseCampaignState, serialiseCampaignState } from '../src/store/campaign-state.js';
import { groupParams } from '../src/campaign/grouping.js';
import { EU_GATEWAY, splitFleetHarness } from './helpers/split-fleet.js';

const AS_GATEWAY = '0016c001f153a1aa';
const TARGET = 0x01010000;

describe('a campaign over three device profiles through two gateways', () => {
  // EU868 Class C with TS004 v1 stacks, EU868 Class B with TS004 v2 (LBM v2), AS923-1 Class C with dwell time on.
  const { h, profileOf } = splitFleetHarness({
    devices: 300,
    loss: 0.1,
    seed: 71,
    imageBytes: 4096,
    mix: { 'loramac-node': 1, 'lbm-v1': 1, 'lbm-v2': 1 },
    extraGateways: [{ gatewayId: AS_GATEWAY, region: 'AS923-1' }],
    dwellTime: true,
    profiles: {
      'eu-c': { region: 'EU868', supportsClassC: true },
      'eu-b': { region: 'EU868', supportsClassB: true, supportsClassC: false },
      'as-c': { region: 'AS923-1', supportsClassC: true },
    },
    profileOf: (i, stack) => (stack === 'lbm-v2' ? 'eu-b' : i % 2 === 0 ? 'eu-c' : 'as-c'),
    spec: (s) => ({
      ...s,
      multicast: {
        ...s.multicast,
        groupType: 'auto',
        gatewayIds: [EU_GATEWAY],
        classBPeriodicity: 0,
        byRegion: { 'AS923-1': { dr: 5, dwellTime: true, gatewayIds: [AS_GATEWAY] } },
      },
    }),
  });
  h.run({ maxMs: 24 * 3600_000, maxSteps: 60_000 });
  const report = h.events.find((e) => e.type === 'report')!;
  const groups = (report?.groups ?? []) as { group: number; key: string; devices: number; updated: number; fragSize: number; fragmentsSent: number; fragmentIntervalMs: number; airtimeSeconds: number }[];

  it('updates all 300 devices in one campaign', () => {
    for (const [eui, d] of h.devices) if (d.s !== 'Updated') console.log(eui, profileOf.get(eui), h.stacks.get(eui), JSON.stringify(d));
    expect(h.state.error ?? '').toBe('');
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 300 });
    for (const d of h.sim) expect(d.state.runningVersion).toBe(TARGET);
  });

  it('formed one group per region × class × parity rule', () => {
    expect(groups.map((g) => g.key).sort()).toEqual(['AS923-1/C/v1', 'EU868/B/v2', 'EU868/C/v1']);
    const want: Record<string, string> = { 'eu-c': 'EU868/C/v1', 'eu-b': 'EU868/B/v2', 'as-c': 'AS923-1/C/v1' };
    for (const [eui, d] of h.devices) expect(groups[d.g!]!.key).toBe(want[profileOf.get(eui)!]);
    for (const g of groups) expect(g.updated).toBe(g.devices);
  });

  it('plans each group for its region: AS923-1 fragments fit the dwell time at DR5', () => {
    const as = h.state.groups.find((g) => g.key.region === 'AS923-1')!;
    const eu = h.state.groups.find((g) => g.key.region === 'EU868' && g.key.groupType === 'C')!;
    expect(as.plan.fragmentAirtimeMs).toBeLessThanOrEqual(400);
    expect(groupParams(h.state.spec, as.key)).toMatchObject({ dr: 5, dwellTime: true, gatewayIds: [AS_GATEWAY] });
    expect(groupParams(h.state.spec, eu.key)).toMatchObject({ dr: 5, dwellTime: false, gatewayIds: [EU_GATEWAY] });
    // At DR2 the dwell time would leave 8-byte fragments.
    expect(planGroup({ ...h.state.spec, multicast: { ...h.state.spec.multicast, byRegion: { 'AS923-1': { dr: 2, dwellTime: true } } } }, as.key, 1024).fragSize).toBe(8);
  });

  it('broadcasts the two EU868 groups one after the other, each at its own pace; the AS923-1 group alongside', () => {
    // Per group: from its session start to its last multicast frame (fragments and status requests).
    const span = h.state.groups.map((g, gi) => {
      const mc = h.effects.filter((x) => (x.effect.kind === 'fragment' || x.effect.kind === 'statusRequest') && x.effect.group === gi);
      return { startMs: g.session!.startMs, endMs: Math.max(...mc.map((x) => x.at)), frags: mc.filter((x) => x.effect.kind === 'fragment').map((x) => x.at) };
    });
    const [a, b] = h.state.groups.flatMap((g, gi) => (g.key.region === 'EU868' ? [gi] : []));
    const as = h.state.groups.findIndex((g) => g.key.region === 'AS923-1');
    expect([a, b]).toEqual([0, 1]);
    // The second EU868 group opens its session only after the first sent its last frame: they never overlap.
    expect(span[b!]!.startMs).toBeGreaterThan(span[a!]!.endMs);
    // The AS923-1 group, on its own gateway, broadcasts while the first EU868 group does.
    expect(span[as]!.startMs).toBeLessThan(span[a!]!.endMs);
    expect(span[a!]!.startMs).toBeLessThan(span[as]!.endMs);
    // Each has its gateway to itself during its turn: one ChirpStack margin (5 s) for Class C, the Class B group's
    // own duty-cycle spacing plus one ping period; no fragment closer than that.
    for (const [gi, g] of h.state.groups.entries()) {
      expect(g.plan.fragmentIntervalMs).toBe(planGroup(h.state.spec, g.key, 4096).fragmentIntervalMs);
      const f = span[gi]!.frags;
      expect(Math.min(...f.slice(1).map((t, i) => t - f[i]!))).toBe(g.plan.fragmentIntervalMs);
    }
    for (const g of h.state.groups.filter((x) => x.key.groupType === 'C')) expect(g.plan.fragmentIntervalMs).toBe(5000);
    // The events say why the second EU868 group waited, and when its turn came.
    const turns = h.events.filter((e) => e.type === 'turnWait' || e.type === 'turnStart' || e.type === 'turnEnd').map((e) => `${String(e.type)}:${String(e.group)}`);
    // (The AS923-1 group shares no gateway: it never waits, and its turn is not announced.)
    expect(turns).toEqual(['turnStart:0', 'turnWait:1', 'turnEnd:0', 'turnStart:1', 'turnEnd:1']);
    expect(h.events.find((e) => e.type === 'turnWait')).toMatchObject({ group: 1, key: 'EU868/B/v2', waitsFor: [0], gateways: [EU_GATEWAY] });
    expect(groups[1]).toMatchObject({ turnStartSeconds: (groups[0] as unknown as { turnEndSeconds: number }).turnEndSeconds });
    // Expected turns when the sessions were planned: the EU868 groups in sequence, the AS923-1 group from the start.
    const plan = h.events.find((e) => e.type === 'turnPlan') as { groups: { group: number; startInSeconds: number; endInSeconds: number }[] };
    expect(plan.groups[1]!.startInSeconds).toBe(plan.groups[0]!.endInSeconds);
    expect(plan.groups[2]!.startInSeconds).toBe(0);
  });

  it('reports per group and in total, and deletes every group', () => {
    expect(report).toMatchObject({ devices: 300, updated: 300, failed: 0 });
    expect(report.fragmentsSent).toBe(groups.reduce((a, g) => a + g.fragmentsSent, 0));
    expect(groups.every((g) => g.fragmentsSent > 0)).toBe(true);
    expect(h.cs.groups.size).toBe(0);
    if (process.env.SPLIT_FIGURES) console.log(JSON.stringify({ simulatedSeconds: report.simulatedSeconds, fragmentsSent: report.fragmentsSent, groups }, null, 1));
  });

  it('stores its three groups in the campaign hash and back, and the API view shows per-group figures', () => {
    const fields = serialiseCampaignState(h.state);
    expect(fields.groups).toBe('3');
    expect(Object.keys(fields).filter((k) => /^g\d/.test(k)).sort()).toEqual(['g1', 'g1.mcKey', 'g2', 'g2.mcKey']);
    // Small: a group beyond the first is one JSON field of about a kilobyte (its plan, turn and repair figures).
    for (const k of ['g1', 'g2']) expect(fields[k]!.length).toBeLessThan(1200);
    const g0 = h.state.groups[0];
    const record = {
      id: h.state.id, name: 'split', stage: h.state.stage, createdAt: 0, updatedAt: 0, spec: h.state.spec,
      data: { ...fields, plan: JSON.stringify(g0.plan), ruleVersion: String(g0.ruleVersion), targetVersion: String(h.state.targetVersion) },
    };
    expect(parseCampaignState(record)).toEqual(h.state);
    const view = campaignView(record, h.devices, false);
    expect(Object.keys(view.data).some((k) => /key$/i.test(k))).toBe(false);
    const figures = JSON.parse(view.data.groupFigures!) as { key: string; devices: number; updated: number; fragmentsSent: number }[];
    expect(figures.map((f) => f.key)).toEqual(h.state.groups.map((g) => `${g.key.region}/${g.key.groupType}/v${g.key.rule}`));
    expect(figures.reduce((a, f) => a + f.updated, 0)).toBe(300);
    // Every group ran its turn; in the middle of the campaign the second EU868 group showed as waiting.
    expect(figures.map((f) => (f as { turn?: string }).turn)).toEqual(['over', 'over', 'over']);
    const waiting = { ...h.state, groups: h.state.groups.map((g, i) => (i === 1 ? { ...g, turn: { fromMs: 1, waitedMs: 0 } } : g)) as typeof h.state.groups };
    const mid = campaignView({ ...record, data: { ...record.data, ...serialiseCampaignState(waiting) } }, h.devices, false);
    expect((JSON.parse(mid.data.groupFigures!) as { turn?: string }[]).map((f) => f.turn)).toEqual(['over', 'waiting', 'over']);
    expect(view.progress.fragmentsSent).toBe(report.fragmentsSent);
  });
});
