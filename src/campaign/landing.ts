/**
 * Folding the results of carried-out effects back into the campaign state (pure). The worker calls these after
 * each side effect and writes the result; the test harness does the same against the simulated network.
 * `gi` is the index of the campaign's multicast group the effect was about (the effect's `group`).
 */
import { groupParams } from './grouping.js';
import type { McPending, CampaignState, GroupState } from './state.js';

function withGroup(s: CampaignState, gi: number, f: (g: GroupState) => GroupState): CampaignState {
  const groups = s.groups.map((g, i) => (i === gi ? f(g) : g)) as CampaignState['groups'];
  return { ...s, groups };
}

/** ChirpStack created the group: its id is kept at once, so a repeated step does not create a second one. */
export function onGroupCreated(s: CampaignState, groupId: string, gi = 0): CampaignState {
  return withGroup(s, gi, (g) => ({ ...g, groupId }));
}

/** Devices and gateways are in the group: its frame counter is known. */
export function onGroupReady(s: CampaignState, fCnt: number, now: number, gi = 0): CampaignState {
  const next = withGroup(s, gi, (g) => ({ ...g, ready: true, mcFCnt: fCnt, fragAirMs: g.plan.fragmentAirtimeMs * groupParams(s.spec, g.key).gatewayCount }));
  // A campaign stored before groups were created at the end of the set-up.
  return next.stage === 'group' ? { ...next, stage: 'setup', setupStartedMs: now } : next;
}

/** A multicast frame is about to be enqueued: the intent, written before the call. */
export function onMulticastIntent(s: CampaignState, pending: McPending, gi = 0): CampaignState {
  return withGroup(s, gi, (g) => ({ ...g, mcPending: pending }));
}

/** The frame landed with ChirpStack frame counter `fCnt`: apply its effect, close the bracket. */
export function onMulticastLanded(s: CampaignState, pending: McPending, fCnt: number, gi = 0): CampaignState {
  return withGroup(s, gi, (g) => {
    const { mcPending: _p, ...rest } = g;
    const next = { ...rest, mcFCnt: fCnt + 1 };
    if (pending.kind === 'frag') {
      return {
        ...next,
        broadcast: { ...g.broadcast, nextN: pending.n + 1 },
        fragmentsSent: g.fragmentsSent + 1,
        airtimeMs: g.airtimeMs + g.fragAirMs,
      };
    }
    return { ...next, status: { ...g.status, askedAt: pending.at } };
  });
}

/**
 * Settles a multicast enqueue left unfinished by a dead worker, given the group's frame counter in ChirpStack now:
 * if it moved past the counter expected before the call, the frame landed.
 */
export function settleMulticast(s: CampaignState, groupFCnt: number, gi = 0): { state: CampaignState; landed: boolean } {
  const g = s.groups[gi];
  if (!g?.mcPending) return { state: s, landed: false };
  if (groupFCnt > g.mcFCnt) return { state: onMulticastLanded(s, g.mcPending, groupFCnt - 1, gi), landed: true };
  const { mcPending: _p, ...rest } = g;
  return { state: withGroup(s, gi, () => rest), landed: false };
}
