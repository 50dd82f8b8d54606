/**
 * The images of a delta campaign (pure): the full image, which any device can install, and delta images of the same
 * firmware, one per base version. A multicast group's key names the base version whose delta it carries
 * (`GroupKey.base`); a group without one carries the full image. What a group saves is measured against the same
 * group sending the full image (same region, data rate and fragment size): docs/delta.md#delta-campaigns.
 */
import type { GroupKey } from './grouping.js';
import type { Plan } from './planner.js';

export interface DeltaInfo {
  /** Firmware version (u32) the delta applies to: the version its devices report in DevVersionAns. */
  baseVersion: number;
  /** SHA-256 of the base firmware (hex), from the delta's signed header. */
  baseDigest: string;
  /** Size of the signed delta image (bytes): what the group's fragments carry. */
  bytes: number;
}

export interface CampaignImages {
  /** Size of the signed full image (bytes). */
  fullBytes: number;
  deltas: DeltaInfo[];
}

/** Base versions the campaign has a delta for (empty: not a delta campaign). */
export function baseVersions(images: CampaignImages | undefined): number[] {
  return images ? images.deltas.map((d) => d.baseVersion) : [];
}

export function deltaFor(images: CampaignImages | undefined, baseVersion: number | undefined): DeltaInfo | undefined {
  return baseVersion === undefined ? undefined : images?.deltas.find((d) => d.baseVersion === baseVersion);
}

/**
 * The base part of a device's group key: its running version when the campaign has a delta for it; undefined for a
 * device on any other version (or one that did not say): it gets the full image.
 */
export function baseOf(images: CampaignImages | undefined, fwVersion: number | undefined): number | undefined {
  return deltaFor(images, fwVersion)?.baseVersion;
}

/** Size of the image a group sends; `fullBytes` when the campaign has no image table (a plain campaign). */
export function imageBytesFor(images: CampaignImages | undefined, key: Pick<GroupKey, 'base'>, fullBytes: number): number {
  if (key.base === undefined) return images?.fullBytes ?? fullBytes;
  const d = deltaFor(images, key.base);
  if (!d) throw new Error(`images: no delta for base ${hex32(key.base)}`);
  return d.bytes;
}

/** The bytes a group sends: the delta for its base, or the full image. */
export function selectImage<T>(key: Pick<GroupKey, 'base'>, full: T, deltas: ReadonlyMap<number, T> | undefined): T {
  if (key.base === undefined) return full;
  const d = deltas?.get(key.base);
  if (d === undefined) throw new Error(`images: delta image for base ${hex32(key.base)} not supplied`);
  return d;
}

/** What a group saves against sending the full image with the same parameters. */
export interface Saving {
  imageBytes: number;
  fullImageBytes: number;
  savedBytes: number;
  /** Air time of the first broadcast as planned (s, summed over gateways), with this image and with the full one. */
  plannedAirtimeSeconds: number;
  fullPlannedAirtimeSeconds: number;
  savedPlannedAirtimeSeconds: number;
}

export function savingOf(plan: Plan, fullPlan: Plan, imageBytes: number, fullImageBytes: number): Saving {
  return {
    imageBytes,
    fullImageBytes,
    savedBytes: fullImageBytes - imageBytes,
    plannedAirtimeSeconds: round3(plan.initialAirtimeSeconds),
    fullPlannedAirtimeSeconds: round3(fullPlan.initialAirtimeSeconds),
    savedPlannedAirtimeSeconds: round3(fullPlan.initialAirtimeSeconds - plan.initialAirtimeSeconds),
  };
}

/**
 * Air time the full image would have taken where a group sent a delta: the full image's first broadcast at the
 * group's data rate and fragment size, plus as many repair fragments as the group needed beyond its own first
 * broadcast (the same devices, the same losses).
 */
export function fullAirtimeEstimateMs(
  g: { airtimeMs: number; fragmentsSent: number; fragAirMs: number; plan: Pick<Plan, 'nbFrag' | 'initialCoded'> },
  fullPlan: Pick<Plan, 'nbFrag' | 'initialCoded'>,
): number {
  if (g.fragmentsSent === 0) return 0;
  const perFragment = g.fragAirMs > 0 ? g.fragAirMs : g.airtimeMs / g.fragmentsSent;
  const repair = Math.max(0, g.fragmentsSent - (g.plan.nbFrag + g.plan.initialCoded));
  return (fullPlan.nbFrag + fullPlan.initialCoded + repair) * perFragment;
}

/** The stored form (campaign hash field `images`, written at submission). */
export function serialiseImages(images: CampaignImages): string {
  return JSON.stringify(images);
}

/** Parses the stored form; throws naming the bad part. */
export function parseImages(v: string): CampaignImages {
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`);
  }
  const r = o as Partial<CampaignImages> | null;
  if (typeof r?.fullBytes !== 'number' || !(r.fullBytes > 0)) throw new Error('fullBytes: missing or not a positive number');
  if (!Array.isArray(r.deltas)) throw new Error('deltas: missing');
  r.deltas.forEach((d: Partial<DeltaInfo>, i) => {
    if (typeof d?.baseVersion !== 'number' || !Number.isInteger(d.baseVersion) || d.baseVersion < 0 || d.baseVersion > 0xffffffff) throw new Error(`deltas[${i}].baseVersion: not a u32`);
    if (typeof d.baseDigest !== 'string' || !/^[0-9a-f]{64}$/.test(d.baseDigest)) throw new Error(`deltas[${i}].baseDigest: expected 64 hex digits`);
    if (typeof d.bytes !== 'number' || !(d.bytes > 0)) throw new Error(`deltas[${i}].bytes: not a positive number`);
  });
  return { fullBytes: r.fullBytes, deltas: r.deltas as DeltaInfo[] };
}

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
