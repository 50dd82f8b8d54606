/**
 * LoRaWAN Regional Parameters RP002-1.0.4 as data: one entry per channel plan. The figures come from the RP002-1.0.4
 * region sections ("<region> Data Rate and End-device Output Power Encoding", "<region> Maximum Payload Size",
 * "<region> Receive Windows", "<region> Class B Beacon and Default Downlink Channel", "<region> ISM Band Channel
 * Frequencies"), cross-checked against ChirpStack v4 (`lrwn/src/region/*.rs`, revision RP002_1_0_4) and
 * LoRaMac-node (`src/mac/region/Region*.h`). The data rates RP002-1.0.5 added (SF5/SF6, DR12/DR13) are left out.
 *
 * Payload sizes are given as M (largest MACPayload); N (largest FRMPayload without FOpts) is always M − 8 in RP002.
 * `m` is [not repeater compatible, repeater compatible]; `mDwell` the same with the 400 ms dwell-time limit on
 * (regions with a dwell-time table only). 0 means "not defined" (the DR cannot carry a frame there).
 * Pure data, no code.
 */

export type Modulation = 'LORA' | 'FSK' | 'LR-FHSS';

export interface DrRow {
  dr: number;
  modulation: Modulation;
  sf?: number;
  bwHz?: number;
  /** FSK bits per second. */
  bitRate?: number;
  /** LR-FHSS occupied channel width (Hz) and coding rate. */
  ocwHz?: number;
  codingRate?: '1/3' | '2/3';
  up: boolean;
  down: boolean;
  /** Max MACPayload M: [not repeater compatible, repeater compatible]. */
  m: readonly [number, number];
  /** Max MACPayload M with the 400 ms dwell-time limit on: [not repeater compatible, repeater compatible]. */
  mDwell?: readonly [number, number];
}

export interface SubBandRow {
  name: string;
  minHz: number;
  /** Exclusive upper bound. */
  maxHz: number;
  /** Fraction of time a transmitter may be on air (1 = no duty-cycle limit). */
  dutyCycle: number;
}

export interface ChannelRow {
  frequencyHz: number;
  dr: number;
}

/** A beacon or ping-slot channel: fixed frequency, or hopping over `hopHz` (RP002 formula per region). */
export interface BeaconRow {
  dr: number;
  frequencyHz?: number;
  hopHz?: readonly number[];
}

export interface RegionRow {
  /** Name as AWS IoT FUOTA and the RP002 common names spell it (AS923-1 is ChirpStack's AS923). */
  name: string;
  /** RP002-1.0.4 section title the figures come from. */
  section: string;
  /** ChirpStack `common.Region` enum name and value. */
  chirpstack: { commonName: string; enumValue: number };
  /** Frequencies a transmission may use, [min, max). */
  rangeHz: readonly [number, number];
  dataRates: readonly DrRow[];
  /** Regions whose RP002 payload table has a dwell-time variant (AS923 both ways, AU915 uplink). */
  dwellTimeTable?: boolean;
  /** Dwell time (ms) that applies whatever the setting (US915 uplink, FCC 15.247). */
  fixedUplinkDwellMs?: number;
  /** Listen-before-talk required by the regulation in some or all countries of the plan. */
  lbt?: boolean;
  /** Duty-cycle sub-bands; a single dutyCycle 1 band when the plan has none. */
  bands: readonly SubBandRow[];
  /** RX2 default frequency and DR; also the Class C / multicast default. */
  rx2: ChannelRow;
  beacon: BeaconRow;
  pingSlot: BeaconRow;
  /** A default uplink channel and DR (a 125 kHz SF7 channel). */
  uplink: ChannelRow;
  /** RX1 downlink DR per uplink DR, one column per RX1DROffset (offset 0 first). */
  rx1: Readonly<Record<number, readonly number[]>>;
  /** RX1 table with the downlink dwell-time limit on (AS923). */
  rx1Dwell?: Readonly<Record<number, readonly number[]>>;
  /** Fixed downlink channel raster (US915/AU915: 8 × 500 kHz channels, RX1 = uplink channel mod 8). */
  downlinkChannels?: { firstHz: number; stepHz: number; count: number };
  /**
   * Where ChirpStack (repeater_compatible = false/true, Revision::Latest as used for multicast) allows a smaller N
   * than RP002's M − 8: ChirpStack discards a multicast item larger than its N.
   */
  chirpstackN?: readonly { dr: number; repeater: boolean; n: number }[];
  notes: readonly string[];
}

