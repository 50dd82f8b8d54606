/**
 * Regional parameters (LoRaWAN RP002-1.0.x) needed to plan a FUOTA campaign: data-rate table, maximum
 * application payload per data rate, duty-cycle sub-bands and dwell time. EU868 and US915. Pure, no I/O.
 */
import { fskAirtimeMs, loraAirtime } from './airtime.js';

export type RegionName = 'EU868' | 'US915';
export type Direction = 'uplink' | 'downlink';

export interface DataRate {
  dr: number;
  modulation: 'LORA' | 'FSK';
  sf?: number;
  bwHz?: number;
  /** FSK only, bits per second. */
  bitRate?: number;
  /** Maximum MACPayload (M) with no repeater. */
  maxMacPayload: number;
  /** Maximum FRMPayload (N = M − 8, no FOpts): the largest application payload. */
  maxAppPayload: number;
  /** Which directions may use this data rate. */
  directions: readonly Direction[];
}

const BOTH: readonly Direction[] = ['uplink', 'downlink'];
const UP: readonly Direction[] = ['uplink'];
const DOWN: readonly Direction[] = ['downlink'];

function lora(dr: number, sf: number, bwHz: number, m: number, directions = BOTH): DataRate {
  return { dr, modulation: 'LORA', sf, bwHz, maxMacPayload: m, maxAppPayload: m - 8, directions };
}

const TABLES: Record<RegionName, readonly DataRate[]> = {
  EU868: [
    lora(0, 12, 125000, 59),
    lora(1, 11, 125000, 59),
    lora(2, 10, 125000, 59),
    lora(3, 9, 125000, 123),
    // Repeater-compatible sizes (RP002 EU868 table), as ChirpStack applies them: larger multicast items are dropped.
    lora(4, 8, 125000, 230),
    lora(5, 7, 125000, 230),
    lora(6, 7, 250000, 230),
    { dr: 7, modulation: 'FSK', bitRate: 50000, maxMacPayload: 230, maxAppPayload: 222, directions: BOTH },
  ],
  US915: [
    lora(0, 10, 125000, 19, UP),
    lora(1, 9, 125000, 61, UP),
    lora(2, 8, 125000, 133, UP),
    lora(3, 7, 125000, 250, UP),
    lora(4, 8, 500000, 250, UP),
    lora(8, 12, 500000, 61, DOWN),
    lora(9, 11, 500000, 137, DOWN),
    lora(10, 10, 500000, 250, DOWN),
    lora(11, 9, 500000, 250, DOWN),
    lora(12, 8, 500000, 250, DOWN),
    lora(13, 7, 500000, 250, DOWN),
  ],
};

export function isRegion(name: string): name is RegionName {
  return name === 'EU868' || name === 'US915';
}

export function dataRate(region: RegionName, dr: number, direction?: Direction): DataRate {
  const table = TABLES[region];
  if (!table) throw new RangeError(`region: unsupported region ${String(region)}`);
  const entry = table.find((d) => d.dr === dr);
  if (!entry) throw new RangeError(`dr: DR${dr} is not defined in ${region}`);
  if (direction && !entry.directions.includes(direction)) {
    throw new RangeError(`dr: DR${dr} cannot be used for ${direction} in ${region}`);
  }
  return entry;
}

/** Largest FRMPayload (application bytes, no FOpts) at this data rate. */
export function maxAppPayload(region: RegionName, dr: number): number {
  return dataRate(region, dr).maxAppPayload;
}

/** LoRaWAN PHYPayload overhead around FRMPayload: MHDR 1 + DevAddr 4 + FCtrl 1 + FCnt 2 + FPort 1 + MIC 4. */
export const PHY_OVERHEAD_BYTES = 13;

/**
 * Time on air of one LoRaWAN frame with `appPayloadBytes` of FRMPayload (no FOpts). Uplinks carry a PHY CRC,
 * downlinks do not (LoRaWAN 1.0.x §3.2); CR 4/5, 8-symbol preamble, explicit header.
 */
export function frameAirtimeMs(region: RegionName, dr: number, appPayloadBytes: number, direction: Direction): number {
  const rate = dataRate(region, dr, direction);
  const phy = appPayloadBytes + PHY_OVERHEAD_BYTES;
  if (rate.modulation === 'FSK') return fskAirtimeMs(phy, rate.bitRate!);
  return loraAirtime({ sf: rate.sf!, bwHz: rate.bwHz!, payloadBytes: phy, crc: direction === 'uplink' }).ms;
}

export interface SubBand {
  name: string;
  minHz: number;
  /** Exclusive upper bound. */
  maxHz: number;
  /** Fraction of time a transmitter may be on air, e.g. 0.01 = 1 %. */
  dutyCycle: number;
}

/** ETSI EN 300 220 sub-bands as used by EU868 (RP002 §5.1.1). */
const EU868_BANDS: readonly SubBand[] = [
  { name: 'g (863.0-868.0)', minHz: 863_000_000, maxHz: 868_000_000, dutyCycle: 0.01 },
  { name: 'g1 (868.0-868.6)', minHz: 868_000_000, maxHz: 868_600_000, dutyCycle: 0.01 },
  { name: 'g2 (868.7-869.2)', minHz: 868_700_000, maxHz: 869_200_000, dutyCycle: 0.001 },
  { name: 'g3 (869.4-869.65)', minHz: 869_400_000, maxHz: 869_650_000, dutyCycle: 0.1 },
  { name: 'g4 (869.7-870.0)', minHz: 869_700_000, maxHz: 870_000_000, dutyCycle: 0.01 },
];

/** The duty-cycle sub-band a frequency falls in. US915 has no duty cycle (dutyCycle 1). */
export function subBandFor(region: RegionName, freqHz: number): SubBand {
  if (region === 'US915') {
    if (freqHz < 902_000_000 || freqHz >= 928_000_000) throw new RangeError(`frequency: ${freqHz} Hz is outside US915 (902-928 MHz)`);
    return { name: 'US915', minHz: 902_000_000, maxHz: 928_000_000, dutyCycle: 1 };
  }
  const band = EU868_BANDS.find((b) => freqHz >= b.minHz && freqHz < b.maxHz);
  if (!band) throw new RangeError(`frequency: ${freqHz} Hz is in no EU868 sub-band`);
  return band;
}

/** Silence a transmitter must keep after `airtimeMs` on air in a band with this duty cycle. */
export function dutyCycleOffTimeMs(airtimeMs: number, dutyCycle: number): number {
  return dutyCycle >= 1 ? 0 : airtimeMs * (1 / dutyCycle - 1);
}

/** Maximum dwell time per transmission, or undefined when the region has none (US915: 400 ms on uplinks). */
export function dwellTimeMs(region: RegionName, direction: Direction): number | undefined {
  return region === 'US915' && direction === 'uplink' ? 400 : undefined;
}

/** Default Class C / multicast downlink channel (RX2) per region. */
export const RX2_DEFAULTS: Record<RegionName, { frequencyHz: number; dr: number }> = {
  EU868: { frequencyHz: 869_525_000, dr: 0 },
  US915: { frequencyHz: 923_300_000, dr: 8 },
};
