/**
 * Regional parameters (LoRaWAN RP002-1.0.4) needed to plan a FUOTA campaign and to simulate its radio: data rates,
 * maximum payload per data rate (with and without repeater compatibility and dwell-time limit), duty-cycle
 * sub-bands, dwell time, listen-before-talk, RX1/RX2, Class B and Class C defaults, for every RP002 region. The
 * figures live in `region-data.ts`; this module looks them up. Pure, no I/O.
 */
import { fskAirtimeMs, loraAirtime } from './airtime.js';
import { CN470_PLANS, REGION_ROWS, type DrRow, type RegionRow } from './region-data.js';

export const REGION_NAMES = [
  'EU868',
  'US915',
  'CN779',
  'EU433',
  'AU915',
  'CN470',
  'AS923-1',
  'AS923-2',
  'AS923-3',
  'AS923-4',
  'KR920',
  'IN865',
  'RU864',
] as const;
export type RegionName = (typeof REGION_NAMES)[number];
export type Direction = 'uplink' | 'downlink';

/** Network settings that change the payload tables (ChirpStack `[regions.network]` options). */
export interface RegionOptions {
  /** 400 ms dwell-time limit on (AS923 both ways, AU915 uplinks; ChirpStack `dwell_time_400ms`, default off). */
  dwellTime?: boolean | undefined;
  /** Leave room for a repeater's encapsulation (ChirpStack `repeater_compatible`, default off). */
  repeaterCompatible?: boolean | undefined;
}

export interface DataRate {
  dr: number;
  modulation: 'LORA' | 'FSK' | 'LR-FHSS';
  sf?: number;
  bwHz?: number;
  /** FSK only, bits per second. */
  bitRate?: number;
  /** LR-FHSS only. */
  ocwHz?: number;
  codingRate?: '1/3' | '2/3';
  /** Maximum MACPayload (M) under the given options; 0 when the DR carries no frame under them. */
  maxMacPayload: number;
  /** Maximum FRMPayload (N = M − 8, no FOpts): the largest application payload. */
  maxAppPayload: number;
  /** Which directions may use this data rate. */
  directions: readonly Direction[];
}

const ROWS = new Map<RegionName, RegionRow>(REGION_ROWS.map((r) => [r.name as RegionName, r]));

export function isRegion(name: string): name is RegionName {
  return (REGION_NAMES as readonly string[]).includes(name);
}

function row(region: RegionName): RegionRow {
  const r = ROWS.get(region);
  if (!r) throw new RangeError(`region: unsupported region ${String(region)}`);
  return r;
}

/** The RP002 table row of a region (read-only data). */
export function regionTable(region: RegionName): RegionRow {
  return row(region);
}

function macPayload(d: DrRow, opts: RegionOptions): number {
  const pair = opts.dwellTime && d.mDwell ? d.mDwell : d.m;
  return opts.repeaterCompatible ? pair[1] : pair[0];
}

/**
 * The data rate `dr` of `region`, with its payload limits under `opts` (default: no dwell-time limit, not
 * repeater compatible, as ChirpStack runs by default). Throws a RangeError naming `dr` when the region has no such
 * data rate or it cannot be used in `direction`.
 */
export function dataRate(region: RegionName, dr: number, direction?: Direction, opts: RegionOptions = {}): DataRate {
  const r = row(region);
  const rows = r.dataRates.filter((d) => d.dr === dr);
  if (rows.length === 0) throw new RangeError(`dr: DR${dr} is not defined in ${region}`);
  const entry = direction ? rows.find((d) => (direction === 'uplink' ? d.up : d.down)) : rows[0];
  if (!entry) throw new RangeError(`dr: DR${dr} cannot be used for ${direction} in ${region}`);
  const m = macPayload(entry, opts);
  const directions: Direction[] = [];
  if (entry.up) directions.push('uplink');
  if (entry.down) directions.push('downlink');
  const out: DataRate = { dr, modulation: entry.modulation, maxMacPayload: m, maxAppPayload: Math.max(0, m - 8), directions };
  if (entry.sf !== undefined) out.sf = entry.sf;
  if (entry.bwHz !== undefined) out.bwHz = entry.bwHz;
  if (entry.bitRate !== undefined) out.bitRate = entry.bitRate;
  if (entry.ocwHz !== undefined) out.ocwHz = entry.ocwHz;
  if (entry.codingRate !== undefined) out.codingRate = entry.codingRate;
  return out;
}

/** All data rates of a region usable in `direction`, ascending. */
export function dataRates(region: RegionName, direction: Direction, opts: RegionOptions = {}): DataRate[] {
  return row(region)
    .dataRates.filter((d) => (direction === 'uplink' ? d.up : d.down))
    .map((d) => dataRate(region, d.dr, direction, opts));
}

