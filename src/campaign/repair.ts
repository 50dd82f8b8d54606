/**
 * Repair sizing: from the devices' FragSessionStatusAns, how many more coded fragments the stragglers need.
 *
 * The counters mean different things on different stacks (TS004-2.0.0 §3.2; docs/protocol.md §9 item 2): LoRaMac-node (TS004 v1) reports
 * the last N seen and the cumulative count of uncoded fragments it saw lost, never decremented, and stops counting
 * once it has decoded; LoRa Basics Modem reports the fragments still unrecovered (and 1 after a lossless reception).
 * So each answer is turned into an estimate of the device's rank deficit and its loss rate, and the round sends what
 * the worst device needs. docs/pipeline.md "Repair rounds" explains the choices and the figures behind them.
 */

export interface StatusReport {
  /** TS004 version the device runs (decides how to read the counters). */
  ts004: 1 | 2;
  nbFragReceived: number;
  missingFrag: number;
  /** Highest N the service had sent when it asked. */
  sentN: number;
  /** An earlier answer of the device already showed LoRaMac-node's counters (see `isCumulative`). */
  cumulative?: boolean;
  /**
   * A reading of these counters as "decoded" was refuted (DevUpgradeImageAns: no image): read them as unknowns
   * still unsolved, and infer nothing from counters that stopped.
   */
  refuted?: boolean;
}

export interface DeficitEstimate {
  /** Rank still missing, best estimate (0 = the device has most likely decoded). */
  deficit: number;
  /** The counters read pessimistically: as unknowns still unsolved, unless they can only be LoRaMac-node's. */
  upper: number;
  /** Estimated fraction of fragments the device loses. */
  loss: number;
  /** Decoded is inferred from LoRaMac-node counters that stopped while fragments kept coming. */
  frozen?: boolean;
  /** Extra equations to size for beyond the deficit (default: `repairCount`'s `slack`). */
  slack?: number;
}

const MAX_LOSS = 0.9;

/** Bit of a device's stored status flags (`fs[2]`): its counters were seen to be LoRaMac-node's. */
export const CUMULATIVE_COUNTERS = 8;

/**
 * Slack, in equations, for a deficit read exactly (unknowns still unsolved): the coded fragments a device receives
 * are random GF(2) equations, and the last unknowns take more than one each (one unknown: 2 on average; many: about
 * 1.6 in all). Sizing the worst device for its mean lets it fail half the time, one more round each time.
 */
export const EXACT_SLACK = 2;
/** Slack for a deficit estimated from LoRaMac-node's cumulative counters (the estimate is already an expectation). */
export const ESTIMATED_SLACK = 1;

/**
 * LoRaMac-node's counters, and only LoRaMac-node's, can add up to more than the highest N sent: NbFragReceived is its
 * last N and MissingFrag the uncoded fragments it saw lost. LoRa Basics Modem's add up to at most its last N.
 */
export function isCumulative(r: StatusReport): boolean {
  return r.ts004 === 1 && (r.cumulative === true || r.nbFragReceived + r.missingFrag > Math.max(r.sentN, 1));
}

/** Whether a non-zero deficit read from these counters is exact (unknowns still unsolved) rather than estimated. */
export function readsUnsolved(r: StatusReport): boolean {
  return !isCumulative(r);
}

/**
 * One answer read as a deficit and a loss rate. `lossCap` bounds the loss read from the counters; `fleetLoss` (the
 * fleet's typical loss) helps tell a LoRaMac-node device that decoded from an LBM device that did not.
 */
export function estimateDeficit(r: StatusReport, nbFrag: number, lossCap = MAX_LOSS, fleetLoss?: number): DeficitEstimate {
  const sent = Math.max(r.sentN, 1);
  if (r.ts004 === 2) return unsolvedReading(r, nbFrag, lossCap);
  // v1: LoRaMac-node reports MissingFrag = uncoded fragments seen lost so far (8-bit, cumulative) and
  // NbFragReceived = last N; LoRa Basics Modem v1 reports the unknowns still unsolved and last N - lost uncoded.
  // Both answer PackageVersion 1. Counters that add up to more than the N sent are LoRaMac-node's (the device
  // state remembers it); counters that do not are LBM's, or those of a LoRaMac-node device that decoded early and
  // stopped counting: the likelier of the two readings is taken.
  if (!isCumulative(r)) {
    if (r.missingFrag > 0 && !r.refuted && decodedLoRaMacNode(r, nbFrag, fleetLoss)) {
      return { deficit: 0, upper: r.missingFrag, loss: clamp(r.missingFrag / nbFrag, 0, lossCap), frozen: true };
    }
    return unsolvedReading(r, nbFrag, lossCap);
  }
  return cumulativeReading(r, nbFrag, lossCap);
}

