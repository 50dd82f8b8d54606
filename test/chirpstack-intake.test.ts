import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { UplinkIntake } from '../src/chirpstack/intake.js';
import { fuotaPortDecoder } from '../src/chirpstack/port-decoder.js';
import { startMqttIntake } from '../src/chirpstack/mqtt-intake.js';
import { startHttpIntake } from '../src/chirpstack/http-intake.js';
import { parseUplinkJson, durationJsonToMs, type NormalizedUplink } from '../src/chirpstack/uplink-event.js';
import { IntegrationOut, uplinkEventJson, uplinkEventProtobuf, unixMsToGpsMs, type SimUplinkEvent } from '../src/sim/integration-out.js';

const BROKER = 'mqtt://127.0.0.1:1883';
const T0 = Date.parse('2025-07-14T00:00:00.000Z');

function event(appId: string, i: number, over: Partial<SimUplinkEvent> = {}): SimUplinkEvent {
  return {
    applicationId: appId, applicationName: 'a', tenantId: 't', deviceProfileId: 'p', deviceProfileName: 'p', deviceName: `d${i}`,
    devEui: (0x0102030405060000n + BigInt(i)).toString(16).padStart(16, '0'), devAddr: 0x01ab23cd, dr: 5, fCnt: i, fPort: 201,
    data: Uint8Array.of(0, 3, 1, 2, 0), timeMs: T0 + i * 1000 + 120, frequencyHz: 868_100_000, sf: 7, bwHz: 125000,
    gatewayId: '0016c001f153a14c', rssi: -61, snr: 9.5, deduplicationId: randomUUID(), regionConfigId: 'eu868', ...over,
  };
}

function quietIntake() {
  const warnings: string[] = [];
  const intake = new UplinkIntake({ decode: fuotaPortDecoder(), logger: { warn: (o, m) => warnings.push(`${m} ${JSON.stringify(o)}`) } });
  return { intake, warnings };
}