const EU_RX1: Record<number, readonly number[]> = {
  0: [0, 0, 0, 0, 0, 0],
  1: [1, 0, 0, 0, 0, 0],
  2: [2, 1, 0, 0, 0, 0],
  3: [3, 2, 1, 0, 0, 0],
  4: [4, 3, 2, 1, 0, 0],
  5: [5, 4, 3, 2, 1, 0],
  6: [6, 5, 4, 3, 2, 1],
  7: [7, 6, 5, 4, 3, 2],
};

/** EU868-style 8 data rates (EU868, EU433, CN779, RU864): SF12..SF7/125, SF7/250, FSK 50 kbit/s. */
const EU_DRS: readonly DrRow[] = [
  { dr: 0, modulation: 'LORA', sf: 12, bwHz: 125000, up: true, down: true, m: [59, 59] },
  { dr: 1, modulation: 'LORA', sf: 11, bwHz: 125000, up: true, down: true, m: [59, 59] },
  { dr: 2, modulation: 'LORA', sf: 10, bwHz: 125000, up: true, down: true, m: [59, 59] },
  { dr: 3, modulation: 'LORA', sf: 9, bwHz: 125000, up: true, down: true, m: [123, 123] },
  { dr: 4, modulation: 'LORA', sf: 8, bwHz: 125000, up: true, down: true, m: [250, 230] },
  { dr: 5, modulation: 'LORA', sf: 7, bwHz: 125000, up: true, down: true, m: [250, 230] },
  { dr: 6, modulation: 'LORA', sf: 7, bwHz: 250000, up: true, down: true, m: [250, 230] },
  { dr: 7, modulation: 'FSK', bitRate: 50000, up: true, down: true, m: [250, 230] },
];

/** AS923 data rates: EU-style modulations, DR0/DR1 unusable and smaller DR2..DR4 frames with the dwell limit on. */
const AS923_DRS: readonly DrRow[] = [
  { dr: 0, modulation: 'LORA', sf: 12, bwHz: 125000, up: true, down: true, m: [59, 59], mDwell: [0, 0] },
  { dr: 1, modulation: 'LORA', sf: 11, bwHz: 125000, up: true, down: true, m: [59, 59], mDwell: [0, 0] },
  { dr: 2, modulation: 'LORA', sf: 10, bwHz: 125000, up: true, down: true, m: [123, 123], mDwell: [19, 19] },
  { dr: 3, modulation: 'LORA', sf: 9, bwHz: 125000, up: true, down: true, m: [123, 123], mDwell: [61, 61] },
  { dr: 4, modulation: 'LORA', sf: 8, bwHz: 125000, up: true, down: true, m: [250, 230], mDwell: [133, 133] },
  { dr: 5, modulation: 'LORA', sf: 7, bwHz: 125000, up: true, down: true, m: [250, 230], mDwell: [250, 230] },
  { dr: 6, modulation: 'LORA', sf: 7, bwHz: 250000, up: true, down: true, m: [250, 230], mDwell: [250, 230] },
  { dr: 7, modulation: 'FSK', bitRate: 50000, up: true, down: true, m: [250, 230], mDwell: [250, 230] },
];