/** LBM's counters: MissingFrag = unknowns still unsolved (exact), NbFragReceived = last N - lost uncoded. */
function unsolvedReading(r: StatusReport, nbFrag: number, lossCap: number): DeficitEstimate {
  const loss = clamp(1 - r.nbFragReceived / Math.max(r.sentN, 1), 0, lossCap);
  // Both counters 0 after fragments were sent: nothing heard yet (LBM also answers so for a session not fed yet).
  const deficit = r.nbFragReceived === 0 && r.missingFrag === 0 && r.sentN > 0 ? nbFrag : r.missingFrag;
  return { deficit, upper: deficit, loss };
}

/**
 * LoRaMac-node's counters: C uncoded fragments lost (loss C/M), last N heard. The coded fragments it heard up to its
 * last N are about binomial (the spread of the loss estimate itself included); it decoded once they reached C. It
 * stops counting once decoded, so a gap since its last N that a listening device would rarely show (loss^gap) makes
 * "decoded" likelier. Decoded if that is the likelier reading; otherwise the deficit is the expected shortfall given
 * that it has not decoded.
 */
function cumulativeReading(r: StatusReport, nbFrag: number, lossCap: number): DeficitEstimate {
  const sent = Math.max(r.sentN, 1);
  const c = r.missingFrag;
  const loss = clamp(c / nbFrag, 0, lossCap);
  const lastN = Math.min(sent, r.nbFragReceived);
  const coded = Math.max(0, lastN - nbFrag);
  // Reception of the coded fragments: as of the uncoded ones, within the cap (a device whose window opened late lost
  // the first fragments without losing the later ones at that rate).
  const p = clamp(c / nbFrag, 0.005, Math.min(MAX_LOSS, lossCap));
  const mean = c - coded * (1 - p);
  const sd = Math.sqrt(coded * p * (1 - p) + (coded * coded * p * (1 - p)) / nbFrag + 0.25);
  const prior = c <= coded ? normCdf((0.5 - mean) / sd) : 0; // P(at least C coded fragments heard)
  const stillListening = r.refuted ? 1 : Math.pow(p, sent - lastN);
  const decoded = prior / (prior + (1 - prior) * stillListening);
  if (!r.refuted && decoded >= 0.5) return { deficit: 0, upper: 0, loss, ...(lastN < sent ? { frozen: true } : {}) };
  const a = (0.5 - mean) / sd;
  const shortfall = mean + (sd * normPdf(a)) / Math.max(1e-12, 1 - normCdf(a));
  const deficit = Math.max(1, Math.round(shortfall));
  return { deficit, upper: deficit, loss };
}

/**
 * Counters that add up to at most the N sent: LoRa Basics Modem's (NbFragReceived = last N - lost uncoded,
 * MissingFrag = unknowns unsolved), or those of a LoRaMac-node device that decoded on its last N (NbFragReceived =
 * that N, MissingFrag = C uncoded lost)? True if the LoRaMac-node reading is the likelier one.
 */
export function decodedLoRaMacNode(r: StatusReport, nbFrag: number, fleetLoss?: number): boolean {
  const sent = Math.max(r.sentN, 1);
  const u = r.missingFrag;
  const lastN = r.nbFragReceived;
  if (lastN - nbFrag < u) return false; // too few coded fragments to have decoded
  const prior = (lost: number) => (fleetLoss === undefined ? 0 : Math.max(lossLogLik(lost, nbFrag, fleetLoss), lossLogLik(lost, nbFrag, 2 * fleetLoss)));
  const lmn = lmnLogLik(lastN - nbFrag, u, nbFrag) + prior(u);
  const lbm = lbmLogLik(sent, lastN, u, nbFrag) + prior(Math.min(nbFrag, sent - lastN));
  return lmn > lbm;
}

/**
 * Log-likelihood of LBM counters for a device still receiving: it lost `lost` uncoded fragments, heard h of the
 * coded ones (binomial at its uncoded reception rate) and those h equations left `u` unknowns, each equation beyond
 * the rank a dependent one (2^-u apiece).
 */