/** Largest FRMPayload (application bytes, no FOpts) at this data rate, per the RP002 table. */
export function maxAppPayload(region: RegionName, dr: number, opts: RegionOptions = {}): number {
  const rows = row(region).dataRates.filter((d) => d.dr === dr);
  const down = rows.find((d) => d.down);
  return dataRate(region, dr, down ? 'downlink' : undefined, opts).maxAppPayload;
}

/**
 * Largest downlink FRMPayload ChirpStack will actually send at this DR: the RP002 N, or ChirpStack's own smaller
 * N where its table differs (it discards a multicast item larger than that).
 */
export function maxDownlinkAppPayload(region: RegionName, dr: number, opts: RegionOptions = {}): number {
  const n = dataRate(region, dr, 'downlink', opts).maxAppPayload;
  const cs = row(region).chirpstackN?.find((c) => c.dr === dr && c.repeater === !!opts.repeaterCompatible);
  return cs ? Math.min(n, cs.n) : n;
}

/** LoRaWAN PHYPayload overhead around FRMPayload: MHDR 1 + DevAddr 4 + FCtrl 1 + FCnt 2 + FPort 1 + MIC 4. */
export const PHY_OVERHEAD_BYTES = 13;

/**
 * Time on air of one LoRaWAN frame with `appPayloadBytes` of FRMPayload (no FOpts). Uplinks carry a PHY CRC,
 * downlinks do not (LoRaWAN 1.0.x §3.2); CR 4/5, 8-symbol preamble, explicit header. LR-FHSS is not modelled.
 */
export function frameAirtimeMs(region: RegionName, dr: number, appPayloadBytes: number, direction: Direction, opts: RegionOptions = {}): number {
  const rate = dataRate(region, dr, direction, opts);
  const phy = appPayloadBytes + PHY_OVERHEAD_BYTES;
  if (rate.modulation === 'FSK') return fskAirtimeMs(phy, rate.bitRate!);
  if (rate.modulation === 'LR-FHSS') throw new RangeError(`dr: DR${dr} of ${region} is LR-FHSS, whose time on air is not modelled`);
  return loraAirtime({ sf: rate.sf!, bwHz: rate.bwHz!, payloadBytes: phy, crc: direction === 'uplink' }).ms;
}

export interface SubBand {
  name: string;
  minHz: number;
  /** Exclusive upper bound. */
  maxHz: number;
  /** Fraction of time a transmitter may be on air, e.g. 0.01 = 1 %; 1 = no limit. */
  dutyCycle: number;
}

/** The duty-cycle sub-band a frequency falls in (dutyCycle 1 in regions without a duty cycle). */
export function subBandFor(region: RegionName, freqHz: number): SubBand {
  const r = row(region);
  const [lo, hi] = r.rangeHz;
  if (!(freqHz >= lo && freqHz < hi)) throw new RangeError(`frequency: ${freqHz} Hz is outside ${region} (${lo / 1e6}-${hi / 1e6} MHz)`);
  const band = r.bands.find((b) => freqHz >= b.minHz && freqHz < b.maxHz);
  if (!band) throw new RangeError(`frequency: ${freqHz} Hz is in no ${region} sub-band`);
  return { ...band };
}

/** Every duty-cycle sub-band of a region. */
export function subBands(region: RegionName): SubBand[] {
  return row(region).bands.map((b) => ({ ...b }));
}

/** Silence a transmitter must keep after `airtimeMs` on air in a band with this duty cycle. */
export function dutyCycleOffTimeMs(airtimeMs: number, dutyCycle: number): number {
  return dutyCycle >= 1 ? 0 : airtimeMs * (1 / dutyCycle - 1);
}

/**
 * Maximum dwell time per transmission, or undefined when none applies: US915 uplinks always (400 ms), AS923 both
 * ways and AU915 uplinks when the dwell-time limit is on.
 */
export function dwellTimeMs(region: RegionName, direction: Direction, opts: RegionOptions = {}): number | undefined {
  const r = row(region);
  if (direction === 'uplink' && r.fixedUplinkDwellMs !== undefined) return r.fixedUplinkDwellMs;
  if (!opts.dwellTime || !r.dwellTimeTable) return undefined;
  if (region === 'AU915' && direction === 'downlink') return undefined;
  return 400;
}

/** Whether the region's regulation requires listen-before-talk (KR920, AS923 where the country asks for it). */
export function listenBeforeTalk(region: RegionName): boolean {
  return row(region).lbt === true;
}

