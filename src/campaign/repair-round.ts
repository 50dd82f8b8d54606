/**
 * The status half of the repair loop: after a FragSessionStatusReq round, which devices go on to the upgrade and
 * how many more coded fragments the stragglers need; during apply, what to do with devices that turn out not to
 * have the image. Pure: decisions on the group state and the draft of device states.
 */
import { finish, markComplete } from './device-machine.js';
import { apply, count, type Draft } from './draft.js';
import type { Stage } from './model.js';
import { CUMULATIVE_COUNTERS, estimateDeficit, fleetLoss, lossCap, repairCount, type DeficitEstimate, type StatusReport } from './repair.js';
const ENV = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const X_SLACK = Number(ENV.X_SLACK ?? 1);
const X_XSLACK = Number(ENV.X_XSLACK ?? X_SLACK);
const X_NPDOUBT = (ENV.X_NPDOUBT ?? '1') === '1';
const X_STALE = (ENV.X_STALE ?? '1') === '1';
const X_STALE_DIRECT = (ENV.X_STALE_DIRECT ?? '0') === '1';
const X_STALE_MARGIN = Number(ENV.X_STALE_MARGIN ?? 2);
const X_DIRECT = (ENV.X_DIRECT ?? '0') === '1';
const NP_BASE = Number(ENV.X_NPBASE ?? 2);
import type { CampaignState, GroupState } from './state.js';

/**
 * How long a status round waits for the answers: the TS004 answer window (devices answer FragSessionStatusReq at a
 * random time within 2^(BlockAckDelay+4) s) plus a margin for the uplink itself (duty cycle, network and
 * integration latency). A device that missed the multicast request never answers it; a late answer is not lost (it
 * is used, less what the device heard since, and the device is asked again in the next round).
 */
export function statusWaitMs(plan: { statusWindowMs: number }, uplinkIntervalS: number): number {
  if (ENV.X_OLDWAIT === '1') return plan.statusWindowMs + 1.5 * uplinkIntervalS * 1000;
  return plan.statusWindowMs + Math.min(STATUS_ANSWER_MARGIN_MS, 1.5 * uplinkIntervalS * 1000);
}
const STATUS_ANSWER_MARGIN_MS = 30_000;

