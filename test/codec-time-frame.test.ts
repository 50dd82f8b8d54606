// GPS time, radio units and LoRaWAN 1.0.x data-down frames.
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gpsToUnixMs, unixMsToGps, unwrapU32, wrapU32 } from '../src/codec/gpstime.js';
import { decodeDownlinkFrame, encodeDownlinkFrame } from '../src/codec/lorawan-frame.js';
import {
  classBTimeoutSeconds,
  classCTimeoutFor,
  classCTimeoutSeconds,
  dlFrequencyToHz,
  hzToDlFrequency,
  pingSlotPeriodSeconds,
} from '../src/codec/radio-units.js';
import { CodecError } from '../src/codec/errors.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('GPS time', () => {
  it('check value 2025-07-14T00:00:00Z → 1436486418 and back', () => {
    const ms = Date.parse('2025-07-14T00:00:00Z');
    expect(unixMsToGps(ms)).toBe(1436486418);
    expect(unixMsToGps(ms + 999)).toBe(1436486418);
    expect(gpsToUnixMs(1436486418)).toBe(ms);
  });
  it('epoch and leap-second boundaries', () => {
    expect(unixMsToGps(Date.parse('1980-01-06T00:00:00Z'))).toBe(0);
    const before = Date.parse('2016-12-31T23:59:59Z');
    const after = Date.parse('2017-01-01T00:00:00Z');
    expect(unixMsToGps(after) - unixMsToGps(before)).toBe(2); // the inserted leap second 23:59:60
    expect(unixMsToGps(after) - after / 1000).toBe(18 - 315964800);
    expect(unixMsToGps(Date.parse('2016-06-01T00:00:00Z')) - Date.parse('2016-06-01T00:00:00Z') / 1000).toBe(17 - 315964800);
  });
  it('gpsToUnixMs inverts unixMsToGps on whole seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 315964800, max: 4_000_000_000 }), (s) => {
        expect(gpsToUnixMs(unixMsToGps(s * 1000))).toBe(s * 1000);
      }),
    );
  });
  it('u32 wrap and unwrap', () => {
    expect(wrapU32(2 ** 32 + 5)).toBe(5);
    expect(wrapU32(-1)).toBe(0xffffffff);
    expect(unwrapU32(5, 2 ** 32 - 10)).toBe(2 ** 32 + 5);
    expect(unwrapU32(0xfffffff0, 2 ** 32 + 3)).toBe(0xfffffff0);
    expect(unwrapU32(1436486418, 1436486000)).toBe(1436486418);
  });
});

describe('radio units', () => {
  it('DLFrequency 100 Hz units and the 2.4 GHz 200 Hz rule', () => {
    expect(hzToDlFrequency(869_525_000)).toBe(8_695_250);
    expect(dlFrequencyToHz(8_695_250)).toBe(869_525_000);
    expect(hzToDlFrequency(2_425_000_000)).toBe(12_125_000);
    expect(dlFrequencyToHz(12_125_000)).toBe(2_425_000_000);
    expect(() => hzToDlFrequency(869_525_050)).toThrow(CodecError);
    expect(() => hzToDlFrequency(2_400_000_100)).toThrow(/200 Hz/);
    expect(() => hzToDlFrequency(4_000_000_000)).toThrow(/outside/);
  });
  it('timeouts and periodicity', () => {
    expect([classCTimeoutSeconds(8), classBTimeoutSeconds(4), pingSlotPeriodSeconds(2)]).toEqual([256, 2048, 4]);
    expect([classCTimeoutFor(256), classCTimeoutFor(257), classCTimeoutFor(1e9)]).toEqual([8, 9, undefined]);
  });
});

describe('LoRaWAN 1.0.x data-down frame', () => {
  const appSKey = h('dc6ca426806cdd74a62ba5877466f6b3');
  const nwkSKey = h('1c73ee5210a98bf5843faf8264cf1114');
  const payload = h('08 01 00 0102030405060708090a0b0c0d0e0f101112');
  const f = encodeDownlinkFrame({ devAddr: 0x01ab23cd, fCnt: 0x00010002, fPort: 201, payload, appSKey, nwkSKey });

  it('lays out MHDR, DevAddr LE, FCtrl, FCnt low 16 bits, FPort, FRMPayload, MIC', () => {
    expect(hex(f.phyPayload.subarray(0, 9))).toBe('60cd23ab010002' + '00' + 'c9');
    expect(f.phyPayload.subarray(9, 9 + payload.length)).toEqual(f.frmPayload);
    expect(f.phyPayload.subarray(-4)).toEqual(f.mic);
    expect(f.phyPayload).toHaveLength(13 + payload.length);
  });
  it('encrypts with AES(AppSKey, A_i) keystream, independently recomputed', () => {
    const a = h('01 00000000 01 cd23ab01 02000100 00 01');
    const c = createCipheriv('aes-128-ecb', appSKey, null);
    const s = c.update(Buffer.concat([a, Buffer.from(a).fill(2, 15)]));
    expect(f.frmPayload).toEqual(payload.map((d, i) => d ^ s[i]!));
  });
  it('decodes with the keys and the full counter; MIC failures give null', () => {
    expect(decodeDownlinkFrame(f.phyPayload, { appSKey, nwkSKey, fCntFull: 0x00010002 })).toEqual({ devAddr: 0x01ab23cd, fCnt: 0x00010002, fPort: 201, payload });
    expect(decodeDownlinkFrame(f.phyPayload, { appSKey, nwkSKey, fCntFull: 0x0000fff0 })?.fCnt).toBe(0x00010002);
    expect(decodeDownlinkFrame(f.phyPayload, { appSKey, nwkSKey, fCntFull: 2 })).toBeNull();
    expect(decodeDownlinkFrame(f.phyPayload, { appSKey: nwkSKey, nwkSKey: appSKey, fCntFull: 0x00010002 })).toBeNull();
    const bad = f.phyPayload.slice();
    bad[10]! ^= 1;
    expect(decodeDownlinkFrame(bad, { appSKey, nwkSKey, fCntFull: 0x00010002 })).toBeNull();
  });
  it('round-trips any payload and port', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 242 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), (p, port, fCnt) => {
        const e = encodeDownlinkFrame({ devAddr: 7, fCnt, fPort: port, payload: p, appSKey, nwkSKey });
        expect(decodeDownlinkFrame(e.phyPayload, { appSKey, nwkSKey, fCntFull: fCnt })).toEqual({ devAddr: 7, fCnt, fPort: port, payload: p });
      }),
      { numRuns: 200 },
    );
  });
  it('rejects frames that are not data down', () => {
    expect(() => decodeDownlinkFrame(f.phyPayload.subarray(0, 11), { appSKey, nwkSKey, fCntFull: 0 })).toThrow(/shorter/);
    const up = f.phyPayload.slice();
    up[0] = 0x40;
    expect(() => decodeDownlinkFrame(up, { appSKey, nwkSKey, fCntFull: 0 })).toThrow(/MType 2/);
  });
});
