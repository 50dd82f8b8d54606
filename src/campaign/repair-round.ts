/**
 * The status half of the repair loop: after a FragSessionStatusReq round, which devices go on to the upgrade and
 * how many more coded fragments the stragglers need; during apply, what to do with devices that turn out not to
 * have the image. Pure: decisions on the group state and the draft of device states.
 */
import { finish, markComplete } from './device-machine.js';
import { apply, count, type Draft } from './draft.js';
import type { Stage } from './model.js';
import { estimateDeficit, lossCap, repairCount, type DeficitEstimate } from './repair.js';
import type { CampaignState, GroupState } from './state.js';

/** After a status round: devices that decoded go on to the upgrade; the rest get just enough repair fragments. */
export function evaluateStatus(c: CampaignState, g: GroupState, d: Draft, now: number): Stage | undefined {
  const plan = g.plan;
  const asked = g.status.askedAt;
  if (asked === undefined) return undefined;
  const sentN = g.status.sentN;
  const listening = [...d.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  const answered = listening.filter(([, s]) => s.fs && s.fs[3] === sentN);
  // Evaluate once every listening device has answered, or when the answer window (plus one uplink) is over.
  const windowOver = now >= asked + plan.statusWindowMs + 1.5 * c.spec.timing.uplinkIntervalS * 1000;
  if (!windowOver && answered.length < listening.length) return undefined;
  const reports = answered.map(([, s]) => ({ ts004: (s.v?.[1] === 2 ? 2 : 1) as 1 | 2, nbFragReceived: s.fs![0], missingFrag: s.fs![1], sentN }));
  // The loss cap comes from the first round, when every device had heard the same stream from the start; later
  // rounds hear mostly from stragglers and from devices whose counters froze when they decoded.
  const cap = g.repair.lossCap ?? lossCap(reports, plan.nbFrag);
  g.repair.lossCap = cap;
  const estimates: DeficitEstimate[] = [];
  let worst: Record<string, unknown> | undefined;
  answered.forEach(([eui, s], i) => {
    const est = estimateDeficit(reports[i]!, plan.nbFrag, cap);
    // A "no image" answer to DevUpgradeImageReq proves the optimistic reading wrong: size by the pessimistic one,
    // and at least 2^(answers) so that a device whose counters say little converges in a few rounds.
    const deficit = s.np ? Math.max(2 ** s.np, est.upper) : est.deficit;
    // LoRaMac-node stops counting once it has decoded: counters frozen while fragments kept coming mean
    // "decoded" (or "deaf"); ask the device itself (at most twice).
    const stalled = s.v?.[1] !== 2 && s.pf && s.pf[0] === s.fs![0] && s.pf[1] === s.fs![1] && sentN - s.pf[2] >= 3 && (s.np ?? 0) < 2;
    // LBM leaves MissingFrag at 1 after a loss-free reception (NbFragReceived = M then): ask rather than send.
    const lbmLossless = s.fs![1] === 1 && s.fs![0] === plan.nbFrag && !s.np;
    if (deficit === 0 || stalled || lbmLossless) {
      apply(d, eui, markComplete(s, now));
      return;
    }
    estimates.push({ ...est, deficit });
    const need = repairCount([{ ...est, deficit }], Infinity);
    if (!worst || need > (worst.need as number)) worst = { devEui: eui, need, deficit, loss: +est.loss.toFixed(3), status: s.fs };
  });
  const silent = listening.length - answered.length;
  const rounds = g.repair.rounds;
  const targetN = g.broadcast.targetN;
  const budget = plan.nbFrag + plan.maxCoded - targetN;
  const sessionLeftMs = (g.session?.endMs ?? 0) - now - plan.statusWindowMs;
  const capacity = Math.max(0, Math.floor(sessionLeftMs / plan.fragmentIntervalMs));
  const need = Math.min(repairCount(estimates, budget), capacity);
  const canRepair = rounds < c.spec.fragmentation.maxRepairRounds && sessionLeftMs > 0;
  if (canRepair && (need > 0 || (silent > 0 && estimates.length === 0))) {
    g.repair.rounds = rounds + 1;
    delete g.status.askedAt;
    if (need > 0) {
      g.broadcast = { ...g.broadcast, targetN: targetN + need, startN: g.broadcast.nextN, startMs: now };
      d.events.push({ type: 'repair', round: rounds + 1, fragments: need, devices: estimates.length, worst });
      return 'broadcast';
    }
    return 'status'; // only silent devices: ask again
  }
  // No more rounds: every device still listening is asked directly whether it has the image.
  for (const [eui] of listening) {
    const s = d.devices.get(eui)!;
    if (s.p === 'listening') apply(d, eui, markComplete(s, now));
  }
  return 'apply';
}

/** During apply: devices that turned out not to have the image either get another repair round or fail. */
export function checkApply(c: CampaignState, g: GroupState, d: Draft, now: number): Stage | undefined {
  const plan = g.plan;
  const lacking = [...d.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  if (lacking.length) {
    const budget = plan.nbFrag + plan.maxCoded - g.broadcast.targetN;
    const sessionLeftMs = (g.session?.endMs ?? 0) - now - plan.statusWindowMs;
    if (g.repair.rounds < c.spec.fragmentation.maxRepairRounds && budget > 0 && sessionLeftMs > 0) {
      delete g.status.askedAt;
      return 'status';
    }
    for (const [eui, s] of lacking) {
      const st = finish(s, 'MissingFragments', `block not reassembled after ${g.fragmentsSent} fragments`, now);
      apply(d, eui, { state: st, event: { type: 'device', phase: st.p, status: st.s, reason: st.r } });
    }
  }
  return count(d, (s) => s.s === 'Pending') === 0 ? 'cleanup' : undefined;
}
