/**
 * Planning one multicast group of a campaign (pure): the planner run with the group's region, class and multicast
 * parameters. A group's plan is its own: groups through common gateways take turns (airtime-budget.ts), so during
 * its turn a group has its gateways to itself.
 */
import type { BudgetGroup } from './airtime-budget.js';
import { groupParams, type GroupKey } from './grouping.js';
import { planCampaign, PlanError, type Plan } from './planner.js';
import type { CampaignSpec } from './schema.js';

type SpecLike = Pick<CampaignSpec, 'multicast' | 'fragmentation' | 'timing'>;

export function planGroup(spec: SpecLike, key: GroupKey, imageBytes: number): Plan {
  const m = groupParams(spec, key);
  const own = key.region === spec.multicast.region;
  try {
    return planCampaign({
      imageBytes,
      region: m.region,
      dr: m.dr,
      frequencyHz: m.frequencyHz,
      groupType: m.groupType,
      classBPeriodicity: m.classBPeriodicity,
      gatewayCount: Math.max(m.gatewayCount, m.gatewayIds.length || 1),
      // A fragment size fixed in the spec applies to the spec's own region; elsewhere the DR decides.
      fragSize: own ? spec.fragmentation.fragSize : undefined,
      initialRedundancyPercent: spec.fragmentation.initialRedundancyPercent,
      maxRedundancyPercent: spec.fragmentation.maxRedundancyPercent,
      blockAckDelay: spec.fragmentation.blockAckDelay,
      maxRepairRounds: spec.fragmentation.maxRepairRounds,
      uplinkIntervalS: spec.timing.uplinkIntervalS,
      unicastRetries: spec.timing.unicastRetries,
      rebootDelayS: spec.timing.rebootDelayS,
      classCMarginMs: m.classCMarginMs,
      dwellTime: m.dwellTime,
      repeaterCompatible: m.repeaterCompatible,
      deviceLimits: spec.fragmentation.deviceLimits,
    });
  } catch (e) {
    // Name the per-region field when the group is not the spec's own region.
    if (e instanceof PlanError && !own) throw new PlanError(e.field.replace(/^multicast\./, `multicast.byRegion.${key.region}.`), e.message.replace(/^[^:]*: /, ''));
    throw e;
  }
}

/** The group as the turn-taking on gateways sees it (airtime-budget.ts). */
export function budgetOf(spec: SpecLike, key: GroupKey, plan: Plan): BudgetGroup {
  const m = groupParams(spec, key);
  return { gatewayIds: m.gatewayIds, region: m.region, ownIntervalMs: plan.fragmentIntervalMs };
}

/** Image size back from a plan (M × fragment size − padding). */
export function imageBytesOf(plan: Plan): number {
  return plan.nbFrag * plan.fragSize - plan.padding;
}
