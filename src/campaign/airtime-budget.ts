/**
 * Groups of one campaign that go out through the same gateways share those gateways' airtime: one duty-cycle
 * budget per gateway and sub-band, one transmitter, and ChirpStack's Class C margin per gateway. Such groups take
 * turns: the multicast stage of a group (its session opening, broadcast, status requests and repair rounds) never
 * overlaps that of another group with a gateway in common, and during its turn a group has the gateways to itself,
 * so it broadcasts at the interval the planner chose for it alone. Groups on disjoint gateways run concurrently.
 * Pure.
 *
 * Order of turns: by group index. Group 0 is the spec's own region, class and parity rule (the group whose plan
 * and ETA the operator saw at submission), the others follow in the order their devices were discovered, so the
 * order is known before the set-up ends. Whatever the order, a chain of groups through common gateways takes the
 * sum of their turns; the order only decides whose devices are updated first. A waiting group whose gateways are
 * free starts at once, even if a group of lower index still waits for other gateways (no gateway idles while a
 * group could use it).
 */

export interface BudgetGroup {
  /** Gateways carrying the group; none listed: the region's gateways, shared by every group of that region. */
  gatewayIds: string[];
  region: string;
  /** The interval the planner chose for the group alone: the group's interval during its turn. */
  ownIntervalMs: number;
}

/** The gateways a group uses (`*<region>`: the region's gateways, for a group without a list). */
export function gatewaysOf(g: BudgetGroup): string[] {
  return g.gatewayIds.length ? g.gatewayIds : [`*${g.region}`];
}

/** Whether two groups share a gateway (and so one budget): they take turns. */
export function shareGateways(a: BudgetGroup, b: BudgetGroup): boolean {
  return commonGateways(a, b).length > 0;
}

/** The gateways two groups have in common. */
export function commonGateways(a: BudgetGroup, b: BudgetGroup): string[] {
  const x = new Set(gatewaysOf(a));
  return gatewaysOf(b).filter((gw) => x.has(gw));
}

/**
 * Where a group is with respect to its gateways: `wait` for its turn, `hold` its turn (its multicast stage runs),
 * or `free` (not running, or its turn is over).
 */
export type TurnState = 'wait' | 'hold' | 'free';

/**
 * The waiting groups that start their turn now: in index order, each one none of whose gateways is held (by a
 * holding group or one started earlier in the same pass).
 */
export function turnsToStart(groups: readonly BudgetGroup[], states: readonly TurnState[]): number[] {
  const holding = groups.map((_, i) => states[i] === 'hold');
  const out: number[] = [];
  groups.forEach((g, i) => {
    if (states[i] !== 'wait') return;
    if (groups.some((h, j) => holding[j] && shareGateways(g, h))) return;
    holding[i] = true;
    out.push(i);
  });
  return out;
}

/** The holding groups a waiting group waits for (those with a gateway in common with it). */
export function waitsFor(groups: readonly BudgetGroup[], states: readonly TurnState[], i: number): number[] {
  return groups.flatMap((h, j) => (j !== i && states[j] === 'hold' && shareGateways(groups[i]!, h) ? [j] : []));
}

/** Whether a group shares a gateway with any other group of the list (its turn may make others wait). */
export function contended(groups: readonly BudgetGroup[], i: number): boolean {
  return groups.some((h, j) => j !== i && shareGateways(groups[i]!, h));
}

export interface PlannedTurn {
  /** Start and end of the group's turn, from the time the sessions are planned. */
  startMs: number;
  endMs: number;
  /** Its fragment interval during the turn: its own. */
  intervalMs: number;
}

/**
 * The turns the groups are expected to take, each lasting `turnMs`, with the same rule as at run time
 * (`turnsToStart`): groups through common gateways one after the other, disjoint ones side by side. The end of
 * the last turn is the sum of turns along a chain of groups on common gateways, and the largest such sum across
 * disjoint sets.
 */
export function planTurns(groups: readonly (BudgetGroup & { turnMs: number })[]): PlannedTurn[] {
  const out: PlannedTurn[] = groups.map((g) => ({ startMs: 0, endMs: 0, intervalMs: g.ownIntervalMs }));
  const states: TurnState[] = groups.map(() => 'wait');
  let now = 0;
  for (;;) {
    for (const i of turnsToStart(groups, states)) {
      states[i] = 'hold';
      out[i]!.startMs = now;
      out[i]!.endMs = now + groups[i]!.turnMs;
    }
    const held = states.flatMap((s, i) => (s === 'hold' ? [i] : []));
    if (held.length === 0) break;
    now = Math.min(...held.map((i) => out[i]!.endMs));
    for (const i of held) if (out[i]!.endMs <= now) states[i] = 'free';
  }
  return out;
}

/** Whether two time windows overlap (a start equal to the other's end does not). */
export function overlap(a: { startMs: number; endMs: number }, b: { startMs: number; endMs: number }): boolean {
  return a.startMs < b.endMs && b.startMs < a.endMs;
}
