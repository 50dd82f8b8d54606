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

const AS_GATEWAY = '0016c001f153a14d';
const TARGET = 0x01010000;

describe('a campaign over three device profiles through two gateways', () => {
  // EU868 Class C with TS004 v1 stacks, EU868 Class B with TS004 v2 (LBM v2), AS923-1 Class C with dwell time on.
  const { h, profileOf } = splitFleetHarness({
    devices: 300,
    loss: 0.1,
    seed: 71,
    imageBytes: 4096,
    mix: { 'loramac-node': 1, 'lbm-v1': 1, 'lbm-v2': 1 },
    gateways: [{ gatewayId: AS_GATEWAY, region: 'AS923-1' }],
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

  it('paces the two EU868 groups as one gateway budget, the AS923-1 group on its own', () => {
    const eu = h.state.groups.filter((g) => g.key.region === 'EU868');
    const as = h.state.groups.find((g) => g.key.region === 'AS923-1')!;
    // The two EU868 groups share the EU gateway's ChirpStack margin (2 s in the harness): each at least 2 x 2 s.
    for (const g of eu) expect(g.plan.fragmentIntervalMs).toBeGreaterThanOrEqual(2 * 2000);
    expect(as.plan.fragmentIntervalMs).toBeLessThan(2 * 2000);
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
    // Small: a group beyond the first is one JSON field of well under a kilobyte.
    for (const k of ['g1', 'g2']) expect(fields[k]!.length).toBeLessThan(1000);
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
    expect(view.progress.fragmentsSent).toBe(report.fragmentsSent);
  });
});
