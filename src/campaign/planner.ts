/**
 * The planner: fragment size, block geometry, pacing (time on air, regional duty cycle, gateways), the multicast
 * session length and the ETA, all from the campaign spec and the image size. Pure: no I/O.
 */
import { dataRate, dwellTimeMs, frameAirtimeMs, listenBeforeTalk, maxDownlinkAppPayload, regionDefaults, subBandFor } from '../codec/region.js';
import type { RegionName, RegionOptions } from '../codec/region.js';

export const MAX_N = 16383;
export const DATA_FRAGMENT_OVERHEAD = 3; // CID + Index&N
/** ChirpStack's `network.scheduler.interval` (default 1 s): multicast rows leave on this grid. */
export const SCHEDULER_INTERVAL_MS = 1000;
/** Least cap on coded fragments (when maxRedundancyPercent > 0), whatever the block size. */
export const MIN_CODED_CAP = 16;

export interface PlanInput {
  imageBytes: number;
  region: RegionName;
  dr: number;
  frequencyHz: number;
  groupType: 'C' | 'B';
  classBPeriodicity: number;
  gatewayCount: number;
  fragSize?: number | undefined;
  initialRedundancyPercent: number;
  maxRedundancyPercent: number;
  blockAckDelay: number;
  maxRepairRounds: number;
  uplinkIntervalS: number;
  unicastRetries: number;
  rebootDelayS: number;
  /** ChirpStack's `multicast_class_c_margin` (default 5 s): spacing of the gateway rows of Class C items. */
  classCMarginMs?: number;
  /** The network's 400 ms dwell-time limit (ChirpStack `dwell_time_400ms`, AS923/AU915; default off). */
  dwellTime?: boolean | undefined;
  /** The network keeps payloads repeater compatible (ChirpStack `repeater_compatible`; default off). */
  repeaterCompatible?: boolean | undefined;
  /** The devices' fragment-decoder limits, when the spec states them (`fragmentation.deviceLimits`). */
  deviceLimits?: { maxFragments?: number | undefined; maxFragSize?: number | undefined } | undefined;
}

export interface Plan {
  fragSize: number;
  nbFrag: number;
  padding: number;
  /** Coded fragments in the first broadcast. */
  initialCoded: number;
  /** Most coded fragments the campaign may ever send (initial + repair). */
  maxCoded: number;
  /** Time on air of one DataFragment frame at the session DR. */
  fragmentAirtimeMs: number;
  /** Spacing between two fragments as the planner paces them. */
  fragmentIntervalMs: number;
  /** Duty cycle of the sub-band the session frequency falls in. */
  dutyCycle: number;
  /** Window in which devices answer a FragSessionStatusReq (2^(BlockAckDelay+4) s). */
  statusWindowMs: number;
  /** Class C: TimeOut exponent (session lasts 2^TimeOut s). Class B: exponent of 128 s beacon periods. */
  sessionTimeOut: number;
  sessionSeconds: number;
  /** Expected campaign duration: setup + broadcast + one status round + apply. */
  etaSeconds: number;
  /** Airtime of the first broadcast, summed over the gateways that carry it. */
  initialAirtimeSeconds: number;
  warnings: string[];
}

export class PlanError extends Error {
  override readonly name = 'PlanError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export function planCampaign(p: PlanInput): Plan {
  const warnings: string[] = [];
  if (!(p.imageBytes > 0)) throw new PlanError('image', 'is empty');
  const opts: RegionOptions = { dwellTime: p.dwellTime, repeaterCompatible: p.repeaterCompatible };
  let rate;
  try {
    rate = dataRate(p.region, p.dr, 'downlink', opts);
  } catch (e) {
    throw new PlanError('multicast.dr', (e as Error).message.replace(/^dr: /, ''));
  }
  // Largest FRMPayload at the DR (RP002 table for these network settings, or ChirpStack's smaller limit) minus the
  // DataFragment header.
  const maxFrag = maxDownlinkAppPayload(p.region, rate.dr, opts) - DATA_FRAGMENT_OVERHEAD;
  if (maxFrag < 1) {
    throw new PlanError('multicast.dr', `DR${p.dr} carries no DataFragment in ${p.region}${p.dwellTime ? ' with the 400 ms dwell-time limit' : ''}`);
  }
  const fragSize = p.fragSize ?? Math.min(maxFrag, p.deviceLimits?.maxFragSize ?? maxFrag);
  if (fragSize > maxFrag) {
    throw new PlanError('fragmentation.fragSize', `${fragSize} exceeds the ${maxFrag} bytes DR${p.dr} allows in ${p.region}`);
  }
  let band;
  try {
    band = subBandFor(p.region, p.frequencyHz);
  } catch (e) {
    throw new PlanError('multicast.frequencyHz', (e as Error).message.replace(/^frequency: /, ''));
  }
  const nbFrag = Math.ceil(p.imageBytes / fragSize);
  const padding = nbFrag * fragSize - p.imageBytes;
  const lim = p.deviceLimits;
  if (lim?.maxFragSize !== undefined && fragSize > lim.maxFragSize) {
    warnings.push(`fragmentation.fragSize: ${fragSize} B exceeds the ${lim.maxFragSize} B the devices accept (deviceLimits.maxFragSize): they will answer NotEnoughMemory`);
  }
  if (lim?.maxFragments !== undefined && nbFrag > lim.maxFragments) {
    warnings.push(
      `image: needs M = ${nbFrag} fragments of ${fragSize} B, more than the ${lim.maxFragments} the devices accept (deviceLimits.maxFragments): they will answer NotEnoughMemory; use larger fragments or a smaller image`,
    );
  }
  const initialCoded = Math.ceil((nbFrag * p.initialRedundancyPercent) / 100);
  // A percentage of a tiny block (a delta image: two or three fragments) leaves a device that lost one fragment a
  // handful of coded ones to find it in; the cap is never below MIN_CODED_CAP while repair is allowed at all.
  let maxCoded = Math.max(initialCoded, Math.ceil((nbFrag * p.maxRedundancyPercent) / 100), p.maxRedundancyPercent > 0 ? MIN_CODED_CAP : 0);
  if (nbFrag + initialCoded > MAX_N) {
    throw new PlanError('image', `needs ${nbFrag} fragments of ${fragSize} B plus ${initialCoded} coded; N is 14 bits (max ${MAX_N})`);
  }
  if (nbFrag + maxCoded > MAX_N) {
    warnings.push(`maxRedundancyPercent capped: M + R must stay <= ${MAX_N}`);
    maxCoded = MAX_N - nbFrag;
  }
  if (p.groupType === 'B') {
    warnings.push('Class B: LoRaMac-node devices answer a Class B session request by switching to Class C for 2^TimeOut seconds (not 128·2^TimeOut); use Class C for such fleets');
  }
  const channels = regionDefaults(p.region).downlinkChannelsHz;
  if (channels && !channels.includes(p.frequencyHz)) {
    warnings.push(`${p.frequencyHz} Hz is not one of the ${p.region} downlink channels (${channels.map((f) => f / 1e6).join(', ')} MHz)`);
  }
  if (listenBeforeTalk(p.region)) warnings.push(`${p.region}: listen-before-talk may delay fragments beyond the planned spacing`);
  if (nbFrag <= 5) warnings.push(`degenerate block: M = ${nbFrag} (parity rows cover some fragments late or never)`);

