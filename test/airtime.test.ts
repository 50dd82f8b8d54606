import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { loraAirtime, fskAirtimeMs } from '../src/codec/airtime.js';
import { dataRate, dutyCycleOffTimeMs, dwellTimeMs, frameAirtimeMs, maxAppPayload, subBandFor } from '../src/codec/region.js';

describe('LoRa time on air (AN1200.13)', () => {
  it('SF12/125 kHz, 51-byte PHYPayload, CRC, LDRO: 75.25 symbols x 32.768 ms', () => {
    const a = loraAirtime({ sf: 12, bwHz: 125000, payloadBytes: 51 });
    expect(a.symbolMs).toBeCloseTo(32.768, 9);
    expect(a.totalSymbols).toBe(75.25);
    expect(a.ms).toBeCloseTo(2465.792, 3);
  });
  it('SF7/125 kHz, 20 bytes = 55.25 symbols = 56.58 ms', () => {
    const a = loraAirtime({ sf: 7, bwHz: 125000, payloadBytes: 20 });
    expect(a.totalSymbols).toBe(55.25);
    expect(a.ms).toBeCloseTo(56.576, 3);
  });
  it('hand-computed: SF9/125 kHz 13 bytes no LDRO: 104-36+28+16=112, ceil(112/36)=4, 8+4*5=28, +12.25 = 40.25 symbols x 4.096 ms', () => {
    expect(loraAirtime({ sf: 9, bwHz: 125000, payloadBytes: 13 }).ms).toBeCloseTo(40.25 * 4.096, 6);
  });
  it('downlink without CRC is shorter or equal, never longer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 7, max: 12 }), fc.integer({ min: 0, max: 254 }), (sf, n) => {
        const up = loraAirtime({ sf, bwHz: 125000, payloadBytes: n }).ms;
        const down = loraAirtime({ sf, bwHz: 125000, payloadBytes: n, crc: false }).ms;
        expect(down).toBeLessThanOrEqual(up);
        expect(loraAirtime({ sf, bwHz: 125000, payloadBytes: n + 1 }).ms).toBeGreaterThanOrEqual(up);
      }),
    );
  });
  it('rejects bad parameters naming the field', () => {
    expect(() => loraAirtime({ sf: 13, bwHz: 125000, payloadBytes: 1 })).toThrow(/^sf:/);
    expect(() => loraAirtime({ sf: 7, bwHz: 100000, payloadBytes: 1 })).toThrow(/^bwHz:/);
    expect(() => loraAirtime({ sf: 7, bwHz: 125000, payloadBytes: 256 })).toThrow(/^payloadBytes:/);
  });
  it('FSK 50 kbps: (11 + n) bytes x 0.16 ms', () => {
    expect(fskAirtimeMs(20, 50000)).toBeCloseTo(31 * 0.16, 9);
  });
});

describe('regional parameters', () => {
  it('EU868 max application payload per DR (not repeater compatible, ChirpStack default; and repeater compatible)', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((dr) => maxAppPayload('EU868', dr))).toEqual([51, 51, 51, 115, 242, 242, 242, 242]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((dr) => maxAppPayload('EU868', dr, { repeaterCompatible: true }))).toEqual([51, 51, 51, 115, 222, 222, 222, 222]);
  });
  it('US915 downlink DR8 is SF12/500 kHz with 53 bytes, uplink DR0 SF10 with 11 bytes', () => {
    expect(dataRate('US915', 8, 'downlink')).toMatchObject({ sf: 12, bwHz: 500000, maxAppPayload: 53 });
    expect(maxAppPayload('US915', 0)).toBe(11);
    expect(() => dataRate('US915', 8, 'uplink')).toThrow(/^dr: DR8 cannot be used for uplink/);
    expect(() => dataRate('EU868', 12)).toThrow(/^dr:/);
  });
  it('frame airtime: EU868 DR0 downlink of 51 app bytes (64-byte PHY, no CRC)', () => {
    // 8*64 - 48 + 28 = 492; /40 -> 13 * 5 = 65 + 8 = 73 + 12.25 = 85.25 symbols
    expect(frameAirtimeMs('EU868', 0, 51, 'downlink')).toBeCloseTo(85.25 * 32.768, 6);
  });
  it('duty-cycle sub-bands and off time', () => {
    expect(subBandFor('EU868', 869_525_000).dutyCycle).toBe(0.1);
    expect(subBandFor('EU868', 868_100_000).dutyCycle).toBe(0.01);
    expect(subBandFor('EU868', 869_000_000).dutyCycle).toBe(0.001);
    expect(() => subBandFor('EU868', 869_300_000)).toThrow(/^frequency:/);
    expect(dutyCycleOffTimeMs(100, 0.1)).toBeCloseTo(900, 9);
    expect(dutyCycleOffTimeMs(100, 1)).toBe(0);
    expect(dwellTimeMs('US915', 'uplink')).toBe(400);
    expect(dwellTimeMs('EU868', 'uplink')).toBeUndefined();
  });
});
