/**
 * How a campaign splits its fleet into multicast groups (pure). A device's group is a function of what the
 * service knows about it: its ChirpStack device profile (region, class support) and its PackageVersionAns answers
 * (TS004 version: the parity rule of the stream it can decode). Devices with equal keys share one multicast group,
 * so a campaign runs the smallest set of groups: one per region × class × parity rule.
 *
 * The key is the one place that decides the split: a later dimension (e.g. the base version of a delta image)
 * is one more field of `GroupKey`, filled in `groupKeyOf`, and read where the group's image is chosen.
 */
import { regionDefaults, type RegionName } from '../codec/region.js';
import type { DeviceState } from './model.js';
import type { CampaignSpec } from './schema.js';

/** What the service reads from a device's ChirpStack device profile. */
export interface ProfileFacts {
  region: RegionName;
  supportsClassB: boolean;
  supportsClassC: boolean;
  macVersion?: string;
}

export interface GroupKey {
  region: RegionName;
  groupType: 'C' | 'B';
  /** TS004 version of the devices: the parity rule of the stream. */
  rule: 1 | 2;
  /**
   * Delta campaigns: the base firmware version (u32) the group's devices run, whose delta image the group sends
   * (src/campaign/images.ts); absent: the full image.
   */
  base?: number;
}

/** The multicast parameters a group runs with. */
export interface GroupParams {
  region: RegionName;
  groupType: 'C' | 'B';
  dr: number;
  frequencyHz: number;
  dwellTime: boolean;
  repeaterCompatible: boolean;
  classBPeriodicity: number;
  gatewayIds: string[];
  gatewayCount: number;
  classCMarginMs: number;
}

type SpecLike = Pick<CampaignSpec, 'multicast' | 'fragmentation'>;

export function keyString(k: GroupKey): string {
  return `${k.region}/${k.groupType}/v${k.rule}${k.base !== undefined ? `/b${(k.base >>> 0).toString(16).padStart(8, '0')}` : ''}`;
}

export function sameKey(a: GroupKey, b: GroupKey): boolean {
  return keyString(a) === keyString(b);
}

/** The spec's class ('auto' starts with Class C). */
function specClass(spec: SpecLike): 'C' | 'B' {
  return spec.multicast.groupType === 'B' ? 'B' : 'C';
}

/** The key of the campaign's first group: the spec's own region, class and parity rule. */
export function defaultKey(spec: SpecLike): GroupKey {
  return { region: spec.multicast.region, groupType: specClass(spec), rule: spec.fragmentation.ts004Version };
}

/**
 * A device's group key, or undefined while its TS004 version is unknown. The region comes from its profile (the
 * spec's when the profile could not be read); the class is the spec's, or with `groupType: 'auto'` the profile's
 * (Class C where it is supported, else Class B).
 */
export function groupKeyOf(
  spec: SpecLike,
  device: Pick<DeviceState, 'v' | 'fw'>,
  profile: ProfileFacts | undefined,
  /** Delta campaigns: the base versions that have a delta; the device's running version decides its image. */
  bases: readonly number[] = [],
): GroupKey | undefined {
  const ts004 = device.v?.[1];
  if (!ts004) return undefined;
  const rule: 1 | 2 = ts004 === 2 ? 2 : 1;
  // Its running version is asked with its TS006 version; a device that answered one but not the other gets the full image.
  if (bases.length && device.fw === undefined && !device.v?.[3]) return undefined;
  const base = device.fw !== undefined && bases.includes(device.fw) ? { base: device.fw } : {};
  if (!profile) return { region: spec.multicast.region, groupType: specClass(spec), rule, ...base };
  const auto = spec.multicast.groupType === 'auto';
  const groupType = !auto ? specClass(spec) : !profile.supportsClassC && profile.supportsClassB ? 'B' : 'C';
  return { region: profile.region, groupType, rule, ...base };
}

/**
 * The multicast parameters of a group: the spec's `multicast` for its own region, `multicast.byRegion[region]`
 * over the region's defaults (its Class C / RX2 channel and DR) for the others.
 */
export function groupParams(spec: SpecLike, key: GroupKey): GroupParams {
  const m = spec.multicast;
  const own = key.region === m.region;
  const r = m.byRegion?.[key.region] ?? {};
  const dflt = regionDefaults(key.region).classC;
  return {
    region: key.region,
    groupType: key.groupType,
    dr: r.dr ?? (own ? m.dr : dflt.dr),
    frequencyHz: r.frequencyHz ?? (own ? m.frequencyHz : dflt.frequencyHz),
    dwellTime: r.dwellTime ?? (own ? m.dwellTime : false),
    repeaterCompatible: r.repeaterCompatible ?? (own ? m.repeaterCompatible : false),
    classBPeriodicity: r.classBPeriodicity ?? m.classBPeriodicity,
    gatewayIds: r.gatewayIds ?? (own ? m.gatewayIds : []),
    gatewayCount: r.gatewayCount ?? (own ? m.gatewayCount : 1),
    classCMarginMs: m.classCMarginMs,
  };
}
