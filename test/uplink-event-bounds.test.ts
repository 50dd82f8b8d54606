// Integration-event parsing is bounded: every protobuf length is checked against the buffer, events have a size
// and field budget, and JSON base64 garbage is refused (counted and logged by the intake) instead of becoming
// empty data.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { integrationPb } from '../src/chirpstack/pb.js';
import { MAX_EVENT_BYTES, parseUplinkEvent, parseUplinkJson, UplinkEventError, type NormalizedUplink } from '../src/chirpstack/uplink-event.js';
import { MAX_FIELDS_PER_EVENT } from '../src/chirpstack/uplink-event-pb.js';
import { UplinkIntake } from '../src/chirpstack/intake.js';
import { uplinkEventJson, uplinkEventProtobuf, type SimUplinkEvent } from '../src/sim/integration-out.js';
import { KNOWN_BAD_EVENTS } from '../fuzz/targets.js';
import { Rng, mutate } from '../fuzz/gen.js';

const T0 = Date.parse('2025-07-14T00:00:00.000Z');
const ev = (i: number, over: Partial<SimUplinkEvent> = {}): SimUplinkEvent => ({
  applicationId: 'app', applicationName: 'a', tenantId: 't', deviceProfileId: 'p', deviceProfileName: 'p', deviceName: `d${i}`,
  devEui: (0x0102030405060000n + BigInt(i)).toString(16).padStart(16, '0'), devAddr: 0x01ab23cd, dr: 5, fCnt: i, fPort: 201,
  data: Uint8Array.of(0, 3, 1, 2, 0, i & 0xff), timeMs: T0 + i * 1000 + 120, frequencyHz: 868_100_000, sf: 7, bwHz: 125000,
  gatewayId: '0016c001f153a14c', rssi: -61, snr: 9.5, deduplicationId: randomUUID(), regionConfigId: 'eu868', ...over,
});

const refusal = (b: Uint8Array): UplinkEventError => {
  try {
    parseUplinkEvent(b);
  } catch (e) {
    if (e instanceof UplinkEventError) return e;
    throw e;
  }
  throw new Error('accepted');
};

/** What google-protobuf's generated reader makes of a well-formed event (the reference for valid input). */
function reference(bytes: Uint8Array): Partial<NormalizedUplink> {
  const e = integrationPb.UplinkEvent.deserializeBinary(bytes);
  const t = e.getTime()!;
  const d = e.getRxInfoList()[0]?.getTimeSinceGpsEpoch();
  return {
    devEui: e.getDeviceInfo()!.getDevEui(), applicationId: e.getDeviceInfo()!.getApplicationId(), fPort: e.getFPort(), fCnt: e.getFCnt(),
    data: e.getData_asU8(), timeMs: t.getSeconds() * 1000 + Math.floor(t.getNanos() / 1e6), deduplicationId: e.getDeduplicationId(),
    ...(d ? { gpsTimeMs: d.getSeconds() * 1000 + d.getNanos() / 1e6 } : {}),
  };
}

describe('protobuf events: bounded decoding', () => {
  it.each(KNOWN_BAD_EVENTS)('%s (a length past the end of the buffer) is refused with UplinkEventError', (h) => {
    const e = refusal(Uint8Array.from(Buffer.from(h, 'hex')));
    expect(e.field).toBe('event');
    expect(e.reason).toMatch(/^not a valid integration\.UplinkEvent protobuf \(.+\)$/);
  });

  it('decodes well-formed events exactly as the reference reader does', () => {
    for (let i = 0; i < 50; i++) {
      const bytes = uplinkEventProtobuf(ev(i, { fCnt: i * 7919, fPort: 1 + (i % 223) }));
      const got = parseUplinkEvent(bytes);
      expect({ ...got, data: [...got.data] }).toEqual({ ...reference(bytes), data: [...reference(bytes).data!] });
    }
  });

  it('mutated events either parse like the reference or are refused with UplinkEventError', () => {
    const rng = new Rng(99);
    const base = Array.from({ length: 8 }, (_, i) => uplinkEventProtobuf(ev(i)));
    let parsed = 0;
    for (let i = 0; i < 3000; i++) {
      const b = mutate(rng, base[i % base.length]!);
      let got: NormalizedUplink;
      try {
        got = parseUplinkEvent(b);
      } catch (e) {
        expect(e).toBeInstanceOf(UplinkEventError);
        continue;
      }
      parsed++;
      expect(got.devEui).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(parsed).toBeGreaterThan(100);
  });

  it('skips unknown fields, refuses a wrong wire type, an event over the field budget and one over the size limit', () => {
    const good = uplinkEventProtobuf(ev(1));
    const w = new BinaryWriter();
    w.tag(99, 2).bytes(Uint8Array.of(1, 2, 3)).tag(98, 0).uint64(12345n).tag(97, 5).fixed32(7);
    const extra = Uint8Array.from([...good, ...w.finish()]);
    expect(parseUplinkEvent(extra).fCnt).toBe(1);
    const wrong = Uint8Array.from([...good, 0x40, 0x01, 0x12, 0x00]); // fPort (8) as LEN? no: field 8 varint ok, then field 2 empty
    expect(parseUplinkEvent(wrong).fPort).toBe(1);
    const wt = Uint8Array.from([...good, 0x0d, 1, 2, 3, 4]); // deduplicationId (1) as fixed32
    expect(refusal(wt).reason).toMatch(/deduplicationId: wire type 5, expected 2/);
    const many = new Uint8Array((MAX_FIELDS_PER_EVENT + 1) * 2);
    for (let i = 0; i < many.length; i += 2) many[i] = 0x48; // field 9 (confirmed) varint 0
    expect(refusal(many).reason).toMatch(/more than 4096 fields/);
    expect(refusal(new Uint8Array(MAX_EVENT_BYTES + 1)).reason).toBe(`${MAX_EVENT_BYTES + 1} bytes, over the ${MAX_EVENT_BYTES}-byte limit`);
  });
});

describe('JSON events: strict base64', () => {
  const json = (data: unknown) => JSON.stringify({ ...JSON.parse(uplinkEventJson(ev(1))), data });

  it.each([
    ['!!!!', 'not base64 (a character outside the alphabet)'],
    ['AQ==x', 'not base64 (a character outside the alphabet)'],
    ['A', 'not base64 (bad length or padding)'],
    ['AQI', undefined],
    ['AQI=', undefined],
    ['AQ=', 'not base64 (bad length or padding)'],
    ['a_b-', undefined],
    ['ab+/_-', 'not base64 (a character outside the alphabet)'],
    ['', undefined],
  ])('data "%s"', (data, reason) => {
    if (reason === undefined) expect(parseUplinkJson(json(data)).data).toEqual(Uint8Array.from(Buffer.from(data, 'base64')));
    else expect(() => parseUplinkJson(json(data))).toThrow(`data: ${reason}`);
  });

  it('the intake counts and logs the refusal', () => {
    const warnings: string[] = [];
    const intake = new UplinkIntake({ logger: { warn: (o, m) => warnings.push(`${m} ${JSON.stringify(o)}`) } });
    expect(intake.push(Buffer.from(json('%%%%')))).toBeUndefined();
    expect(intake.stats.malformed).toBe(1);
    expect(warnings).toEqual([expect.stringContaining('"error":"data: not base64 (a character outside the alphabet)"')]);
  });
});