describe('uplink event parsing', () => {
  it('reads a ChirpStack UplinkEvent example (docs/protocol.md §8): base64 data, lower-case devEui, GPS time from the GNSS gateway', () => {
    const u = parseUplinkJson(JSON.stringify({
      deduplicationId: '3c1f', time: '2025-07-14T00:00:00.123Z',
      deviceInfo: { applicationId: 'a1b2', devEui: '0102030405060708', deviceClassEnabled: 'CLASS_A', tags: {} },
      devAddr: '01ab23cd', fCnt: 42, fPort: 201, data: 'AQIsQQA=',
      rxInfo: [null, { gatewayId: '0016c001f153a14c', timeSinceGpsEpoch: '1436486418.120s' }],
    }));
    expect([...u.data]).toEqual([0x01, 0x02, 0x2c, 0x41, 0x00]);
    expect(u).toMatchObject({ devEui: '0102030405060708', fPort: 201, fCnt: 42, timeMs: T0 + 123, gpsTimeMs: 1436486418120, applicationId: 'a1b2' });
    expect(durationJsonToMs('1436486418s')).toBe(1436486418000);
    expect(unixMsToGpsMs(T0)).toBe(1436486418000);
  });
  it('JSON and protobuf encodings of the same event normalize identically', async () => {
    const { intake } = quietIntake();
    const ev = event('app', 3);
    const a = intake.push(Buffer.from(uplinkEventJson(ev)))!;
    const b = intake.push(uplinkEventProtobuf({ ...ev, deduplicationId: 'other' }))!;
    expect({ ...b, deduplicationId: ev.deduplicationId }).toEqual(a);
    expect(a.gpsTimeMs).toBe(unixMsToGpsMs(ev.timeMs));
    expect(a.commands).toEqual([
      { type: 'PackageVersionAns', packageIdentifier: 3, packageVersion: 1 },
      expect.objectContaining({ type: 'FragSessionSetupAns', fragIndex: 0 }),
    ]);
  });
  it('malformed events are counted and logged, duplicates dropped, partial decodes flagged, nothing throws', () => {
    const { intake, warnings } = quietIntake();
    const got: NormalizedUplink[] = [];
    intake.onUplink((u) => got.push(u));
    intake.onUplink(() => { throw new Error('listener bug'); });
    const good = event('app', 1);
    const bad = [
      Buffer.from('{"not json'),
      Buffer.from('[]'),
      Buffer.from(JSON.stringify({ ...JSON.parse(uplinkEventJson(good)), deviceInfo: { devEui: 'zz' } })),
      Buffer.from(JSON.stringify({ ...JSON.parse(uplinkEventJson(good)), time: 'yesterday' })),
      Buffer.from(JSON.stringify({ ...JSON.parse(uplinkEventJson(good)), data: 7 })),
      Buffer.from(JSON.stringify({ ...JSON.parse(uplinkEventJson(good)), joinServerContext: { sessionKeyId: 'abc' } })),
      Buffer.from([0x0a, 0xff, 0xff]),
      Buffer.alloc(0),
    ];
    for (const b of bad) expect(intake.push(b)).toBeUndefined();
    intake.push(Buffer.from(uplinkEventJson(good)));
    intake.push(Buffer.from(uplinkEventJson(good)));
    intake.push(Buffer.from(uplinkEventJson(event('app', 2, { data: Uint8Array.of(0, 3, 1, 0x77) }))));
    intake.push(Buffer.from(uplinkEventJson(event('app', 4, { fPort: 0 }))));
    intake.push(Buffer.from(uplinkEventJson(event('app', 5, { fPort: 10 }))));
    expect(intake.stats).toEqual({ received: 13, accepted: 3, duplicates: 1, malformed: 8, undecodable: 1, macOnly: 1 });
    expect(got.map((u) => u.fCnt)).toEqual([1, 2, 5]);
    expect(got[1]!.decodeError).toBe('cid: unknown 0x77 at byte 3');
    expect(got[1]!.commands).toHaveLength(1);
    expect(got[2]!.commands).toBeUndefined();
    expect(warnings.filter((w) => w.startsWith('malformed'))).toHaveLength(8);
    expect(warnings.some((w) => w.includes('deviceInfo.devEui: missing or not 16 hex digits'))).toBe(true);
    expect(warnings.some((w) => w.includes('joinServerContext'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('uplink listener threw'))).toBe(true);
  });
  it('the duplicate filter is bounded', () => {
    const intake = new UplinkIntake({ dedupCapacity: 2, logger: { warn: () => {} } });
    const evs = [1, 2, 3].map((i) => Buffer.from(uplinkEventJson(event('app', i))));
    for (const e of evs) intake.push(e);
    intake.push(evs[2]!); // still remembered
    intake.push(evs[0]!); // forgotten: accepted again
    expect(intake.stats).toMatchObject({ accepted: 4, duplicates: 1 });
  });
});

async function brokerUp(): Promise<void> {
  const c = mqtt.connect(BROKER, { connectTimeout: 2000, reconnectPeriod: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
      setTimeout(() => reject(new Error('timeout')), 2000);
    });
  } catch {
    throw new Error(`Mosquitto is not running at ${BROKER}: start it (CI starts one) to run the MQTT intake tests`);
  } finally {
    c.end(true);
  }
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const t = Date.now();
  while (!cond()) {
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('uplinks through the real broker and through HTTP', () => {
  beforeAll(brokerUp);

  it('MQTT: JSON and protobuf events from the simulator arrive once each; other applications are not heard', async () => {
    const appId = randomUUID();
    const { intake } = quietIntake();
    const sub = await startMqttIntake(intake, { url: BROKER, applicationId: appId });
    expect(sub.topic).toBe(`application/${appId}/device/+/event/up`);
    const outJson = new IntegrationOut({ mqttUrl: BROKER, encoding: 'json' });
    const outPb = new IntegrationOut({ mqttUrl: BROKER, encoding: 'protobuf' });
    await outJson.start();
    await outPb.start();
    const evs = Array.from({ length: 50 }, (_, i) => event(appId, i));
    for (const e of evs) outJson.emit(e);
    for (const e of evs.slice(0, 10)) outPb.emit(e); // same dedup ids: dropped
    for (let i = 50; i < 60; i++) outPb.emit(event(appId, i));
    outJson.emit(event(randomUUID(), 99)); // another application
    const raw = mqtt.connect(BROKER);
    await new Promise<void>((r) => raw.once('connect', () => r()));
    await raw.publishAsync(`application/${appId}/device/0102030405060708/event/up`, 'garbage');
    await outJson.flush();
    await outPb.flush();
    await until(() => intake.stats.received >= 71, 'mqtt events');
    expect(intake.stats).toMatchObject({ received: 71, accepted: 60, duplicates: 10, malformed: 1 });
    expect(outJson.stats.published).toBe(51);
    await Promise.all([sub.close(), outJson.close(), outPb.close(), raw.endAsync()]);
  });

  it('HTTP: POST ?event=up in JSON and protobuf; other events ignored; malformed bodies answered 200 and counted', async () => {
    const { intake } = quietIntake();
    const http = await startHttpIntake(intake);
    const appId = randomUUID();
    const outJson = new IntegrationOut({ httpUrls: [http.url], encoding: 'json' });
    const outPb = new IntegrationOut({ httpUrls: [http.url], encoding: 'protobuf' });
    for (let i = 0; i < 5; i++) outJson.emit(event(appId, i));
    for (let i = 5; i < 10; i++) outPb.emit(event(appId, i));
    outPb.emit(event(appId, 20, { deduplicationId: 'same' }));
    outJson.emit(event(appId, 20, { deduplicationId: 'same' }));
    await outJson.flush();
    await outPb.flush();
    expect((await fetch(`${http.url}?event=join`, { method: 'POST', body: '{}' })).status).toBe(204);
    expect((await fetch(`${http.url}?event=up`, { method: 'POST', body: 'nope' })).status).toBe(200);
    expect((await fetch(http.url)).status).toBe(405);
    expect(intake.stats).toMatchObject({ received: 13, accepted: 11, duplicates: 1, malformed: 1 });
    expect(outJson.stats.posted + outPb.stats.posted).toBe(12);
    await http.close();
  });

  it('a broker that is not there fails with a clear message', async () => {
    const { intake } = quietIntake();
    await expect(startMqttIntake(intake, { url: 'mqtt://127.0.0.1:1', connectTimeoutMs: 500 })).rejects.toThrow(/^mqtt: .*mqtt:\/\/127.0.0.1:1.*\(is the broker running\?\)$/);
  });
});
