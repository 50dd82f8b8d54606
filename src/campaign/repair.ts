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
  /** An earlier answer of the device already showed LoRaMac-node's counters (see `isCumulative`). */
  cumulative?: boolean;
  /** The device said it had no image although its counters said it had decoded: read them pessimistically. */
  doubted?: boolean;
}

export interface DeficitEstimate {
  /** Rank still missing, best estimate (0 = the device has probably decoded). */
  deficit: number;
  /** Upper bound: the counters read as "unknowns still unsolved" (exact for LoRa Basics Modem). */
  upper: number;
  /** Estimated fraction of fragments the device loses. */
  loss: number;
  /** The counters stopped while fragments kept coming: LoRaMac-node stops counting once it has decoded. */
  frozen?: boolean;
  /** The deficit was read exactly (unknowns still unsolved), not estimated from cumulative counters. */
  exact?: boolean;
}

const MAX_LOSS = 0.9;
/** Bit of a device's stored status flags (`fs[2]`): its counters were seen to be LoRaMac-node's. */
export const CUMULATIVE_COUNTERS = 8;
const ENV = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const X_LBMLOSS = ENV.X_LBMLOSS ?? 'old';

/**
 * LoRaMac-node's counters, and only LoRaMac-node's, can add up to more than the highest N sent: NbFragReceived is its
 * last N and MissingFrag the uncoded fragments it saw lost. LoRa Basics Modem's add up to at most its last N.
 */
export function isCumulative(r: StatusReport): boolean {
  return r.ts004 === 1 && (r.cumulative === true || r.nbFragReceived + r.missingFrag > Math.max(r.sentN, 1));
}

export function estimateDeficit(r: StatusReport, nbFrag: number, lossCap = MAX_LOSS, fleetLoss?: number): DeficitEstimate {
  const sent = Math.max(r.sentN, 1);
  if (r.ts004 === 2) {
    // Remaining-unknowns semantics; NbFragReceived = last N - lost uncoded.
    const loss = clamp(1 - r.nbFragReceived / sent, 0, lossCap);
    return { deficit: r.missingFrag, upper: r.missingFrag, loss };
  }
  // v1: LoRaMac-node reports MissingFrag = uncoded fragments seen lost so far (8-bit, cumulative) and
  // NbFragReceived = last N; LoRa Basics Modem v1 reports the unknowns still unsolved and last N - lost uncoded.
  // Both answer PackageVersion 1. LBM's two counters add up to at most the last N, LoRaMac-node's usually exceed
  // the highest N sent: that tells them apart, and it is remembered for the device's later answers.
  if (!isCumulative(r)) {
    if (r.missingFrag > 0 && !r.doubted && decodedLoRaMacNode(r, nbFrag, fleetLoss)) {
      return { deficit: 0, upper: r.missingFrag, loss: clamp(r.missingFrag / nbFrag, 0, lossCap), frozen: true };
    }
    const unsolvedLoss = X_LBMLOSS === 'useful' ? 1 - (nbFrag - r.missingFrag) / sent : 1 - r.nbFragReceived / sent;
    const loss = clamp(unsolvedLoss, 0, lossCap);
    const lower = lowerCumulative(r, nbFrag, lossCap);
    return { deficit: r.missingFrag, upper: r.missingFrag, loss, exact: true, ...(X_LBMLOSS === 'dbg' ? { lower } : {}) };
  }
  const lostUncoded = r.missingFrag;
  const uncodedLoss = lostUncoded / nbFrag;
  const loss = clamp(uncodedLoss, 0, lossCap);
  const lastN = Math.min(sent, r.nbFragReceived);
  // Decoded at its last N? It needs at least as many coded fragments as it lost uncoded ones, and after decoding it
  // hears nothing more: a gap since the last N that a still-listening device would hardly lose in a row.
  if (!r.doubted && lastN - nbFrag >= lostUncoded && sent - lastN >= frozenGap(uncodedLoss)) {
    return { deficit: 0, upper: lostUncoded, loss, frozen: true };
  }
  const deficit = lowerCumulative(r, nbFrag, lossCap);
  return { deficit, upper: deficit, loss };
}

/** Coded fragments up to the last N heard, received at the device's uncoded loss rate, subtracted from its losses. */
function lowerCumulative(r: StatusReport, nbFrag: number, lossCap: number): number {
  const sent = Math.max(r.sentN, 1);
  const uncodedLoss = clamp(r.missingFrag / nbFrag, 0, lossCap);
  const codedSent = Math.max(0, Math.min(sent, r.nbFragReceived) - nbFrag);
  const codedReceived = Math.floor(codedSent * (1 - uncodedLoss));
  return Math.max(0, r.missingFrag - codedReceived);
}

/** Fragments lost in a row that a device losing `loss` of them would show less than once in a thousand. */
export function frozenGap(loss: number): number {
  const p = clamp(loss, 0.02, 0.8);
  return Math.max(3, Math.ceil(Math.log(FROZEN_P) / Math.log(p)));
}

/**
 * Counters that add up to at most the N sent, read as LoRa Basics Modem's (unknowns unsolved), would say the device
 * recovered far fewer lost fragments than the coded ones it must have heard: they are a LoRaMac-node device's that
 * decoded at its last N (it needed at least MissingFrag coded fragments after the M uncoded ones).
 */
