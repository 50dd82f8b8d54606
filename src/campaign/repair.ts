/**
 * Repair sizing: from the devices' FragSessionStatusAns, how many more coded fragments the stragglers need.
 *
 * The counters mean different things on different stacks (PROTOCOL.md §4.3, §11.3): LoRaMac-node (TS004 v1) reports
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
  /** Rank still missing (0 = the device has probably decoded). */
  deficit: number;
  /** Estimated fraction of fragments the device loses. */
  loss: number;
}

const MAX_LOSS = 0.9;

export function estimateDeficit(r: StatusReport, nbFrag: number): DeficitEstimate {
  const sent = Math.max(r.sentN, 1);
  if (r.ts004 === 2) {
    // Remaining-unknowns semantics; NbFragReceived = last N - lost uncoded.
    const loss = clamp(1 - r.nbFragReceived / sent, 0, MAX_LOSS);
    return { deficit: r.missingFrag, loss };
  }
  // v1 (LoRaMac-node): MissingFrag = uncoded fragments seen lost so far (8-bit, cumulative); NbFragReceived = last N.
  const lostUncoded = r.missingFrag;
  const loss = clamp(lostUncoded / nbFrag, 0, MAX_LOSS);
  // Fragments after the last one heard were lost as well: count them in.
  const tailLost = Math.max(0, sent - Math.max(r.nbFragReceived, 0));
  const codedSent = Math.max(0, Math.min(sent, r.nbFragReceived) - nbFrag);
  const codedReceived = Math.floor(codedSent * (1 - loss));
  const tailUncoded = r.nbFragReceived < nbFrag ? Math.min(tailLost, nbFrag - r.nbFragReceived) : 0;
  const deficit = Math.max(0, lostUncoded + tailUncoded - codedReceived);
  return { deficit, loss: clamp(Math.max(loss, tailLost / sent), 0, MAX_LOSS) };
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
