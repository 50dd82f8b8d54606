/** The grouping key of a split campaign, the per-region parameters, and the shared per-gateway airtime budget. */
import { describe, expect, it } from 'vitest';
import { sharedIntervals, type BudgetGroup } from '../src/campaign/airtime-budget.js';
import { budgetOf, planGroup } from '../src/campaign/group-plan.js';
import { defaultKey, groupKeyOf, groupParams, keyString, type ProfileFacts } from '../src/campaign/grouping.js';
import { parseCampaignSpec, SpecError } from '../src/campaign/schema.js';
import { handSpec } from './helpers/hand-state.js';

const spec = parseCampaignSpec(
  handSpec(2, { multicast: { gatewayIds: ['0016c001f153a14c'], byRegion: { 'AS923-1': { dr: 5, dwellTime: true, gatewayIds: ['0016c001f153a14d'] } } } }),
);
const euC: ProfileFacts = { region: 'EU868', supportsClassB: false, supportsClassC: true };
const euB: ProfileFacts = { region: 'EU868', supportsClassB: true, supportsClassC: false };
const asC: ProfileFacts = { region: 'AS923-1', supportsClassB: false, supportsClassC: true };

describe('groupKeyOf', () => {
  it('is unknown until the device told its TS004 version', () => {
    expect(groupKeyOf(spec, {}, euC)).toBeUndefined();
    expect(groupKeyOf(spec, { v: [0, 0, 1, 1] }, euC)).toBeUndefined();
  });

  it('takes region and class from the profile and the parity rule from the TS004 version', () => {
    expect(keyString(groupKeyOf(spec, { v: [0, 1, 0, 0] }, euC)!)).toBe('EU868/C/v1');
    expect(keyString(groupKeyOf(spec, { v: [0, 2, 0, 0] }, euC)!)).toBe('EU868/C/v2');
    // The spec's class holds; with 'auto' the profile's: Class C where supported, else Class B.
    expect(keyString(groupKeyOf(spec, { v: [0, 2, 2, 1] }, euB)!)).toBe('EU868/C/v2');
    const auto = { ...spec, multicast: { ...spec.multicast, groupType: 'auto' as const } };
    expect(keyString(groupKeyOf(auto, { v: [0, 2, 2, 1] }, euB)!)).toBe('EU868/B/v2');
    expect(keyString(groupKeyOf(auto, { v: [0, 2, 2, 1] }, { ...euB, supportsClassC: true })!)).toBe('EU868/C/v2');
    expect(keyString(groupKeyOf(spec, { v: [0, 1, 1, 1] }, asC)!)).toBe('AS923-1/C/v1');
  });

  it('falls back to the spec\'s region and class when the profile is unknown', () => {
    expect(groupKeyOf(spec, { v: [0, 2, 0, 0] }, undefined)).toEqual({ region: 'EU868', groupType: 'C', rule: 2 });
    expect(defaultKey(spec)).toEqual({ region: 'EU868', groupType: 'C', rule: 1 });
  });
});

describe('groupParams', () => {
  it('uses the spec\'s multicast for its own region, byRegion for another, region defaults for the rest', () => {
    expect(groupParams(spec, { region: 'EU868', groupType: 'C', rule: 1 })).toMatchObject({ dr: 5, frequencyHz: 869_525_000, gatewayIds: ['0016c001f153a14c'], dwellTime: false });
    expect(groupParams(spec, { region: 'AS923-1', groupType: 'C', rule: 1 })).toMatchObject({ dr: 5, frequencyHz: 923_200_000, dwellTime: true, gatewayIds: ['0016c001f153a14d'] });
    expect(groupParams(spec, { region: 'US915', groupType: 'C', rule: 1 })).toMatchObject({ dr: 8, frequencyHz: 923_300_000, gatewayIds: [] });
  });

  it('refuses an unknown region or field in byRegion, naming it', () => {
    expect(() => parseCampaignSpec(handSpec(1, { multicast: { byRegion: { XX1: {} } } as never }))).toThrow(SpecError);
    expect(() => parseCampaignSpec(handSpec(1, { multicast: { byRegion: { 'AS923-1': { sf: 7 } } } as never }))).toThrow(/multicast\.byRegion\.AS923-1/);
  });

  it('names the per-region field of a plan that cannot work', () => {
    const bad = parseCampaignSpec(handSpec(1, { multicast: { byRegion: { 'AS923-1': { dr: 0, dwellTime: true } } } }));
    expect(() => planGroup(bad, { region: 'AS923-1', groupType: 'C', rule: 1 }, 4000)).toThrow(/multicast\.byRegion\.AS923-1\.dr/);
  });
});