function lbmLogLik(sent: number, nb: number, u: number, nbFrag: number): number {
  const lost = sent - nb;
  const solved = lost - u;
  if (solved < 0) return -Infinity;
  const coded = sent - nbFrag;
  const q = clamp(1 - lost / nbFrag, 0.05, 0.99);
  let total = 0;
  for (let h = solved; h <= coded; h++) {
    total += Math.exp(logBinom(coded, h) + h * Math.log(q) + (coded - h) * Math.log(1 - q) - u * (h - solved) * Math.LN2);
  }
  return Math.log(total);
}

/**
 * Log-likelihood of LoRaMac-node counters for a device that decoded on its last N: the (C + 1)-th coded fragment it
 * heard was the `coded`-th sent (negative binomial; one dependent equation on average), at a coded reception rate
 * that may be worse than its uncoded one (the likeliest of a few is taken).
 */
function lmnLogLik(coded: number, c: number, nbFrag: number): number {
  if (coded < c) return -Infinity;
  const k = c + 1;
  if (coded < k) return Math.log(0.5); // decoded on exactly C coded fragments: no dependent equation
  let best = -Infinity;
  for (const p of [c / nbFrag, 0.1, 0.2, 0.3, 0.4]) {
    const q = clamp(1 - p, 0.05, 0.99);
    best = Math.max(best, logBinom(coded - 1, k - 1) + k * Math.log(q) + (coded - k) * Math.log(1 - q));
  }
  return best;
}

/** Log-probability of losing `lost` of the M uncoded fragments at loss rate p. */
function lossLogLik(lost: number, nbFrag: number, p: number): number {
  const q = clamp(p, 0.005, MAX_LOSS);
  return logBinom(nbFrag, lost) + lost * Math.log(q) + (nbFrag - lost) * Math.log(1 - q);
}

/**
 * The loss cap: a single answer can overstate a device's loss (a device whose window opened late reads as one that
 * lost every early fragment), and its round would be sized on it. The cap is 1.25 times the loss of the fleet's
 * 95th percentile (at least 5 %), from the first status round: it leaves the fleet's genuinely bad links their own
 * estimate and only holds outliers. (Twice that let one late device size a whole round: 113 fragments where 87
 * were needed, 100 devices at 20 % loss, seed 3.)
 */
export function lossCap(reports: StatusReport[], nbFrag: number): number {
  return capOf(sortedLosses(reports, nbFrag));
}

/** The fleet's typical loss: the median of the devices' own estimates (from the first status round). */
export function fleetLoss(reports: StatusReport[], nbFrag: number): number {
  return typicalOf(sortedLosses(reports, nbFrag));
}

/** The devices' own loss estimates, ascending (what `lossCap` and `fleetLoss` are read from). */
export function sortedLosses(reports: StatusReport[], nbFrag: number): number[] {
  return reports.map((r) => estimateDeficit(r, nbFrag).loss).sort((a, b) => a - b);
}

/** `lossCap` of losses already sorted. */
export function capOf(sorted: readonly number[]): number {
  if (sorted.length === 0) return MAX_LOSS;
  return clamp(1.25 * sorted[Math.floor((sorted.length - 1) * 0.95)]!, 0.05, MAX_LOSS);
}

/** `fleetLoss` of losses already sorted. */
export function typicalOf(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0.1;
  return Math.max(0.01, sorted[Math.floor((sorted.length - 1) / 2)]!);
}

/**
 * Coded fragments to send next so that the worst device is expected to complete: ceil((deficit + slack) / (1 - loss)),
 * the maximum over devices, within the remaining budget. 0 when nobody needs more.
 */
export function repairCount(estimates: DeficitEstimate[], budget: number, slack = ESTIMATED_SLACK): number {
  let need = 0;
  for (const e of estimates) {
    if (e.deficit <= 0) continue;
    need = Math.max(need, Math.ceil((e.deficit + (e.slack ?? slack)) / (1 - e.loss)));
  }
  return Math.max(0, Math.min(need, budget));
}

function logBinom(n: number, k: number): number {
  return logFact(n) - logFact(k) - logFact(n - k);
}

const LOG_FACT: number[] = [0];
function logFact(n: number): number {
  for (let i = LOG_FACT.length; i <= n; i++) LOG_FACT.push(LOG_FACT[i - 1]! + Math.log(i));
  return LOG_FACT[n]!;
}

function normPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26, error < 1.5e-7). */
function normCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