  const fragmentAirtimeMs = frameAirtimeMs(p.region, rate.dr, fragSize + DATA_FRAGMENT_OVERHEAD, 'downlink', opts);
  const dwell = dwellTimeMs(p.region, 'downlink', opts);
  if (dwell !== undefined && fragmentAirtimeMs > dwell) {
    throw new PlanError('fragmentation.fragSize', `a ${fragSize}-byte fragment is ${fragmentAirtimeMs.toFixed(0)} ms on air at DR${p.dr}, over the ${dwell} ms dwell time of ${p.region}`);
  }
  const margin = p.classCMarginMs ?? 5000;
  // ChirpStack's rule (DELAY scheduling): an item's G gateway rows are queued one margin apart after the latest row
  // still queued, so items are G x margin apart at best; each gateway sends every fragment once and keeps its own
  // duty cycle (start to start: airtime / duty cycle), which ChirpStack does not apply but the gateway enforces by
  // refusing the frame. The scheduler picks rows on a 1 s grid: with the duty-cycle spacing rounded up to whole
  // scheduler intervals, fragments enqueued one interval apart also leave at least that far apart.
  const busyMs = p.gatewayCount * fragmentAirtimeMs;
  const dutyMs = band.dutyCycle < 1 ? Math.ceil(fragmentAirtimeMs / band.dutyCycle / SCHEDULER_INTERVAL_MS) * SCHEDULER_INTERVAL_MS : 0;
  let fragmentIntervalMs = Math.max(fragmentAirtimeMs, dutyMs, p.groupType === 'C' ? p.gatewayCount * margin : 0);
  if (p.groupType === 'B') {
    // A Class B item leaves at the first ping slot after ChirpStack's margin, so two fragments enqueued one
    // interval apart may leave up to one ping period closer: the duty-cycle spacing keeps that much slack (else
    // a gateway that enforces its duty cycle refuses every other fragment).
    const pingMs = 2 ** p.classBPeriodicity * 1000;
    fragmentIntervalMs = Math.max(fragmentIntervalMs, pingMs, dutyMs > 0 ? dutyMs + pingMs : 0);
  }
  fragmentIntervalMs = Math.ceil(fragmentIntervalMs);

  const statusWindowMs = 2 ** (p.blockAckDelay + 4) * 1000;
  const broadcastMs = (nbFrag + maxCoded) * fragmentIntervalMs;
  // A status round waits for the answer window plus the uplink that carries a late answer.
  const roundMs = statusWindowMs + 1.5 * p.uplinkIntervalS * 1000 + 2 * fragmentIntervalMs;
  const sessionSeconds = Math.ceil((broadcastMs + (p.maxRepairRounds + 1) * roundMs) / 1000);
  let sessionTimeOut: number;
  if (p.groupType === 'C') {
    sessionTimeOut = Math.max(0, Math.ceil(Math.log2(Math.max(1, sessionSeconds))));
  } else {
    sessionTimeOut = Math.max(0, Math.ceil(Math.log2(Math.max(1, sessionSeconds / 128))));
  }
  if (sessionTimeOut > 15) {
    warnings.push(`session of ${sessionSeconds} s exceeds the longest TimeOut; capped at 2^15`);
    sessionTimeOut = 15;
  }
  const uplinkMs = p.uplinkIntervalS * 1000;
  const setupMs = 5 * uplinkMs; // discovery, fragmentation setup and session request, one uplink each, some slack
  const initialMs = (nbFrag + initialCoded) * fragmentIntervalMs;
  const applyMs = 4 * uplinkMs + p.rebootDelayS * 1000;
  const etaSeconds = Math.ceil((setupMs + initialMs + statusWindowMs + applyMs) / 1000);
  return {
    fragSize,
    nbFrag,
    padding,
    initialCoded,
    maxCoded,
    fragmentAirtimeMs,
    fragmentIntervalMs,
    dutyCycle: band.dutyCycle,
    statusWindowMs,
    sessionTimeOut,
    sessionSeconds,
    etaSeconds,
    initialAirtimeSeconds: ((nbFrag + initialCoded) * busyMs) / 1000,
    warnings,
  };
}
