/**
 * Every RP002-1.0.4 region: payload tables (dwell time / repeater variants), duty-cycle bands, defaults, and a
 * 64 KiB campaign planned at the region's default multicast channel (RX2 frequency and DR) with figures computed
 * by hand from the RP002 tables and the LoRa time-on-air formula (Semtech AN1200.13):
 *
 *   Tsym = 2^SF / BW;  LDRO (DE) = 1 when Tsym >= 16 ms;  downlinks have no PHY CRC, CR 4/5, explicit header
 *   payloadSymbols = 8 + max(ceil((8·PL − 4·SF + 28) / (4·(SF − 2·DE))) · 5, 0)
 *   ToA = (8 + 4.25 + payloadSymbols) · Tsym,   PL = FRMPayload + 13 (MHDR, FHDR without FOpts, FPort, MIC)
 *
 * The planner (as submission calls it): fragSize = N − 3 (DataFragment CID + Index&N), M = ceil(65536 / fragSize),
 * 10 % initial coded fragments, interval = ceil(max(ToA, ToA / dutyCycle, 5 s Class C margin)),
 * ETA = ceil((5 uplinks of setup (300 s) + (M + coded) · interval + 16 s status window + 4 uplinks + 30 s reboot
 * (270 s)) / 1 s).
 */
import { describe, expect, it } from 'vitest';
import { planCampaign, PlanError, type PlanInput } from '../src/campaign/planner.js';
import { parseCampaignSpec } from '../src/campaign/schema.js';
import {
  classBFrequencyHz,
  dataRate,
  dwellTimeMs,
  frameAirtimeMs,
  isRegion,
  listenBeforeTalk,
  maxAppPayload,
  maxDownlinkAppPayload,
  regionDefaults,
  REGION_NAMES,
  rx1DownlinkDr,
  subBandFor,
  type RegionName,
  type RegionOptions,
} from '../src/codec/region.js';

const KIB64 = 65536;

function plan(region: RegionName, over: Partial<PlanInput> = {}) {
  const d = regionDefaults(region).classC;
  return planCampaign({
    imageBytes: KIB64,
    region,
    dr: d.dr,
    frequencyHz: d.frequencyHz,
    groupType: 'C',
    classBPeriodicity: 0,
    gatewayCount: 1,
    initialRedundancyPercent: 10,
    maxRedundancyPercent: 100,
    blockAckDelay: 0,
    maxRepairRounds: 4,
    uplinkIntervalS: 60,
    unicastRetries: 3,
    rebootDelayS: 30,
    ...over,
  });
}

/** N (max FRMPayload) for DR0..DR7, null where the DR is not defined / carries nothing. */
function nTable(region: RegionName, drs: number[], opts: RegionOptions = {}): (number | null)[] {
  return drs.map((dr) => {
    try {
      const n = maxAppPayload(region, dr, opts);
      return n === 0 ? null : n;
    } catch {
      return null;
    }
  });
}

const DR0_7 = [0, 1, 2, 3, 4, 5, 6, 7];
const EU_N = [51, 51, 51, 115, 242, 242, 242, 242];
const EU_N_REPEATER = [51, 51, 51, 115, 222, 222, 222, 222];

describe('all regions', () => {
  it('knows the 13 RP002-1.0.4 regions AWS and ChirpStack name, and nothing else', () => {
    expect(REGION_NAMES).toHaveLength(13);
    for (const r of ['EU868', 'US915', 'CN779', 'EU433', 'AU915', 'CN470', 'AS923-1', 'AS923-2', 'AS923-3', 'AS923-4', 'KR920', 'IN865', 'RU864']) expect(isRegion(r)).toBe(true);
    expect(isRegion('AS923')).toBe(false);
    expect(isRegion('ISM2400')).toBe(false);
  });

  it('the campaign spec accepts every region and refuses others, naming the field', () => {
    const spec = (region: string) => ({
      name: 'n', applicationId: 'a', imageBase64: 'AA==', publicKeys: ['k'], deviceClass: 'c', devices: [{ devEui: '0102030405060708' }],
      multicast: { region, dwellTime: true },
    });
    for (const r of REGION_NAMES) expect(parseCampaignSpec(spec(r)).multicast).toMatchObject({ region: r, dwellTime: true, repeaterCompatible: false });
    expect(() => parseCampaignSpec(spec('XX915'))).toThrow(/multicast\.region/);
  });

  it('every default multicast channel lies in its region and its DR carries a DataFragment', () => {
    for (const r of REGION_NAMES) {
      const c = regionDefaults(r).classC;
      expect(subBandFor(r, c.frequencyHz).minHz).toBeLessThanOrEqual(c.frequencyHz);
      expect(maxDownlinkAppPayload(r, c.dr)).toBeGreaterThan(3);
      const p = plan(r);
      expect(p.nbFrag * p.fragSize - p.padding).toBe(KIB64);
    }
  });

  it('N = M − 8 in every table', () => {
    for (const r of REGION_NAMES) {
      for (const opts of [{}, { dwellTime: true }, { repeaterCompatible: true }, { dwellTime: true, repeaterCompatible: true }]) {
        for (const dir of ['uplink', 'downlink'] as const) {
          for (const dr of Array.from({ length: 16 }, (_, i) => i)) {
            let rate;
            try {
              rate = dataRate(r, dr, dir, opts);
            } catch {
              continue;
            }
            expect(rate.maxAppPayload).toBe(rate.maxMacPayload === 0 ? 0 : rate.maxMacPayload - 8);
          }
        }
      }
    }
  });
});