const AS923_RX1: Record<number, readonly number[]> = {
  0: [0, 0, 0, 0, 0, 0, 1, 2],
  1: [1, 0, 0, 0, 0, 0, 2, 3],
  2: [2, 1, 0, 0, 0, 0, 3, 4],
  3: [3, 2, 1, 0, 0, 0, 4, 5],
  4: [4, 3, 2, 1, 0, 0, 5, 6],
  5: [5, 4, 3, 2, 1, 0, 6, 7],
  6: [6, 5, 4, 3, 2, 1, 7, 7],
  7: [7, 6, 5, 4, 3, 2, 7, 7],
};
const AS923_RX1_DWELL: Record<number, readonly number[]> = {
  0: [2, 2, 2, 2, 2, 2, 2, 2],
  1: [2, 2, 2, 2, 2, 2, 2, 3],
  2: [2, 2, 2, 2, 2, 2, 3, 4],
  3: [3, 2, 2, 2, 2, 2, 4, 5],
  4: [4, 3, 2, 2, 2, 2, 5, 6],
  5: [5, 4, 3, 2, 2, 2, 6, 7],
  6: [6, 5, 4, 3, 2, 2, 7, 7],
  7: [7, 6, 5, 4, 3, 2, 7, 7],
};

/** US915 and AU915 downlink DRs 8..13: SF12..SF7 at 500 kHz. */
const US_DOWN_DRS: readonly DrRow[] = [
  { dr: 8, modulation: 'LORA', sf: 12, bwHz: 500000, up: false, down: true, m: [61, 61], mDwell: [61, 61] },
  { dr: 9, modulation: 'LORA', sf: 11, bwHz: 500000, up: false, down: true, m: [137, 137], mDwell: [137, 137] },
  { dr: 10, modulation: 'LORA', sf: 10, bwHz: 500000, up: false, down: true, m: [250, 230], mDwell: [250, 230] },
  { dr: 11, modulation: 'LORA', sf: 9, bwHz: 500000, up: false, down: true, m: [250, 230], mDwell: [250, 230] },
  { dr: 12, modulation: 'LORA', sf: 8, bwHz: 500000, up: false, down: true, m: [250, 230], mDwell: [250, 230] },
  { dr: 13, modulation: 'LORA', sf: 7, bwHz: 500000, up: false, down: true, m: [250, 230], mDwell: [250, 230] },
];

function as923(name: string, enumName: string, enumValue: number, offsetHz: number, rangeHz: readonly [number, number]): RegionRow {
  return {
    name,
    section: `RP002-1.0.4 AS923 (${name}: frequency offset ${-offsetHz / 1e6} MHz)`,
    chirpstack: { commonName: enumName, enumValue },
    rangeHz,
    dataRates: AS923_DRS,
    dwellTimeTable: true,
    lbt: true,
    bands: [{ name: name, minHz: rangeHz[0], maxHz: rangeHz[1], dutyCycle: 1 }],
    rx2: { frequencyHz: 923_200_000 - offsetHz, dr: 2 },
    beacon: { frequencyHz: 923_400_000 - offsetHz, dr: 3 },
    pingSlot: { frequencyHz: 923_400_000 - offsetHz, dr: 3 },
    uplink: { frequencyHz: 923_200_000 - offsetHz, dr: 5 },
    rx1: AS923_RX1,
    rx1Dwell: AS923_RX1_DWELL,
    notes: [
      'listen before talk where the country requires it (Japan ARIB STD-T108; LoRaMac-node: free below −80 dBm after 5 ms)',
      'with the dwell-time limit on (TxParamSetupReq DownlinkDwellTime = 1) a frame lasts at most 400 ms: DR0/DR1 carry nothing, DR2..DR4 carry less',
    ],
  };
}