/** After a status round: devices that decoded go on to the upgrade; the rest get just enough repair fragments. */
export function evaluateStatus(c: CampaignState, g: GroupState, d: Draft, now: number): Stage | undefined {
  const plan = g.plan;
  const asked = g.status.askedAt;
  if (asked === undefined) return undefined;
  const sentN = g.status.sentN;
  const listening = [...d.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  const answered = listening.filter(([, s]) => s.fs && s.fs[3] === sentN);
  // Evaluate once every listening device has answered, or when the answer window (plus one uplink) is over.
  const windowOver = now >= asked + statusWaitMs(plan, c.spec.timing.uplinkIntervalS);
  if (!windowOver && answered.length < listening.length) return undefined;
  const reports: StatusReport[] = answered.map(([, s]) => ({
    ts004: (s.v?.[1] === 2 ? 2 : 1) as 1 | 2,
    nbFragReceived: s.fs![0],
    missingFrag: s.fs![1],
    sentN,
    ...(s.fs![2] & CUMULATIVE_COUNTERS ? { cumulative: true } : {}),
  }));
  // The loss cap comes from the first round, when every device had heard the same stream from the start; later
  // rounds hear mostly from stragglers and from devices whose counters froze when they decoded.
  const cap = g.repair.lossCap ?? lossCap(reports, plan.nbFrag);
  g.repair.lossCap = cap;
  const fleet = g.repair.fleetLoss ?? fleetLoss(reports, plan.nbFrag);
  g.repair.fleetLoss = fleet;
  const estimates: DeficitEstimate[] = [];
  let worst: Record<string, unknown> | undefined;
  answered.forEach(([eui, s], i) => {
    const report = reports[i]!;
    // Counters moved since the previous answer: the device heard fragments since it was last judged.
    const progressed = !s.pf || s.pf[0] !== s.fs![0] || s.pf[1] !== s.fs![1];
    // A "no image" answer to DevUpgradeImageReq proved an optimistic reading wrong: read its counters as unknowns
    // still unsolved, and infer no decoding from frozen counters unless they moved since.
    const doubted = !!s.np && (!(s.fs![2] & CUMULATIVE_COUNTERS) || !progressed);
    const est = estimateDeficit({ ...report, ...(doubted ? { doubted } : {}) }, plan.nbFrag, cap, fleet);
    // Estimated (not exact) counters that have not moved since the "no image": at least 2^(answers - 1), so that a
    // device whose counters say little converges in a few rounds.
    const deficit = s.np && !est.exact && !progressed ? Math.max(NP_BASE ** (s.np - 1), est.deficit) : est.deficit;
    // LoRaMac-node stops counting once it has decoded: counters frozen while fragments kept coming mean
    // "decoded" (or "deaf"); ask the device itself (at most twice).
    const stalled = s.v?.[1] !== 2 && s.pf && s.pf[0] === s.fs![0] && s.pf[1] === s.fs![1] && sentN - s.pf[2] >= 3 && (s.np ?? 0) < 2;
    const frozen = est.frozen === true;
    // LBM leaves MissingFrag at 1 after a loss-free reception (NbFragReceived = M then): ask rather than send.
    const lbmLossless = s.fs![1] === 1 && s.fs![0] === plan.nbFrag && !s.np;
    if (deficit === 0 || stalled || frozen || lbmLossless) {
      apply(d, eui, markComplete(s, now));
      return;
    }
    estimates.push({ ...est, deficit });
    const need = repairCount([{ ...est, deficit }], Infinity, X_SLACK, X_XSLACK);
    if (!worst || need > (worst.need as number)) worst = { devEui: eui, need, deficit, loss: +est.loss.toFixed(3), status: s.fs };
  });
  const silent = listening.length - answered.length;
  // Devices that missed this round's request: their last answer, less what they should have heard since.
  let staleDirect = 0;
  if (X_STALE) {
    for (const [eui, s] of listening) {
      if (!s.fs || s.fs[3] === sentN || s.fs[3] === 0) continue;
      const est = estimateDeficit({ ts004: (s.v?.[1] === 2 ? 2 : 1) as 1 | 2, nbFragReceived: s.fs[0], missingFrag: s.fs[1], sentN: s.fs[3], ...(s.fs[2] & CUMULATIVE_COUNTERS ? { cumulative: true } : {}), ...(s.np ? { doubted: true } : {}) }, plan.nbFrag, cap, fleet);
      const left = est.deficit - (sentN - s.fs[3]) * (1 - est.loss);
      if (left > 0) {
        const e = { ...est, deficit: Math.ceil(left) };
        estimates.push(e);
        const need = repairCount([e], Infinity, X_SLACK, X_XSLACK);
        if (!worst || need > (worst.need as number)) worst = { devEui: eui, need, deficit: e.deficit, loss: +est.loss.toFixed(3), status: s.fs, stale: true };
      } else if (X_STALE_DIRECT && left < -X_STALE_MARGIN) {
        staleDirect++;
        apply(d, eui, markComplete(s, now));
      }
    }
  }
  const rounds = g.repair.rounds;
  const targetN = g.broadcast.targetN;
  const budget = plan.nbFrag + plan.maxCoded - targetN;
  const sessionLeftMs = (g.session?.endMs ?? 0) - now - plan.statusWindowMs;
  const capacity = Math.max(0, Math.floor(sessionLeftMs / plan.fragmentIntervalMs));
  const need = Math.min(repairCount(estimates, budget, X_SLACK, X_XSLACK), capacity);
  const canRepair = rounds < c.spec.fragmentation.maxRepairRounds && sessionLeftMs > 0;
  let directlyAsked = 0;
  if (X_DIRECT && need === 0 && answered.length > 0) {
    for (const [eui, s] of listening) {
      const cur = d.devices.get(eui)!;
      if (cur.p !== 'listening' || cur.np) continue;
      directlyAsked++;
      apply(d, eui, markComplete(cur, now));
    }
  }
  if (canRepair && (need > 0 || (silent - staleDirect - directlyAsked > 0 && estimates.length === 0))) {
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