export function decodedLoRaMacNode(r: StatusReport, nbFrag: number, fleetLoss?: number): boolean {
  const sent = Math.max(r.sentN, 1);
  const u = r.missingFrag;
  const lastN = r.nbFragReceived;
  if (lastN - nbFrag < u) return false; // too few coded fragments to have decoded
  if (ENV.X_DISC === 'simple') {
    const lost = sent - lastN;
    const solved = lost - u;
    const q = clamp(1 - lost / nbFrag, 0, 1);
    const coded = sent - nbFrag;
    const heardLow = coded * q - Z_HEARD * Math.sqrt(coded * q * (1 - q));
    return solved + DEP_MARGIN < Math.min(lost, heardLow);
  }
  const prior = (lost: number) => (fleetLoss === undefined ? 0 : Math.max(lossLogLik(lost, nbFrag, fleetLoss), lossLogLik(lost, nbFrag, 2 * fleetLoss)));
  return lmnLogLik(lastN - nbFrag, u, nbFrag) + prior(u) > lbmLogLik(sent, lastN, u, nbFrag) + prior(Math.min(nbFrag, sent - lastN)) + PRIOR;
}
const Z_HEARD = Number(ENV.X_Z ?? 2);
const DEP_MARGIN = Number(ENV.X_DEP ?? 3);
const FROZEN_P = Number(ENV.X_FROZENP ?? 1e-3);
const PRIOR = Number(ENV.X_PRIOR ?? 0);

/**
 * Log-likelihood of LBM counters (NbFragReceived = last N - lost uncoded, MissingFrag = unknowns unsolved) for a
 * device still receiving: it lost `lost` uncoded fragments, heard h of the coded ones (binomial at its uncoded
 * reception rate) and those h equations left `u` unknowns, each equation beyond the rank dependent (2^-u apiece).
 */
function lbmLogLik(sent: number, nb: number, u: number, nbFrag: number): number {
  const lost = sent - nb;
  const solved = lost - u;
  if (solved < 0) return -Infinity;
  const coded = sent - nbFrag;
  const q = clamp(1 - lost / nbFrag, 0.05, 0.99);
  let total = 0;
  for (let h = solved; h <= coded; h++) total += Math.exp(logBinom(coded, h) + h * Math.log(q) + (coded - h) * Math.log(1 - q) - u * (h - solved) * Math.LN2);
  return Math.log(total);
}

/**
 * Log-likelihood of LoRaMac-node counters (NbFragReceived = last N, MissingFrag = uncoded lost) for a device that
 * decoded on its last N: the (C + 1)-th coded fragment it heard was the `coded`-th sent (negative binomial), at a
 * coded reception rate that may be worse than its uncoded one (the likelier of a few is taken).
 */
function lmnLogLik(coded: number, c: number, nbFrag: number): number {
  const k = c + 1;
  if (coded < c) return -Infinity;
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
  const q = clamp(p, 0.005, 0.9);
  return logBinom(nbFrag, lost) + lost * Math.log(q) + (nbFrag - lost) * Math.log(1 - q);
}

function logBinom(n: number, k: number): number {
  return logFact(n) - logFact(k) - logFact(n - k);
}
const LOG_FACT: number[] = [0];
function logFact(n: number): number {
  for (let i = LOG_FACT.length; i <= n; i++) LOG_FACT.push(LOG_FACT[i - 1]! + Math.log(i));
  return LOG_FACT[n]!;
}

/**
 * Loss estimates from one answer can be far off: a device that opened its session late reads as one that lost
 * every early fragment. The cap is 1.5 times the fleet's median loss (at least 5 %), so one outlier does not make the
 * whole fleet pay for a pessimistic guess; if the cap was too tight, the next round sends the rest.
 */
export function lossCap(reports: StatusReport[], nbFrag: number): number {
  if (reports.length === 0) return MAX_LOSS;
  const sorted = reports.map((r) => estimateDeficit(r, nbFrag).loss).sort((a, b) => a - b);
  const med = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const mode = ENV.X_CAP ?? 'm1.5';
  if (mode === 'none') return MAX_LOSS;
  if (mode.startsWith('m')) return Math.max(0.05, Number(mode.slice(1)) * med);
  if (mode.startsWith('q')) return Math.max(0.05, sorted[Math.floor((sorted.length - 1) * Number(mode.slice(1)))]!);
  return Math.max(0.05, 1.5 * med);
}

/** The fleet's typical loss: the median of the devices' own estimates (from the first status round). */
export function fleetLoss(reports: StatusReport[], nbFrag: number): number {
  if (reports.length === 0) return 0.1;
  const sorted = reports.map((r) => estimateDeficit(r, nbFrag).loss).sort((a, b) => a - b);
  return Math.max(0.01, sorted[Math.floor((sorted.length - 1) / 2)]!);
}

/**
 * Coded fragments to send next so that the worst device is expected to complete: ceil((deficit + slack) / (1 - loss)),
 * the maximum over devices, within the remaining budget. 0 when nobody needs more.
 */
export function repairCount(estimates: DeficitEstimate[], budget: number, slack = 1, exactSlack = slack): number {
  let need = 0;
  for (const e of estimates) {
    if (e.deficit <= 0) continue;
    need = Math.max(need, Math.ceil((e.deficit + (e.exact ? exactSlack : slack)) / (1 - e.loss)));
  }
  return Math.max(0, Math.min(need, budget));
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