export const REGION_ROWS: readonly RegionRow[] = [
  {
    name: 'EU868',
    section: 'RP002-1.0.4 EU863-870',
    chirpstack: { commonName: 'EU868', enumValue: 0 },
    rangeHz: [863_000_000, 870_000_000],
    dataRates: [
      ...EU_DRS,
      { dr: 8, modulation: 'LR-FHSS', ocwHz: 137_000, codingRate: '1/3', up: true, down: false, m: [58, 58] },
      { dr: 9, modulation: 'LR-FHSS', ocwHz: 137_000, codingRate: '2/3', up: true, down: false, m: [123, 123] },
      { dr: 10, modulation: 'LR-FHSS', ocwHz: 336_000, codingRate: '1/3', up: true, down: false, m: [58, 58] },
      { dr: 11, modulation: 'LR-FHSS', ocwHz: 336_000, codingRate: '2/3', up: true, down: false, m: [123, 123] },
    ],
    // ETSI EN 300 220 sub-bands (Rec. 70-03 annex 1) as EU868 devices and gateways apply them.
    bands: [
      { name: 'g (863.0-868.0)', minHz: 863_000_000, maxHz: 868_000_000, dutyCycle: 0.01 },
      { name: 'g1 (868.0-868.6)', minHz: 868_000_000, maxHz: 868_600_000, dutyCycle: 0.01 },
      { name: 'g2 (868.7-869.2)', minHz: 868_700_000, maxHz: 869_200_000, dutyCycle: 0.001 },
      { name: 'g3 (869.4-869.65)', minHz: 869_400_000, maxHz: 869_650_000, dutyCycle: 0.1 },
      { name: 'g4 (869.7-870.0)', minHz: 869_700_000, maxHz: 870_000_000, dutyCycle: 0.01 },
    ],
    rx2: { frequencyHz: 869_525_000, dr: 0 },
    beacon: { frequencyHz: 869_525_000, dr: 3 },
    pingSlot: { frequencyHz: 869_525_000, dr: 3 },
    uplink: { frequencyHz: 868_100_000, dr: 5 },
    rx1: { ...EU_RX1, 8: [1, 0, 0, 0, 0, 0], 9: [2, 1, 0, 0, 0, 0], 10: [1, 0, 0, 0, 0, 0], 11: [2, 1, 0, 0, 0, 0] },
    chirpstackN: [{ dr: 4, repeater: false, n: 222 }],
    notes: ['duty cycle per ETSI sub-band: 1 % (g, g1, g4), 0.1 % (g2), 10 % (g3, the RX2/Class C channel 869.525 MHz)'],
  },
  {
    name: 'US915',
    section: 'RP002-1.0.4 US902-928',
    chirpstack: { commonName: 'US915', enumValue: 2 },
    rangeHz: [902_000_000, 928_000_000],
    dataRates: [
      { dr: 0, modulation: 'LORA', sf: 10, bwHz: 125000, up: true, down: false, m: [19, 19] },
      { dr: 1, modulation: 'LORA', sf: 9, bwHz: 125000, up: true, down: false, m: [61, 61] },
      { dr: 2, modulation: 'LORA', sf: 8, bwHz: 125000, up: true, down: false, m: [133, 133] },
      { dr: 3, modulation: 'LORA', sf: 7, bwHz: 125000, up: true, down: false, m: [250, 230] },
      { dr: 4, modulation: 'LORA', sf: 8, bwHz: 500000, up: true, down: false, m: [250, 230] },
      { dr: 5, modulation: 'LR-FHSS', ocwHz: 1_523_000, codingRate: '1/3', up: true, down: false, m: [58, 58] },
      { dr: 6, modulation: 'LR-FHSS', ocwHz: 1_523_000, codingRate: '2/3', up: true, down: false, m: [133, 133] },
      ...US_DOWN_DRS,
    ],
    fixedUplinkDwellMs: 400,
    bands: [{ name: 'US915', minHz: 902_000_000, maxHz: 928_000_000, dutyCycle: 1 }],
    rx2: { frequencyHz: 923_300_000, dr: 8 },
    // Beacon and ping slots hop over the 8 downlink channels (RP002 US902-928 Class B section).
    beacon: { dr: 8, hopHz: [923_300_000, 923_900_000, 924_500_000, 925_100_000, 925_700_000, 926_300_000, 926_900_000, 927_500_000] },
    pingSlot: { dr: 8, hopHz: [923_300_000, 923_900_000, 924_500_000, 925_100_000, 925_700_000, 926_300_000, 926_900_000, 927_500_000] },
    uplink: { frequencyHz: 902_300_000, dr: 3 },
    rx1: {
      0: [10, 9, 8, 8],
      1: [11, 10, 9, 8],
      2: [12, 11, 10, 9],
      3: [13, 12, 11, 10],
      4: [13, 13, 12, 11],
      5: [10, 9, 8, 8],
      6: [11, 10, 9, 8],
    },
    downlinkChannels: { firstHz: 923_300_000, stepHz: 600_000, count: 8 },
    notes: ['no duty cycle; uplinks limited to 400 ms dwell time (FCC), which the DR0..DR2 sizes already reflect', 'downlinks on 8 × 500 kHz channels 923.3 + 0.6·k MHz (DR8..DR13)'],
  },
  {
    name: 'CN779',
    section: 'RP002-1.0.4 CN779-787',
    chirpstack: { commonName: 'CN779', enumValue: 3 },
    rangeHz: [779_000_000, 787_000_000],
    dataRates: EU_DRS,
    bands: [{ name: 'CN779 (779-787)', minHz: 779_000_000, maxHz: 787_000_000, dutyCycle: 0.01 }],
    rx2: { frequencyHz: 786_000_000, dr: 0 },
    beacon: { frequencyHz: 785_000_000, dr: 3 },
    pingSlot: { frequencyHz: 785_000_000, dr: 3 },
    uplink: { frequencyHz: 779_500_000, dr: 5 },
    rx1: EU_RX1,
    notes: ['1 % duty cycle'],
  },
  {
    name: 'EU433',
    section: 'RP002-1.0.4 EU433',
    chirpstack: { commonName: 'EU433', enumValue: 4 },
    rangeHz: [433_050_000, 434_790_000],
    dataRates: EU_DRS,
    bands: [{ name: 'EU433 (433.05-434.79)', minHz: 433_050_000, maxHz: 434_790_000, dutyCycle: 0.01 }],
    rx2: { frequencyHz: 434_665_000, dr: 0 },
    beacon: { frequencyHz: 434_665_000, dr: 3 },
    pingSlot: { frequencyHz: 434_665_000, dr: 3 },
    uplink: { frequencyHz: 433_175_000, dr: 5 },
    rx1: EU_RX1,
    notes: ['1 % duty cycle'],
  },
  {
    name: 'AU915',
    section: 'RP002-1.0.4 AU915-928',
    chirpstack: { commonName: 'AU915', enumValue: 5 },
    rangeHz: [915_000_000, 928_000_000],
    dataRates: [
      { dr: 0, modulation: 'LORA', sf: 12, bwHz: 125000, up: true, down: false, m: [59, 59], mDwell: [0, 0] },
      { dr: 1, modulation: 'LORA', sf: 11, bwHz: 125000, up: true, down: false, m: [59, 59], mDwell: [0, 0] },
      { dr: 2, modulation: 'LORA', sf: 10, bwHz: 125000, up: true, down: false, m: [59, 59], mDwell: [19, 19] },
      { dr: 3, modulation: 'LORA', sf: 9, bwHz: 125000, up: true, down: false, m: [123, 123], mDwell: [61, 61] },
      { dr: 4, modulation: 'LORA', sf: 8, bwHz: 125000, up: true, down: false, m: [250, 230], mDwell: [133, 133] },
      { dr: 5, modulation: 'LORA', sf: 7, bwHz: 125000, up: true, down: false, m: [250, 230], mDwell: [250, 230] },
      { dr: 6, modulation: 'LORA', sf: 8, bwHz: 500000, up: true, down: false, m: [250, 230], mDwell: [250, 230] },
      { dr: 7, modulation: 'LR-FHSS', ocwHz: 1_523_000, codingRate: '1/3', up: true, down: false, m: [58, 58], mDwell: [58, 58] },
      ...US_DOWN_DRS,
    ],
    dwellTimeTable: true,
    bands: [{ name: 'AU915', minHz: 915_000_000, maxHz: 928_000_000, dutyCycle: 1 }],
    rx2: { frequencyHz: 923_300_000, dr: 8 },
    beacon: { dr: 8, hopHz: [923_300_000, 923_900_000, 924_500_000, 925_100_000, 925_700_000, 926_300_000, 926_900_000, 927_500_000] },
    pingSlot: { dr: 8, hopHz: [923_300_000, 923_900_000, 924_500_000, 925_100_000, 925_700_000, 926_300_000, 926_900_000, 927_500_000] },
    uplink: { frequencyHz: 915_200_000, dr: 5 },
    rx1: {
      0: [8, 8, 8, 8, 8, 8],
      1: [9, 8, 8, 8, 8, 8],
      2: [10, 9, 8, 8, 8, 8],
      3: [11, 10, 9, 8, 8, 8],
      4: [12, 11, 10, 9, 8, 8],
      5: [13, 12, 11, 10, 9, 8],
      6: [13, 13, 12, 11, 10, 9],
      7: [9, 8, 8, 8, 8, 8],
    },
    downlinkChannels: { firstHz: 923_300_000, stepHz: 600_000, count: 8 },
    notes: ['no duty cycle; uplink dwell time 400 ms when UplinkDwellTime = 1 (the dwell table applies to uplink DRs only)', 'downlinks on 8 × 500 kHz channels 923.3 + 0.6·k MHz (DR8..DR13)'],
  },
  {
    name: 'CN470',
    section: 'RP002-1.0.4 CN470-510 (20 MHz and 26 MHz channel plans A and B)',
    chirpstack: { commonName: 'CN470', enumValue: 6 },
    rangeHz: [470_000_000, 510_000_000],
    dataRates: [
      { dr: 0, modulation: 'LORA', sf: 12, bwHz: 125000, up: true, down: true, m: [0, 0] },
      { dr: 1, modulation: 'LORA', sf: 11, bwHz: 125000, up: true, down: true, m: [31, 31] },
      { dr: 2, modulation: 'LORA', sf: 10, bwHz: 125000, up: true, down: true, m: [94, 94] },
      { dr: 3, modulation: 'LORA', sf: 9, bwHz: 125000, up: true, down: true, m: [192, 192] },
      { dr: 4, modulation: 'LORA', sf: 8, bwHz: 125000, up: true, down: true, m: [250, 230] },
      { dr: 5, modulation: 'LORA', sf: 7, bwHz: 125000, up: true, down: true, m: [250, 230] },
      { dr: 6, modulation: 'LORA', sf: 7, bwHz: 500000, up: true, down: true, m: [250, 230] },
      { dr: 7, modulation: 'FSK', bitRate: 50000, up: true, down: true, m: [250, 230] },
    ],
    bands: [{ name: 'CN470', minHz: 470_000_000, maxHz: 510_000_000, dutyCycle: 1 }],
    // Default channel plan 20 MHz Plan A (ABP default RX2; beacon hops over the first join group's 8 downlink
    // channels); the other plans are in CN470_PLANS.
    rx2: { frequencyHz: 486_900_000, dr: 1 },
    beacon: { dr: 2, hopHz: [483_900_000, 484_100_000, 484_300_000, 484_500_000, 484_700_000, 484_900_000, 485_100_000, 485_300_000] },
    pingSlot: { dr: 2, hopHz: [483_900_000, 484_100_000, 484_300_000, 484_500_000, 484_700_000, 484_900_000, 485_100_000, 485_300_000] },
    uplink: { frequencyHz: 470_300_000, dr: 5 },
    rx1: EU_RX1,
    notes: ['no duty cycle in RP002; DR0 carries no frame', 'four channel plans (20 MHz A/B, 26 MHz A/B) with their own RX2/beacon frequencies'],
  },
  as923('AS923-1', 'AS923', 7, 0, [915_000_000, 928_000_000]),
  as923('AS923-2', 'AS923_2', 12, 1_800_000, [920_000_000, 923_000_000]),
  as923('AS923-3', 'AS923_3', 13, 6_600_000, [915_000_000, 921_000_000]),
  as923('AS923-4', 'AS923_4', 14, 5_900_000, [917_000_000, 920_000_000]),
  {
    name: 'KR920',
    section: 'RP002-1.0.4 KR920-923',
    chirpstack: { commonName: 'KR920', enumValue: 8 },
    rangeHz: [920_900_000, 923_300_000],
    dataRates: EU_DRS.slice(0, 6),
    lbt: true,
    bands: [{ name: 'KR920 (920.9-923.3)', minHz: 920_900_000, maxHz: 923_300_000, dutyCycle: 1 }],
    rx2: { frequencyHz: 921_900_000, dr: 0 },
    beacon: { frequencyHz: 923_100_000, dr: 3 },
    pingSlot: { frequencyHz: 923_100_000, dr: 3 },
    uplink: { frequencyHz: 922_100_000, dr: 5 },
    rx1: { 0: EU_RX1[0]!, 1: EU_RX1[1]!, 2: EU_RX1[2]!, 3: EU_RX1[3]!, 4: EU_RX1[4]!, 5: EU_RX1[5]! },
    notes: ['listen before talk instead of a duty cycle (LoRaMac-node: free below −65 dBm after 6 ms carrier sense)'],
  },
  {
    name: 'IN865',
    section: 'RP002-1.0.4 IN865-867',
    chirpstack: { commonName: 'IN865', enumValue: 9 },
    rangeHz: [865_000_000, 867_000_000],
    dataRates: [...EU_DRS.slice(0, 6), EU_DRS[7]!],
    bands: [{ name: 'IN865 (865-867)', minHz: 865_000_000, maxHz: 867_000_000, dutyCycle: 1 }],
    rx2: { frequencyHz: 866_550_000, dr: 2 },
    beacon: { frequencyHz: 866_550_000, dr: 4 },
    pingSlot: { frequencyHz: 866_550_000, dr: 4 },
    uplink: { frequencyHz: 865_062_500, dr: 5 },
    rx1: {
      0: [0, 0, 0, 0, 0, 0, 1, 2],
      1: [1, 0, 0, 0, 0, 0, 2, 3],
      2: [2, 1, 0, 0, 0, 0, 3, 4],
      3: [3, 2, 1, 0, 0, 0, 4, 5],
      4: [4, 3, 2, 1, 0, 0, 5, 5],
      5: [5, 4, 3, 2, 1, 0, 5, 5],
      7: [7, 6, 5, 4, 3, 2, 7, 7],
    },
    notes: ['no duty cycle, no dwell time; DR6 is RFU'],
  },
  {
    name: 'RU864',
    section: 'RP002-1.0.4 RU864-870',
    chirpstack: { commonName: 'RU864', enumValue: 10 },
    rangeHz: [864_000_000, 870_000_000],
    dataRates: EU_DRS,
    bands: [{ name: 'RU864 (864-870)', minHz: 864_000_000, maxHz: 870_000_000, dutyCycle: 0.01 }],
    rx2: { frequencyHz: 869_100_000, dr: 0 },
    beacon: { frequencyHz: 869_100_000, dr: 3 },
    pingSlot: { frequencyHz: 868_900_000, dr: 3 },
    uplink: { frequencyHz: 868_900_000, dr: 5 },
    rx1: EU_RX1,
    notes: ['1 % duty cycle (or LBT with AFA, not modelled)'],
  },
];

/** The four CN470 channel plans of RP002-1.0.4 (20 MHz / 26 MHz antenna, plan A / B): RX2 default (ABP) and beacon. */
export const CN470_PLANS: Readonly<Record<string, { rx2Hz: number; beaconHz?: number; note: string }>> = {
  '20MHz-A': { rx2Hz: 486_900_000, note: 'OTAA: RX2 follows the join channel group (485.3..496.5 MHz); beacon hops over 8 downlink channels' },
  '20MHz-B': { rx2Hz: 498_300_000, note: 'OTAA: RX2 478.3 or 498.3 MHz by join channel group; ping slots hop over 32 channels' },
  '26MHz-A': { rx2Hz: 492_500_000, beaconHz: 494_900_000, note: 'single beacon and ping-slot channel' },
  '26MHz-B': { rx2Hz: 502_500_000, beaconHz: 504_900_000, note: 'single beacon and ping-slot channel' },
};
