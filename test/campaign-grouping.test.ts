/** The grouping key of a split campaign and the per-region parameters (turns on shared gateways: airtime-turns.test.ts). */
import { describe, expect, it } from 'vitest';
import { planGroup } from '../src/campaign/group-plan.js';
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
