/**
 * Groups of one campaign that go out through the same gateways share those gateways' airtime: one duty-cycle
 * budget per gateway and sub-band, one transmitter, and ChirpStack's Class C margin per gateway. Groups on
 * disjoint gateways run at their own pace. Pure.
 *
 * Shared fairly: with n groups on a gateway (m of them in one sub-band), each group gets 1/n of the gateway's
 * time and margin and 1/m of the sub-band's duty cycle, so that the groups together never exceed one budget:
 * Σ airtime_g / interval_g ≤ duty cycle whatever the groups' fragment sizes.
 */

export interface BudgetGroup {
  /** Gateways carrying the group; none listed: the region's gateways, shared by every group of that region. */
  gatewayIds: string[];
  region: string;
  /** Sub-band of the group's frequency (e.g. "EU868/g3"). */
  subBand: string;
  fragmentAirtimeMs: number;
  dutyCycle: number;
  classCMarginMs: number;
  /** The interval the planner chose for the group alone. */
  ownIntervalMs: number;
}

function gatewaysOf(g: BudgetGroup): string[] {
  return g.gatewayIds.length ? g.gatewayIds : [`*${g.region}`];
}

/** Least fragment interval of each group when all of them broadcast at once. */
export function sharedIntervals(groups: readonly BudgetGroup[]): number[] {
  const users = new Map<string, number>();
  const bandUsers = new Map<string, number>();
  for (const g of groups) {
    for (const gw of gatewaysOf(g)) {
      users.set(gw, (users.get(gw) ?? 0) + 1);
      bandUsers.set(`${gw}|${g.subBand}`, (bandUsers.get(`${gw}|${g.subBand}`) ?? 0) + 1);
    }
  }
  return groups.map((g) => {
    let interval = g.ownIntervalMs;
    for (const gw of gatewaysOf(g)) {
      const n = users.get(gw) ?? 1;
      const m = bandUsers.get(`${gw}|${g.subBand}`) ?? 1;
      if (n < 2) continue;
      interval = Math.max(interval, n * g.fragmentAirtimeMs, n * g.classCMarginMs, (m * g.fragmentAirtimeMs) / g.dutyCycle);
    }
    return interval;
  });
}

/** Whether two groups share a gateway (and so one budget). */
export function shareGateways(a: BudgetGroup, b: BudgetGroup): boolean {
  const x = new Set(gatewaysOf(a));
  return gatewaysOf(b).some((gw) => x.has(gw));
}
