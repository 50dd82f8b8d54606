/**
 * Repair sizing: from the devices' FragSessionStatusAns, how many more coded fragments the stragglers need.
 *
 * The counters mean different things on different stacks (TS004-2.0.0 §3.2; docs/protocol.md §9 item 2): LoRaMac-node (TS004 v1) reports
 * the last N seen and the cumulative count of uncoded fragments it saw lost, never decremented; LoRa Basics Modem v2
 * reports the fragments still unrecovered (and 1 after a lossless reception). So each answer is turned into an
 * estimate of the device's rank deficit and its loss rate, and the round sends what the worst device needs.
 */

export interface StatusReport {
  /** TS004 version the device runs (decides how to read the counters). */
  ts004: 1 | 2;
  nbFragReceived: number;
  missingFrag: number;
  /** Highest N the service had sent when it asked. */
  sentN: number;
}

export interface DeficitEstimate {
  /** Rank still missing, lower bound (0 = the device may have decoded). */
  deficit: number;
  /** Upper bound: the counters read as "unknowns still unsolved" (exact for LoRa Basics Modem). */
  upper: number;
  /** Estimated fraction of fragments the device loses. */
  loss: number;
}

const MAX_LOSS = 0.9;

export function estimateDeficit(r: StatusReport, nbFrag: number, lossCap = MAX_LOSS): DeficitEstimate {
  const sent = Math.max(r.sentN, 1);
  if (r.ts004 === 2) {
    // Remaining-unknowns semantics; NbFragReceived = last N - lost uncoded.
    const loss = clamp(1 - r.nbFragReceived / sent, 0, lossCap);
    return { deficit: r.missingFrag, upper: r.missingFrag, loss };
  }
  // v1: LoRaMac-node reports MissingFrag = uncoded fragments seen lost so far (8-bit, cumulative) and
  // NbFragReceived = last N; LoRa Basics Modem v1 reports the unknowns still unsolved and last N - lost uncoded.
  // Both answer PackageVersion 1. LBM's two counters add up to at most the last N, LoRaMac-node's usually exceed
  // the highest N sent: that tells them apart (a LoRaMac-node device that lost the tail reads as LBM, pessimistically).
  // The lower bound reads the counters the LoRaMac-node way; unless they can only be LoRaMac-node's (their sum
  // exceeds the highest N sent), the upper bound reads them the LBM way.
  const lostUncoded = r.missingFrag;
  const onlyLoRaMacNode = r.nbFragReceived + r.missingFrag > sent;
  const uncodedLoss = lostUncoded / nbFrag;
  const loss = clamp(onlyLoRaMacNode ? uncodedLoss : Math.max(uncodedLoss, 1 - r.nbFragReceived / sent), 0, lossCap);
  // Coded fragments up to the last N heard, received at the device's loss rate.
  const codedSent = Math.max(0, Math.min(sent, r.nbFragReceived) - nbFrag);
  const codedReceived = Math.floor(codedSent * (1 - clamp(uncodedLoss, 0, lossCap)));
  const deficit = Math.max(0, lostUncoded - codedReceived);
  return { deficit, upper: onlyLoRaMacNode ? deficit : Math.max(deficit, r.missingFrag), loss };
}

/**
 * Loss estimates from one answer can be far off: a device that opened its session late reads as one that lost
 * every early fragment. The cap is 1.5 times the fleet's median loss (at least 5 %), so one outlier does not make the
 * whole fleet pay for a pessimistic guess; if the cap was too tight, the next round sends the rest.
 */
export function lossCap(reports: StatusReport[], nbFrag: number): number {
  if (reports.length === 0) return MAX_LOSS;
  const sorted = reports.map((r) => estimateDeficit(r, nbFrag).loss).sort((a, b) => a - b);
  return Math.max(0.05, 1.5 * sorted[Math.floor((sorted.length - 1) / 2)]!);
}

/**
 * Coded fragments to send next so that the worst device is expected to complete: ceil((deficit + slack) / (1 - loss)),
 * the maximum over devices, within the remaining budget. 0 when nobody needs more.
 */
export function repairCount(estimates: DeficitEstimate[], budget: number, slack = 1): number {
  let need = 0;
  for (const e of estimates) {
    if (e.deficit <= 0) continue;
    need = Math.max(need, Math.ceil((e.deficit + slack) / (1 - e.loss)));
  }
  return Math.max(0, Math.min(need, budget));
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
