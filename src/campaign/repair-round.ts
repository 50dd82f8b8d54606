/**
 * The status half of the repair loop: after a FragSessionStatusReq round, which devices go on to the upgrade and
 * how many more coded fragments the stragglers need; during apply, what to do with devices that turn out not to
 * have the image. Pure: decisions on the group state and the draft of device states.
 */
import { finish, markComplete } from './device-machine.js';
import { apply, count, type Draft } from './draft.js';
import type { DeviceState, Stage } from './model.js';
import { capOf, CUMULATIVE_COUNTERS, ESTIMATED_SLACK, EXACT_SLACK, estimateDeficit, readsUnsolved, repairCount, sortedLosses, typicalOf, type DeficitEstimate, type StatusReport } from './repair.js';
import type { CampaignState, GroupState } from './state.js';

/**
 * Margin after the TS004 answer window for the answer's uplink itself: a device may have to wait out its duty cycle
 * (1 % after an uplink of up to ~300 ms: 30 s), then the gateway, network server and integration pass it on.
 */
const STATUS_ANSWER_MARGIN_MS = 30_000;

/**
 * How long a status round waits for the answers: devices answer FragSessionStatusReq at a random time within
 * 2^(BlockAckDelay+4) s (TS004 §3.1) and transmit the answer when it is due, so the wait is that window plus a margin
 * for the uplink (never more than the 1.5 uplink intervals it used to be). A device that missed the multicast request
 * never answers it, however long the wait; it is asked again in the next round, and an answer that comes late is
 * still used in the next evaluation.
 */
export function statusWaitMs(plan: { statusWindowMs: number }, uplinkIntervalS: number, unheard = false): number {
  // A group whose requests have never been answered: the request may still be queued behind other groups' frames on
  // a shared gateway; give it the uplink-based wait it used to have, so its rounds are not used up meanwhile.
  if (unheard) return plan.statusWindowMs + 1.5 * uplinkIntervalS * 1000;
  return plan.statusWindowMs + Math.min(STATUS_ANSWER_MARGIN_MS, 1.5 * uplinkIntervalS * 1000);
}

/** A device's last FragSessionStatusAns as a report. */
function reportOf(s: DeviceState): StatusReport {
  return {
    ts004: s.v?.[1] === 2 ? 2 : 1,
    nbFragReceived: s.fs![0],
    missingFrag: s.fs![1],
    sentN: s.fs![3],
    ...(s.fs![2] & CUMULATIVE_COUNTERS ? { cumulative: true } : {}),
  };
}

/** The device's estimate, with the slack its kind of reading calls for. */
function sized(est: DeficitEstimate, r: StatusReport, deficit = est.deficit): DeficitEstimate {
  return { ...est, deficit, slack: readsUnsolved(r) ? EXACT_SLACK : ESTIMATED_SLACK };
}

/** How far below zero a silent device's deficit must be expected to be before it is asked for its image directly. */
const SILENT_DECODED_MARGIN = 2;
/** "No image" answers after which a device is no longer asked for its image without a status answer first. */
const MAX_DIRECT_ASKS = 2;