describe('shared per-gateway airtime budget', () => {
  const g = (over: Partial<BudgetGroup>): BudgetGroup => ({
    gatewayIds: ['a'], region: 'EU868', subBand: 'EU868/g3', fragmentAirtimeMs: 400, dutyCycle: 0.1, classCMarginMs: 5000, ownIntervalMs: 5000, ...over,
  });

  it('leaves a group alone on its gateway at its own pace', () => {
    expect(sharedIntervals([g({})])).toEqual([5000]);
  });

  it('paces two groups through one gateway as one budget', () => {
    const [a, b] = sharedIntervals([g({}), g({ fragmentAirtimeMs: 200 })]);
    // The margin of the gateway is shared: together no more than one frame per 5 s.
    expect(1 / a! + 1 / b!).toBeLessThanOrEqual(1 / 5000 + 1e-12);
    // The duty cycle of the sub-band is shared: together no more than 10 % on air.
    expect(400 / a! + 200 / b!).toBeLessThanOrEqual(0.1 + 1e-12);
    // A duty-cycle-bound pair: 2 x 400 ms / 10 %.
    const [c, d] = sharedIntervals([g({ classCMarginMs: 0, ownIntervalMs: 4000 }), g({ classCMarginMs: 0, ownIntervalMs: 4000 })]);
    expect([c, d]).toEqual([8000, 8000]);
    expect(400 / c! + 400 / d!).toBeCloseTo(0.1, 12);
  });

  it('shares the transmitter and the margin but not the duty cycle of another sub-band', () => {
    const [a, b] = sharedIntervals([g({ classCMarginMs: 0, ownIntervalMs: 4000 }), g({ classCMarginMs: 0, ownIntervalMs: 4000, subBand: 'EU868/g1' })]);
    expect([a, b]).toEqual([4000, 4000]);
  });

  it('runs groups through disjoint gateways concurrently, each at its own pace', () => {
    expect(sharedIntervals([g({}), g({ gatewayIds: ['b'] }), g({ gatewayIds: [], region: 'AS923-1' })])).toEqual([5000, 5000, 5000]);
    // Groups without a gateway list share the region's gateways.
    const [x, y] = sharedIntervals([g({ gatewayIds: [] }), g({ gatewayIds: [] })]);
    expect([x, y]).toEqual([10_000, 10_000]);
  });

  it('feeds back into the plan: the shared interval lengthens the session', () => {
    const key = { region: 'EU868' as const, groupType: 'C' as const, rule: 1 as const };
    const alone = planGroup(spec, key, 20_000);
    const [shared] = sharedIntervals([budgetOf(spec, key, alone), budgetOf(spec, { ...key, rule: 2 }, alone)]);
    const paced = planGroup(spec, key, 20_000, shared);
    expect(paced.fragmentIntervalMs).toBe(shared);
    expect(paced.fragmentIntervalMs).toBeGreaterThanOrEqual(2 * alone.fragmentIntervalMs - 1e-9);
    expect(paced.sessionSeconds).toBeGreaterThan(alone.sessionSeconds);
    expect([paced.nbFrag, paced.fragSize, paced.padding]).toEqual([alone.nbFrag, alone.fragSize, alone.padding]);
  });
});
