/**
 * What a delta campaign saves against sending the full image (pure): per multicast group and in total, for the
 * group and report events (docs/delta.md#delta-campaigns). A group that sends a delta is compared with the same
 * group sending the full image: same region, data rate and fragment size, the full image's first broadcast plus the
 * repair fragments the group needed (`fullAirtimeEstimateMs`).
 */
import { u32ToVersion } from '../codec/image-header.js';
import { imageBytesOf, planGroup } from './group-plan.js';
import { keyString } from './grouping.js';
import { fullAirtimeEstimateMs, imageBytesFor } from './images.js';
import type { Plan } from './planner.js';
import type { CampaignState, GroupState } from './state.js';

function fullBytesOf(c: CampaignState): number {
  return c.images?.fullBytes ?? imageBytesOf(c.groups[0].plan);
}

/** The group's plan had it sent the full image (undefined when the full image does not fit the group's region). */
function fullPlanOf(c: CampaignState, g: GroupState): Plan | undefined {
  if (g.key.base === undefined) return g.plan;
  try {
    return planGroup(c.spec, g.key, fullBytesOf(c));
  } catch {
    return undefined;
  }
}

/** The image a group sends and its size against the full image's (empty for a campaign without deltas). */
export function groupImageFigures(c: CampaignState, g: GroupState): Record<string, unknown> {
  if (!c.images) return {};
  const full = fullBytesOf(c);
  const bytes = imageBytesFor(c.images, g.key, full);
  if (g.key.base === undefined) return { image: 'full', imageBytes: bytes };
  return { image: 'delta', base: u32ToVersion(g.key.base), imageBytes: bytes, fullImageBytes: full, savedBytes: full - bytes };
}

export interface AirtimeSaving {
  airtimeSeconds: number;
  /** The same group's air time with the full image (estimate, see the file comment). */
  fullAirtimeSeconds: number;
  savedAirtimeSeconds: number;
}

export function groupAirtimeSaving(c: CampaignState, g: GroupState): AirtimeSaving {
  const fullPlan = fullPlanOf(c, g);
  const full = g.key.base === undefined || !fullPlan ? g.airtimeMs : fullAirtimeEstimateMs(g, fullPlan);
  return { airtimeSeconds: round3(g.airtimeMs / 1000), fullAirtimeSeconds: round3(full / 1000), savedAirtimeSeconds: round3((full - g.airtimeMs) / 1000) };
}

/** Per group of a delta campaign: image figures and air time against the full image (empty without deltas). */
export function groupSavingFigures(c: CampaignState, g: GroupState): Record<string, unknown> {
  if (!c.images) return {};
  const a = groupAirtimeSaving(c, g);
  return { ...groupImageFigures(c, g), fullAirtimeSeconds: a.fullAirtimeSeconds, savedAirtimeSeconds: a.savedAirtimeSeconds };
}

/**
 * The campaign's total (report event, `savings`): the air time its groups sent, against an estimate of the same
 * fleet's full-image campaign, which splits it by region, class and parity rule only and sends the full image once
 * per such group: for each, the largest full-image estimate of its delta and full groups (the devices that need the
 * most repair decide a broadcast's length). With many bases and large deltas the saving can be negative: the
 * figure says so. `savedImageBytes`: image bytes not broadcast (per delta group, full minus delta size).
 */
export function campaignSavings(c: CampaignState): Record<string, unknown> | undefined {
  if (!c.images) return undefined;
  let airtimeMs = 0;
  let savedBytes = 0;
  let deltaGroups = 0;
  const fullByKey = new Map<string, number>();
  for (const g of c.groups) {
    if (g.fragmentsSent === 0) continue;
    const fullPlan = fullPlanOf(c, g);
    const fullMs = g.key.base === undefined || !fullPlan ? g.airtimeMs : fullAirtimeEstimateMs(g, fullPlan);
    const { base: _b, ...rest } = g.key;
    const k = keyString(rest);
    fullByKey.set(k, Math.max(fullByKey.get(k) ?? 0, fullMs));
    airtimeMs += g.airtimeMs;
    if (g.key.base !== undefined) {
      savedBytes += fullBytesOf(c) - imageBytesFor(c.images, g.key, fullBytesOf(c));
      deltaGroups++;
    }
  }
  const fullMs = [...fullByKey.values()].reduce((a, b) => a + b, 0);
  return {
    deltaGroups,
    savedImageBytes: savedBytes,
    airtimeSeconds: round3(airtimeMs / 1000),
    fullAirtimeSeconds: round3(fullMs / 1000),
    savedAirtimeSeconds: round3((fullMs - airtimeMs) / 1000),
    savedAirtimePercent: fullMs > 0 ? Math.round((1000 * (fullMs - airtimeMs)) / fullMs) / 10 : 0,
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