describe('EU868', () => {
  it('max payload per DR: RP002 not repeater compatible (ChirpStack default) and repeater compatible', () => {
    expect(nTable('EU868', DR0_7)).toEqual(EU_N);
    expect(nTable('EU868', DR0_7, { repeaterCompatible: true })).toEqual(EU_N_REPEATER);
    // LR-FHSS DR8..DR11 are uplink only: M 58/123/58/123.
    expect([8, 9, 10, 11].map((dr) => dataRate('EU868', dr, 'uplink').maxMacPayload)).toEqual([58, 123, 58, 123]);
    expect(() => dataRate('EU868', 8, 'downlink')).toThrow(/^dr: DR8 cannot be used for downlink/);
    expect(() => frameAirtimeMs('EU868', 8, 10, 'uplink')).toThrow(/LR-FHSS/);
  });

  it('DR7 is FSK 50 kbit/s: a 242-byte downlink is (5 + 3 + 1 + 255 + 2) bytes · 8 / 50 kbit/s = 42.56 ms', () => {
    expect(dataRate('EU868', 7, 'downlink')).toMatchObject({ modulation: 'FSK', bitRate: 50000, maxAppPayload: 242 });
    expect(frameAirtimeMs('EU868', 7, 242, 'downlink')).toBeCloseTo(42.56, 9);
    const p = plan('EU868', { dr: 7 });
    expect(p).toMatchObject({ fragSize: 239, nbFrag: 275, fragmentIntervalMs: 5000 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(42.56, 9);
  });

  it('ChirpStack limits DR4 (not repeater compatible) to N = 222, so the planner does too', () => {
    expect(maxAppPayload('EU868', 4)).toBe(242);
    expect(maxDownlinkAppPayload('EU868', 4)).toBe(222);
    expect(plan('EU868', { dr: 4, frequencyHz: 869_525_000 }).fragSize).toBe(219);
    expect(plan('EU868', { dr: 5, frequencyHz: 869_525_000 }).fragSize).toBe(239);
  });

  it('sub-bands: 1 % g/g1/g4, 0.1 % g2, 10 % g3; defaults', () => {
    expect([865_000_000, 868_300_000, 869_000_000, 869_525_000, 869_800_000].map((f) => subBandFor('EU868', f).dutyCycle)).toEqual([0.01, 0.01, 0.001, 0.1, 0.01]);
    expect(() => subBandFor('EU868', 869_300_000)).toThrow(/^frequency: .* in no EU868 sub-band/);
    expect(() => subBandFor('EU868', 902_300_000)).toThrow(/^frequency: .* outside EU868/);
    expect(regionDefaults('EU868')).toMatchObject({ rx2: { frequencyHz: 869_525_000, dr: 0 }, beacon: { frequencyHz: 869_525_000, dr: 3 }, pingSlot: { frequencyHz: 869_525_000, dr: 3 } });
    expect(rx1DownlinkDr('EU868', 5)).toBe(5);
    expect(rx1DownlinkDr('EU868', 5, 2)).toBe(3);
  });

  it('64 KiB at DR0 / 869.525 MHz (10 % duty cycle limits the pace)', () => {
    // N(DR0) = 51 -> fragSize 48; M = ceil(65536 / 48) = 1366 (1366 · 48 = 65568, padding 32).
    // PL = 51 + 13 = 64. SF12/125 kHz: Tsym = 4096 / 125000 = 32.768 ms >= 16 ms -> DE = 1.
    // 8·64 − 48 + 28 = 492; 4·(12 − 2) = 40; ceil(492 / 40) = 13; 13 · 5 = 65; + 8 = 73 payload symbols.
    // ToA = (12.25 + 73) · 32.768 = 85.25 · 32.768 = 2793.472 ms.
    // g3 duty cycle 10 %: 2793.472 / 0.1 = 27934.72 ms > 5 s margin -> rounded up to ChirpStack's 1 s scheduler
    // grid: 28,000 ms. coded = ceil(1366 · 0.1) = 137; (1366 + 137) · 28,000 = 42,084,000 ms.
    // ETA = ceil((300,000 + 42,084,000 + 16,000 + 270,000) / 1000) = 42,670 s (11.9 h).
    const p = plan('EU868');
    expect(p).toMatchObject({ fragSize: 48, nbFrag: 1366, padding: 32, initialCoded: 137, dutyCycle: 0.1, fragmentIntervalMs: 28_000, etaSeconds: 42_670 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(2793.472, 9);
  });
});

describe('US915', () => {
  it('uplink DR0..DR4 and LR-FHSS DR5/DR6; downlink DR8..DR13 on 500 kHz; repeater variant', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((dr) => dataRate('US915', dr, 'uplink').maxAppPayload)).toEqual([11, 53, 125, 242, 242, 50, 125]);
    expect([8, 9, 10, 11, 12, 13].map((dr) => dataRate('US915', dr, 'downlink').maxAppPayload)).toEqual([53, 129, 242, 242, 242, 242]);
    expect([8, 9, 10, 11, 12, 13].map((dr) => dataRate('US915', dr, 'downlink', { repeaterCompatible: true }).maxAppPayload)).toEqual([53, 129, 222, 222, 222, 222]);
    expect([8, 13].map((dr) => [dataRate('US915', dr).sf, dataRate('US915', dr).bwHz])).toEqual([[12, 500000], [7, 500000]]);
    expect(() => dataRate('US915', 3, 'downlink')).toThrow(/^dr: DR3 cannot be used for downlink in US915/);
    expect(() => dataRate('US915', 7)).toThrow(/^dr: DR7 is not defined/);
  });

  it('no duty cycle, 400 ms uplink dwell, downlink channels, RX1 = 10 + DR', () => {
    expect(subBandFor('US915', 923_300_000).dutyCycle).toBe(1);
    expect(dwellTimeMs('US915', 'uplink')).toBe(400);
    expect(dwellTimeMs('US915', 'downlink')).toBeUndefined();
    const d = regionDefaults('US915');
    expect(d.rx2).toEqual({ frequencyHz: 923_300_000, dr: 8 });
    expect(d.downlinkChannelsHz).toEqual([923.3, 923.9, 924.5, 925.1, 925.7, 926.3, 926.9, 927.5].map((m) => Math.round(m * 1e6)));
    expect(d.beacon.dr).toBe(8);
    expect(d.beacon.hopHz).toEqual(d.downlinkChannelsHz);
    expect([0, 1, 2, 3, 4].map((dr) => rx1DownlinkDr('US915', dr))).toEqual([10, 11, 12, 13, 13]);
    expect(plan('US915').warnings).toEqual([]);
    expect(plan('US915', { frequencyHz: 923_350_000 }).warnings.join()).toMatch(/923350000 Hz is not one of the US915 downlink channels/);
  });

  it('64 KiB at DR8 / 923.3 MHz (the 5 s Class C margin limits the pace)', () => {
    // N(DR8) = 53 -> fragSize 50; M = ceil(65536 / 50) = 1311 (65550, padding 14).
    // PL = 53 + 13 = 66. SF12/500 kHz: Tsym = 4096 / 500000 = 8.192 ms < 16 ms -> DE = 0.
    // 8·66 − 48 + 28 = 508; 4·12 = 48; ceil(508 / 48) = 11; 11 · 5 = 55; + 8 = 63 payload symbols.
    // ToA = (12.25 + 63) · 8.192 = 75.25 · 8.192 = 616.448 ms. No duty cycle -> interval = max(616.448, 5000) = 5000 ms.
    // coded = ceil(131.1) = 132; (1311 + 132) · 5000 = 7,215,000 ms.
    // ETA = ceil((300,000 + 7,215,000 + 16,000 + 270,000) / 1000) = 7801 s.
    const p = plan('US915');
    expect(p).toMatchObject({ fragSize: 50, nbFrag: 1311, padding: 14, initialCoded: 132, dutyCycle: 1, fragmentIntervalMs: 5000, etaSeconds: 7801 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(616.448, 9);
  });
});

describe('CN779', () => {
  it('max payload, 1 % band, defaults, 64 KiB at DR0 / 786 MHz', () => {
    expect(nTable('CN779', DR0_7)).toEqual(EU_N);
    expect(nTable('CN779', DR0_7, { repeaterCompatible: true })).toEqual(EU_N_REPEATER);
    expect(subBandFor('CN779', 786_000_000).dutyCycle).toBe(0.01);
    expect(() => subBandFor('CN779', 788_000_000)).toThrow(/^frequency:/);
    expect(regionDefaults('CN779')).toMatchObject({ rx2: { frequencyHz: 786_000_000, dr: 0 }, beacon: { frequencyHz: 785_000_000, dr: 3 }, pingSlot: { frequencyHz: 785_000_000, dr: 3 } });
    // Same frame as EU868 DR0 (2793.472 ms) but 1 %: 279,347.2 ms -> 280,000 ms between fragments (1 s grid).
    // (1366 + 137) · 280,000 = 420,840,000 ms; ETA = ceil((300,000 + 420,840,000 + 286,000) / 1000) = 421,426 s (4.9 days).
    const p = plan('CN779');
    expect(p).toMatchObject({ fragSize: 48, nbFrag: 1366, dutyCycle: 0.01, fragmentIntervalMs: 280_000, etaSeconds: 421_426 });
    expect(p.warnings.join()).toMatch(/exceeds the longest TimeOut/);
  });
});

describe('EU433', () => {
  it('max payload, 1 % band, defaults, 64 KiB at DR0 / 434.665 MHz', () => {
    expect(nTable('EU433', DR0_7)).toEqual(EU_N);
    expect(nTable('EU433', DR0_7, { repeaterCompatible: true })).toEqual(EU_N_REPEATER);
    expect(subBandFor('EU433', 434_665_000).dutyCycle).toBe(0.01);
    expect(() => subBandFor('EU433', 868_100_000)).toThrow(/^frequency:/);
    expect(regionDefaults('EU433')).toMatchObject({ rx2: { frequencyHz: 434_665_000, dr: 0 }, beacon: { frequencyHz: 434_665_000, dr: 3 } });
    const p = plan('EU433');
    expect(p).toMatchObject({ fragSize: 48, nbFrag: 1366, fragmentIntervalMs: 280_000, etaSeconds: 421_426 });
  });
});

describe('AU915', () => {
  it('uplink payloads with and without the uplink dwell limit; 500 kHz downlinks unaffected', () => {
    const up = (opts: RegionOptions) => [0, 1, 2, 3, 4, 5, 6, 7].map((dr) => dataRate('AU915', dr, 'uplink', opts).maxAppPayload || null);
    expect(up({})).toEqual([51, 51, 51, 115, 242, 242, 242, 50]);
    expect(up({ dwellTime: true })).toEqual([null, null, 11, 53, 125, 242, 242, 50]);
    expect(up({ repeaterCompatible: true })).toEqual([51, 51, 51, 115, 222, 222, 222, 50]);
    expect([8, 9, 10, 11, 12, 13].map((dr) => maxAppPayload('AU915', dr, { dwellTime: true }))).toEqual([53, 129, 242, 242, 242, 242]);
    expect(dwellTimeMs('AU915', 'uplink', { dwellTime: true })).toBe(400);
    expect(dwellTimeMs('AU915', 'downlink', { dwellTime: true })).toBeUndefined();
    expect([0, 5, 6, 7].map((dr) => rx1DownlinkDr('AU915', dr))).toEqual([8, 13, 13, 9]);
  });

  it('64 KiB at DR8 / 923.3 MHz: as US915 (same DR8 frame, no duty cycle)', () => {
    const p = plan('AU915');
    expect(p).toMatchObject({ fragSize: 50, nbFrag: 1311, fragmentIntervalMs: 5000, etaSeconds: 7801 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(616.448, 9);
  });
});

describe('CN470', () => {
  it('max payload (DR0 carries nothing), channel plans, no duty cycle', () => {
    expect(nTable('CN470', DR0_7)).toEqual([null, 23, 86, 184, 242, 242, 242, 242]);
    expect(nTable('CN470', DR0_7, { repeaterCompatible: true })).toEqual([null, 23, 86, 184, 222, 222, 222, 222]);
    expect(dataRate('CN470', 6)).toMatchObject({ sf: 7, bwHz: 500000 });
    expect(regionDefaults('CN470').rx2).toEqual({ frequencyHz: 486_900_000, dr: 1 });
    expect(regionDefaults('CN470', '20MHz-B').rx2.frequencyHz).toBe(498_300_000);
    expect(regionDefaults('CN470', '26MHz-A')).toMatchObject({ rx2: { frequencyHz: 492_500_000, dr: 1 }, beacon: { frequencyHz: 494_900_000, dr: 2 }, pingSlot: { frequencyHz: 494_900_000, dr: 2 } });
    expect(regionDefaults('CN470', '26MHz-B')).toMatchObject({ rx2: { frequencyHz: 502_500_000 }, beacon: { frequencyHz: 504_900_000 } });
    expect(() => regionDefaults('CN470', 'X' as never)).toThrow(/^cn470Plan:/);
    expect(subBandFor('CN470', 486_900_000).dutyCycle).toBe(1);
    expect(() => plan('CN470', { dr: 0 })).toThrow(PlanError);
    expect(() => plan('CN470', { dr: 0 })).toThrow(/^multicast\.dr: DR0 carries no DataFragment in CN470/);
  });

  it('64 KiB at DR1 / 486.9 MHz', () => {
    // N(DR1) = 23 -> fragSize 20; M = ceil(65536 / 20) = 3277 (padding 4). PL = 36.
    // SF11/125 kHz: Tsym = 16.384 ms -> DE = 1. 8·36 − 44 + 28 = 272; 4·(11 − 2) = 36; ceil(272/36) = 8; 40 + 8 = 48.
    // ToA = 60.25 · 16.384 = 987.136 ms -> interval 5000 ms. coded = ceil(327.7) = 328.
    // ETA = ceil((300,000 + 3605 · 5000 + 286,000) / 1000) = 18,611 s.
    const p = plan('CN470');
    expect(p).toMatchObject({ fragSize: 20, nbFrag: 3277, padding: 4, initialCoded: 328, fragmentIntervalMs: 5000, etaSeconds: 18_611 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(987.136, 9);
  });
});

describe('AS923-1', () => {
  it('max payload: no dwell / 400 ms dwell, repeater or not', () => {
    expect(nTable('AS923-1', DR0_7)).toEqual([51, 51, 115, 115, 242, 242, 242, 242]);
    expect(nTable('AS923-1', DR0_7, { dwellTime: true })).toEqual([null, null, 11, 53, 125, 242, 242, 242]);
    expect(nTable('AS923-1', DR0_7, { repeaterCompatible: true })).toEqual([51, 51, 115, 115, 222, 222, 222, 222]);
    expect(nTable('AS923-1', DR0_7, { dwellTime: true, repeaterCompatible: true })).toEqual([null, null, 11, 53, 125, 222, 222, 222]);
  });

  it('LBT, 400 ms dwell both ways when on, no duty cycle, defaults, RX1 floor DR2 with dwell', () => {
    expect(listenBeforeTalk('AS923-1')).toBe(true);
    expect(dwellTimeMs('AS923-1', 'downlink')).toBeUndefined();
    expect(dwellTimeMs('AS923-1', 'downlink', { dwellTime: true })).toBe(400);
    expect(dwellTimeMs('AS923-1', 'uplink', { dwellTime: true })).toBe(400);
    expect(subBandFor('AS923-1', 923_200_000).dutyCycle).toBe(1);
    expect(regionDefaults('AS923-1')).toMatchObject({ rx2: { frequencyHz: 923_200_000, dr: 2 }, beacon: { frequencyHz: 923_400_000, dr: 3 }, pingSlot: { frequencyHz: 923_400_000, dr: 3 } });
    expect(rx1DownlinkDr('AS923-1', 0)).toBe(0);
    expect(rx1DownlinkDr('AS923-1', 0, 0, { dwellTime: true })).toBe(2);
    expect(rx1DownlinkDr('AS923-1', 5, 7)).toBe(7);
  });

  it('64 KiB at DR2 / 923.2 MHz without the dwell limit', () => {
    // N = 115 -> fragSize 112; M = ceil(65536 / 112) = 586 (padding 96). PL = 128. SF10/125: Tsym 8.192 ms, DE 0.
    // 8·128 − 40 + 28 = 1012; ceil(1012 / 40) = 26; 130 + 8 = 138; ToA = 150.25 · 8.192 = 1230.848 ms -> 5 s.
    // ETA = ceil((300,000 + (586 + 59) · 5000 + 286,000) / 1000) = 3811 s.
    const p = plan('AS923-1');
    expect(p).toMatchObject({ fragSize: 112, nbFrag: 586, padding: 96, initialCoded: 59, fragmentIntervalMs: 5000, etaSeconds: 3811 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(1230.848, 9);
    expect(p.warnings.join()).toMatch(/listen-before-talk/);
  });

  it('64 KiB at DR2 / 923.2 MHz with the 400 ms dwell limit', () => {
    // Dwell table: M(DR2) = 19, N = 11 -> fragSize 8; M = 65536 / 8 = 8192 exactly (padding 0).
    // PL = 11 + 13 = 24. SF10/125 kHz: Tsym = 1024 / 125000 = 8.192 ms -> DE = 0.
    // 8·24 − 40 + 28 = 180; 4·10 = 40; ceil(180 / 40) = 5; 5 · 5 = 25; + 8 = 33 payload symbols.
    // ToA = (12.25 + 33) · 8.192 = 45.25 · 8.192 = 370.688 ms <= 400 ms dwell. Interval = 5000 ms (margin).
    // coded = ceil(819.2) = 820; (8192 + 820) · 5000 = 45,060,000 ms.
    // ETA = ceil((300,000 + 45,060,000 + 16,000 + 270,000) / 1000) = 45,646 s (12.7 h).
    const p = plan('AS923-1', { dwellTime: true });
    expect(p).toMatchObject({ fragSize: 8, nbFrag: 8192, padding: 0, initialCoded: 820, fragmentIntervalMs: 5000, etaSeconds: 45_646 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(370.688, 9);
    expect(() => plan('AS923-1', { dwellTime: true, dr: 1 })).toThrow(/^multicast\.dr: DR1 carries no DataFragment in AS923-1 with the 400 ms dwell-time limit/);
    expect(() => plan('AS923-1', { dwellTime: true, fragSize: 9 })).toThrow(/^fragmentation\.fragSize: 9 exceeds the 8 bytes/);
  });

  it('every DR keeps a full frame within 400 ms when the dwell limit is on', () => {
    for (const dr of [2, 3, 4, 5, 6, 7]) {
      const n = maxAppPayload('AS923-1', dr, { dwellTime: true });
      expect(frameAirtimeMs('AS923-1', dr, n, 'downlink', { dwellTime: true })).toBeLessThanOrEqual(400);
    }
  });
});

describe('AS923-2, AS923-3, AS923-4', () => {
  it('the AS923 tables shifted by −1.8 / −6.6 / −5.9 MHz', () => {
    const cases: [RegionName, number, number][] = [
      ['AS923-2', 921_400_000, 921_600_000],
      ['AS923-3', 916_600_000, 916_800_000],
      ['AS923-4', 917_300_000, 917_500_000],
    ];
    for (const [r, rx2, beacon] of cases) {
      expect(regionDefaults(r)).toMatchObject({ rx2: { frequencyHz: rx2, dr: 2 }, beacon: { frequencyHz: beacon, dr: 3 } });
      expect(nTable(r, DR0_7, { dwellTime: true })).toEqual([null, null, 11, 53, 125, 242, 242, 242]);
      expect(plan(r)).toMatchObject({ fragSize: 112, nbFrag: 586, etaSeconds: 3811 });
      expect(plan(r, { dwellTime: true })).toMatchObject({ fragSize: 8, nbFrag: 8192, etaSeconds: 45_646 });
    }
    expect(() => subBandFor('AS923-2', 923_200_000)).toThrow(/^frequency: .* outside AS923-2/);
    expect(() => subBandFor('AS923-4', 923_200_000)).toThrow(/^frequency:/);
  });
});

describe('KR920', () => {
  it('DR0..DR5 only, LBT, no duty cycle, defaults, 64 KiB at DR0 / 921.9 MHz', () => {
    expect(nTable('KR920', DR0_7)).toEqual([51, 51, 51, 115, 242, 242, null, null]);
    expect(nTable('KR920', DR0_7, { repeaterCompatible: true })).toEqual([51, 51, 51, 115, 222, 222, null, null]);
    expect(listenBeforeTalk('KR920')).toBe(true);
    expect(subBandFor('KR920', 921_900_000).dutyCycle).toBe(1);
    expect(regionDefaults('KR920')).toMatchObject({ rx2: { frequencyHz: 921_900_000, dr: 0 }, beacon: { frequencyHz: 923_100_000, dr: 3 }, pingSlot: { frequencyHz: 923_100_000, dr: 3 } });
    // EU868 DR0 frame (2793.472 ms) with no duty cycle: interval 5000 ms; ETA = ceil((300,000 + 1503 · 5000 + 286,000) / 1000) = 8101 s.
    expect(plan('KR920')).toMatchObject({ fragSize: 48, nbFrag: 1366, fragmentIntervalMs: 5000, etaSeconds: 8101 });
  });
});

describe('IN865', () => {
  it('DR6 RFU, no duty cycle, defaults, 64 KiB at DR2 / 866.55 MHz', () => {
    expect(nTable('IN865', DR0_7)).toEqual([51, 51, 51, 115, 242, 242, null, 242]);
    expect(nTable('IN865', DR0_7, { repeaterCompatible: true })).toEqual([51, 51, 51, 115, 222, 222, null, 222]);
    expect(subBandFor('IN865', 866_550_000).dutyCycle).toBe(1);
    expect(listenBeforeTalk('IN865')).toBe(false);
    expect(dwellTimeMs('IN865', 'downlink', { dwellTime: true })).toBeUndefined();
    expect(regionDefaults('IN865')).toMatchObject({ rx2: { frequencyHz: 866_550_000, dr: 2 }, beacon: { frequencyHz: 866_550_000, dr: 4 }, pingSlot: { dr: 4 } });
    // N(DR2) = 51 -> 48 B, M 1366. PL 64, SF10: 8·64 − 40 + 28 = 500; ceil(500/40) = 13 -> 73 symbols; 85.25 · 8.192 = 698.368 ms.
    const p = plan('IN865');
    expect(p).toMatchObject({ fragSize: 48, nbFrag: 1366, fragmentIntervalMs: 5000, etaSeconds: 8101 });
    expect(p.fragmentAirtimeMs).toBeCloseTo(698.368, 9);
  });
});

describe('RU864', () => {
  it('max payload, 1 % band, defaults, 64 KiB at DR0 / 869.1 MHz', () => {
    expect(nTable('RU864', DR0_7)).toEqual(EU_N);
    expect(nTable('RU864', DR0_7, { repeaterCompatible: true })).toEqual(EU_N_REPEATER);
    expect(subBandFor('RU864', 869_100_000).dutyCycle).toBe(0.01);
    expect(regionDefaults('RU864')).toMatchObject({ rx2: { frequencyHz: 869_100_000, dr: 0 }, beacon: { frequencyHz: 869_100_000, dr: 3 }, pingSlot: { frequencyHz: 868_900_000, dr: 3 } });
    expect(plan('RU864')).toMatchObject({ fragSize: 48, nbFrag: 1366, dutyCycle: 0.01, fragmentIntervalMs: 280_000, etaSeconds: 421_426 });
  });
});

describe('Class B channels', () => {
  it('fixed in most regions, hopping over the 8 downlink channels in US915/AU915', () => {
    expect(classBFrequencyHz('EU868', 'pingSlot', 1_000_000, 0x01ab23cd)).toBe(869_525_000);
    expect(classBFrequencyHz('RU864', 'beacon', 0)).toBe(869_100_000);
    expect(classBFrequencyHz('RU864', 'pingSlot', 0)).toBe(868_900_000);
    // beacon time 1280 s -> period 10 -> channel 10 mod 8 = 2 -> 923.3 + 1.2 MHz.
    expect(classBFrequencyHz('US915', 'beacon', 1280)).toBe(924_500_000);
    // ping slot: (DevAddr 5 + period 10) mod 8 = 7 -> 927.5 MHz.
    expect(classBFrequencyHz('AU915', 'pingSlot', 1280, 5)).toBe(927_500_000);
    expect(classBFrequencyHz('CN470', 'beacon', 0, 0, '26MHz-B')).toBe(504_900_000);
  });
});