/** RX1 downlink DR for an uplink at `uplinkDr` (RX1DROffset `offset`, default 0). */
export function rx1DownlinkDr(region: RegionName, uplinkDr: number, offset = 0, opts: RegionOptions = {}): number {
  const r = row(region);
  const table = opts.dwellTime && r.rx1Dwell ? r.rx1Dwell : r.rx1;
  const cols = table[uplinkDr];
  if (!cols) throw new RangeError(`dr: uplink DR${uplinkDr} has no RX1 mapping in ${region}`);
  const dr = cols[offset];
  if (dr === undefined) throw new RangeError(`rx1DrOffset: ${offset} is not allowed in ${region} (0..${cols.length - 1})`);
  return dr;
}

export interface RegionDefaults {
  /** RX2 default channel; also the default Class C / multicast channel. */
  rx2: { frequencyHz: number; dr: number };
  classC: { frequencyHz: number; dr: number };
  /** Class B beacon and default ping slot: a fixed frequency, or the channels it hops over. */
  beacon: { dr: number; frequencyHz?: number; hopHz?: readonly number[] };
  pingSlot: { dr: number; frequencyHz?: number; hopHz?: readonly number[] };
  /** A default uplink channel and the SF7/125 kHz uplink DR. */
  uplink: { frequencyHz: number; dr: number };
  /** US915/AU915: the 8 × 500 kHz downlink channels. */
  downlinkChannelsHz?: number[];
}

export type Cn470Plan = keyof typeof CN470_PLANS;

const DEFAULTS_CACHE = new Map<string, Readonly<RegionDefaults>>();

/** Default channels of a region (a frozen, shared object); CN470 takes its channel plan (default 20 MHz plan A). */
export function regionDefaults(region: RegionName, cn470Plan: Cn470Plan = '20MHz-A'): Readonly<RegionDefaults> {
  const key = `${region}/${cn470Plan}`;
  let d = DEFAULTS_CACHE.get(key);
  if (!d) {
    d = deepFreeze(buildDefaults(region, cn470Plan));
    DEFAULTS_CACHE.set(key, d);
  }
  return d;
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(o);
}

function buildDefaults(region: RegionName, cn470Plan: Cn470Plan): RegionDefaults {
  const r = row(region);
  const rx2 = { ...r.rx2 };
  const beacon: RegionDefaults['beacon'] = { ...r.beacon };
  const pingSlot: RegionDefaults['pingSlot'] = { ...r.pingSlot };
  if (region === 'CN470') {
    const plan = CN470_PLANS[cn470Plan];
    if (!plan) throw new RangeError(`cn470Plan: unknown plan ${String(cn470Plan)} (${Object.keys(CN470_PLANS).join(', ')})`);
    rx2.frequencyHz = plan.rx2Hz;
    if (plan.beaconHz !== undefined) {
      beacon.frequencyHz = pingSlot.frequencyHz = plan.beaconHz;
      delete beacon.hopHz;
      delete pingSlot.hopHz;
    }
  }
  const out: RegionDefaults = { rx2, classC: { ...rx2 }, beacon, pingSlot, uplink: { ...r.uplink } };
  if (r.downlinkChannels) {
    const c = r.downlinkChannels;
    out.downlinkChannelsHz = Array.from({ length: c.count }, (_, k) => c.firstHz + k * c.stepHz);
  }
  return out;
}

/** Default Class C / multicast downlink channel (RX2) per region. */
export const RX2_DEFAULTS: Record<RegionName, { frequencyHz: number; dr: number }> = Object.fromEntries(
  REGION_NAMES.map((n) => [n, { ...regionDefaults(n).rx2 }]),
) as Record<RegionName, { frequencyHz: number; dr: number }>;

/** ChirpStack `common.Region` enum value of a region. */
export function chirpstackRegionEnum(region: RegionName): number {
  return row(region).chirpstack.enumValue;
}

/** ChirpStack's region id for a region in its shipped configuration (`eu868`, `as923`, `as923_2`, …). */
export function chirpstackRegionId(region: RegionName): string {
  return row(region).chirpstack.commonName.toLowerCase();
}

/**
 * Class B channel at a beacon period: the fixed beacon / ping-slot frequency, or for hopping plans (US915, AU915,
 * CN470 20 MHz) channel (floor(beaconTime / 128 s) [+ DevAddr for ping slots]) mod count (RP002 Class B sections).
 */
export function classBFrequencyHz(region: RegionName, kind: 'beacon' | 'pingSlot', beaconTimeS: number, devAddr = 0, cn470Plan: Cn470Plan = '20MHz-A'): number {
  const ch = regionDefaults(region, cn470Plan)[kind];
  if (ch.frequencyHz !== undefined) return ch.frequencyHz;
  const hop = ch.hopHz!;
  const period = Math.floor(beaconTimeS / 128);
  const idx = kind === 'beacon' ? period % hop.length : (((devAddr >>> 0) + period) % hop.length);
  return hop[idx]!;
}
