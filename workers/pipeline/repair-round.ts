/**
 * The status half of the repair loop: after a FragSessionStatusReq round, which devices go on to the upgrade and
 * how many more coded fragments the stragglers need; during apply, what to do with devices that turn out not to
 * have the image.
 */
import type { Stage } from '../../src/campaign/model.js';
import { finish } from '../../src/campaign/device-machine.js';
import type { Plan } from '../../src/campaign/planner.js';
import { estimateDeficit, lossCap, repairCount, type DeficitEstimate } from '../../src/campaign/repair.js';
import type { CampaignRecord } from '../../src/store/campaign-store.js';
import { count, setDevice, type DeviceStep } from './devices.js';

/** After a status round: devices that decoded go on to the upgrade; the rest get just enough repair fragments. */
export function evaluateStatus(c: CampaignRecord, plan: Plan, step: DeviceStep, now: number, extra: Record<string, string | number>): Stage | undefined {
  const asked = Number(c.data.statusAskedAt || 0);
  if (!asked) return undefined;
  const sentN = Number(c.data.statusSentN ?? 0);
  const listening = [...step.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  const answered = listening.filter(([, s]) => s.fs && s.fs[3] === sentN);
  // Evaluate once every listening device has answered, or when the answer window (plus one uplink) is over.
  const windowOver = now >= asked + plan.statusWindowMs + 1.5 * c.spec.timing.uplinkIntervalS * 1000;
  if (!windowOver && answered.length < listening.length) return undefined;
  const reports = answered.map(([, s]) => ({ ts004: (s.v?.[1] === 2 ? 2 : 1) as 1 | 2, nbFragReceived: s.fs![0], missingFrag: s.fs![1], sentN }));
  // The loss cap comes from the first round, when every device had heard the same stream from the start; later
  // rounds hear mostly from stragglers and from devices whose counters froze when they decoded.
  const cap = c.data.lossCap ? Number(c.data.lossCap) : lossCap(reports, plan.nbFrag);
  if (!c.data.lossCap) extra.lossCap = cap;
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
      setDevice(step, eui, { ...s, p: 'complete', t: now }, { type: 'device', phase: 'complete', status: s.s });
      return;
    }
    estimates.push({ ...est, deficit });
    const need = repairCount([{ ...est, deficit }], Infinity);
    if (!worst || need > (worst.need as number)) worst = { devEui: eui, need, deficit, loss: +est.loss.toFixed(3), status: s.fs };
  });
  const silent = listening.length - answered.length;
  const rounds = Number(c.data.rounds ?? 0);
  const targetN = Number(c.data.targetN);
  const budget = plan.nbFrag + plan.maxCoded - targetN;
  const sessionLeftMs = Number(c.data.sessionEndMs) - now - plan.statusWindowMs;
  const capacity = Math.max(0, Math.floor(sessionLeftMs / plan.fragmentIntervalMs));
  const need = Math.min(repairCount(estimates, budget), capacity);
  const canRepair = rounds < c.spec.fragmentation.maxRepairRounds && sessionLeftMs > 0;
  if (canRepair && (need > 0 || (silent > 0 && estimates.length === 0))) {
    extra.rounds = rounds + 1;
    extra.statusAskedAt = '';
    if (need > 0) {
      Object.assign(extra, { targetN: targetN + need, bStartN: Number(c.data.nextN), bStartMs: now });
      step.events.push({ type: 'repair', round: rounds + 1, fragments: need, devices: estimates.length, worst });
      return 'broadcast';
    }
    return 'status'; // only silent devices: ask again
  }
  // No more rounds: every device still listening is asked directly whether it has the image.
  for (const [eui, s] of listening) {
    if (step.devices.get(eui)!.p === 'listening') setDevice(step, eui, { ...s, p: 'complete', t: now }, { type: 'device', phase: 'complete', status: s.s });
  }
  return 'apply';
}

/** During apply: devices that turned out not to have the image either get another repair round or fail. */
export function checkApply(c: CampaignRecord, plan: Plan, step: DeviceStep, now: number, extra: Record<string, string | number>): Stage | undefined {
  const lacking = [...step.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  if (lacking.length) {
    const rounds = Number(c.data.rounds ?? 0);
    const budget = plan.nbFrag + plan.maxCoded - Number(c.data.targetN);
    const sessionLeftMs = Number(c.data.sessionEndMs) - now - plan.statusWindowMs;
    if (rounds < c.spec.fragmentation.maxRepairRounds && budget > 0 && sessionLeftMs > 0) {
      extra.statusAskedAt = '';
      return 'status';
    }
    for (const [eui, s] of lacking) {
      const st = finish(s, 'MissingFragments', `block not reassembled after ${Number(c.data.fragmentsSent ?? 0)} fragments`, now);
      setDevice(step, eui, st, { type: 'device', phase: st.p, status: st.s, reason: st.r });
    }
  }
  return count(step, (s) => s.s === 'Pending') === 0 ? 'cleanup' : undefined;
}
