/**
 * What a delta campaign saves against sending the full image (pure): per multicast group and in total, for the
 * group and report events (docs/delta.md#delta-campaigns). A group that sends a delta is compared with the same
 * group sending the full image: same region, data rate, fragment size and redundancy, so the full image's air time
 * is the group's own scaled by the ratio of fragments (`fullAirtimeEstimateMs`).
 */
import { u32ToVersion } from '../codec/image-header.js';
import { imageBytesOf, planGroup } from './group-plan.js';
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
  const full = fullPlan ? fullAirtimeEstimateMs(g.airtimeMs, g.plan, fullPlan) : g.airtimeMs;
  return { airtimeSeconds: round3(g.airtimeMs / 1000), fullAirtimeSeconds: round3(full / 1000), savedAirtimeSeconds: round3((full - g.airtimeMs) / 1000) };
}

/** Per group of a delta campaign: image figures and air time against the full image (empty without deltas). */
export function groupSavingFigures(c: CampaignState, g: GroupState): Record<string, unknown> {
  if (!c.images) return {};
  const a = groupAirtimeSaving(c, g);
  return { ...groupImageFigures(c, g), fullAirtimeSeconds: a.fullAirtimeSeconds, savedAirtimeSeconds: a.savedAirtimeSeconds };
}

/**
 * The campaign's total (report event, `savings`): air time sent and what the full image would have taken in the
 * same groups; image bytes not sent (per group that broadcast a delta, full minus delta size).
 */
export function campaignSavings(c: CampaignState): Record<string, unknown> | undefined {
  if (!c.images) return undefined;
  let airtimeMs = 0;
  let fullMs = 0;
  let savedBytes = 0;
  const deltaGroups: number[] = [];
  c.groups.forEach((g, gi) => {
    if (g.fragmentsSent === 0) return;
    const fullPlan = fullPlanOf(c, g);
    airtimeMs += g.airtimeMs;
    fullMs += fullPlan ? fullAirtimeEstimateMs(g.airtimeMs, g.plan, fullPlan) : g.airtimeMs;
    if (g.key.base !== undefined) {
      savedBytes += fullBytesOf(c) - imageBytesFor(c.images, g.key, fullBytesOf(c));
      deltaGroups.push(gi);
    }
  });
  return {
    deltaGroups: deltaGroups.length,
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