/** After a status round: devices that decoded go on to the upgrade; the rest get just enough repair fragments. */
export function evaluateStatus(c: CampaignState, g: GroupState, d: Draft, now: number): Stage | undefined {
  const plan = g.plan;
  const asked = g.status.askedAt;
  if (asked === undefined) return undefined;
  const sentN = g.status.sentN;
  const listening = [...d.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  const answered = listening.filter(([, s]) => s.fs && s.fs[3] === sentN);
  // Evaluate once every listening device has answered, or when the answer window is over.
  const unheard = g.repair.rounds > 0 && ![...d.devices.values()].some((s) => s.fs);
  const windowOver = now >= asked + statusWaitMs(plan, c.spec.timing.uplinkIntervalS, unheard);
  if (!windowOver && answered.length < listening.length) return undefined;
  const reports = answered.map(([, s]) => reportOf(s));
  // The loss cap and the fleet's typical loss come from the first round, when every device had heard the same stream
  // from the start; later rounds hear mostly from stragglers and from devices whose counters froze when they decoded.
  const sorted = g.repair.lossCap === undefined || g.repair.fleetLoss === undefined ? sortedLosses(reports, plan.nbFrag) : [];
  const cap = g.repair.lossCap ?? capOf(sorted);
  g.repair.lossCap = cap;
  const typical = g.repair.fleetLoss ?? typicalOf(sorted);
  g.repair.fleetLoss = typical;
  const estimates: DeficitEstimate[] = [];
  let worst: Record<string, unknown> | undefined;
  const consider = (eui: string, s: DeviceState, e: DeficitEstimate, stale: boolean) => {
    estimates.push(e);
    const need = repairCount([e], Infinity);
    if (!worst || need > (worst.need as number)) worst = { devEui: eui, need, deficit: e.deficit, loss: +e.loss.toFixed(3), status: s.fs, ...(stale ? { stale } : {}) };
  };
  answered.forEach(([eui, s], i) => {
    // Counters moved since the previous answer: the device heard fragments since it was last judged.
    const progressed = !s.pf || s.pf[0] !== s.fs![0] || s.pf[1] !== s.fs![1];
    // A "no image" answer to DevUpgradeImageReq proved an optimistic reading wrong: ambiguous counters are then read
    // as unknowns still unsolved, and LoRaMac-node counters are not taken as decoded unless they moved since.
    const refuted = !!s.np && (!(s.fs![2] & CUMULATIVE_COUNTERS) || !progressed);
    const report = { ...reports[i]!, ...(refuted ? { refuted } : {}) };
    const est = estimateDeficit(report, plan.nbFrag, cap, typical);
    // Counters that did not move since the "no image": at least 2^(answers - 1), so that a device whose counters say
    // little converges in a few rounds.
    const deficit = s.np && !progressed ? Math.max(2 ** (s.np - 1), est.deficit) : est.deficit;
    // Counters unchanged while at least 3 more fragments were sent: decoded (LoRaMac-node stops counting) or deaf;
    // ask the device itself (at most twice).
    const stalled = s.v?.[1] !== 2 && s.pf && !progressed && sentN - s.pf[2] >= 3 && (s.np ?? 0) < 2;
    // LBM leaves MissingFrag at 1 after a loss-free reception (NbFragReceived = M then): ask rather than send.
    const lbmLossless = s.fs![1] === 1 && s.fs![0] === plan.nbFrag && !s.np;
    if (deficit === 0 || stalled || lbmLossless) {
      apply(d, eui, markComplete(s, now));
      return;
    }
    consider(eui, s, sized(est, report, deficit), false);
  });
  // Devices that missed this round's request, by their last answer less what they should have heard since: still
  // short (sized for, and asked again next round), or clearly complete by now (asked for their image directly).
  let askedDirectly = 0;
  for (const [eui, s] of listening) {
    if (!s.fs || s.fs[3] === sentN || s.fs[3] === 0) continue;
    const report = { ...reportOf(s), ...(s.np ? { refuted: true } : {}) };
    const est = estimateDeficit(report, plan.nbFrag, cap, typical);
    const left = est.deficit - (sentN - report.sentN) * (1 - est.loss);
    if (left > 0) consider(eui, s, sized(est, report, Math.ceil(left)), true);
    else if (left < -SILENT_DECODED_MARGIN) {
      askedDirectly++;
      apply(d, eui, markComplete(s, now));
    }
  }
  const silent = listening.length - answered.length - askedDirectly;
  const rounds = g.repair.rounds;
  const targetN = g.broadcast.targetN;
  const budget = plan.nbFrag + plan.maxCoded - targetN;
  const sessionLeftMs = (g.session?.endMs ?? 0) - now - plan.statusWindowMs;
  const capacity = Math.max(0, Math.floor(sessionLeftMs / plan.fragmentIntervalMs));
  const need = Math.min(repairCount(estimates, budget), capacity);
  const canRepair = rounds < c.spec.fragmentation.maxRepairRounds && sessionLeftMs > 0;
  // Every device that answered is complete: the silent ones most likely are too. Asking each for its image
  // directly costs a unicast exchange; asking them all again by multicast costs a status round, and at scale about
  // a tenth miss every request. A device that says "no image" comes back here (at most twice without answering).
  if (estimates.length === 0 && answered.length > 0 && silent > 0) {
    for (const [eui, s] of listening) {
      const cur = d.devices.get(eui) ?? s;
      if (cur.p !== 'listening' || (cur.np ?? 0) >= MAX_DIRECT_ASKS) continue;
      apply(d, eui, markComplete(cur, now));
    }
  }
  const stillSilent = listening.filter(([eui]) => d.devices.get(eui)?.p === 'listening').length - estimates.length;
  if (canRepair && (need > 0 || (stillSilent > 0 && estimates.length === 0))) {
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
