// Campaign figures: whole campaigns through the simulator (fragments sent against the oracle), uplinks the
// workers process per second, and Redis bytes per device at rest.
//   npm run bench -- --only campaign            (100 devices at 20 % loss, 3 seeds; uplinks/s; Redis per device)
//   npm run bench -- --only campaign-10k        (10,000 devices: about 2 minutes)
// Whole campaigns run on virtual time: the figures other than wall time depend on the seed only.
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { Redis } from 'ioredis';
import type { Bench, BenchResult } from './run.js';
import { parseCampaignSpec } from '../src/campaign/schema.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { uplinkEventJson, type SimUplinkEvent } from '../src/sim/integration-out.js';
import { runDemo } from '../src/cli/demo.js';
import { startWorker } from '../src/service/worker.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const euiOf = (i: number) => (0x70b3d57ed1000000n + BigInt(i)).toString(16).padStart(16, '0');

/** A stored campaign of `n` devices in a fresh prefix (no pipeline run). */
async function storedCampaign(n: number): Promise<{ store: CampaignStore; id: string; prefix: string }> {
  const prefix = `lfbench-${randomUUID().slice(0, 8)}`;
  const store = new CampaignStore(new Redis(REDIS_URL), prefix);
  const spec = parseCampaignSpec({
    name: 'bench',
    applicationId: 'bench-app',
    imageBase64: 'AA==',
    publicKeys: ['x'],
    deviceClass: 'bench',
    devices: Array.from({ length: n }, (_, i) => ({ devEui: euiOf(i) })),
  });
  const { id } = await store.create(spec, new Uint8Array(64 * 1024));
  return { store, id, prefix };
}

async function uplinksProcessed(): Promise<BenchResult> {
  const devices = 10_000;
  const total = 50_000;
  const { store, id, prefix } = await storedCampaign(devices);
  const appId = randomUUID();
  const w = await startWorker({
    redisUrl: REDIS_URL,
    prefix,
    chirpstackTarget: '127.0.0.1:1',
    chirpstackToken: 'unused',
    logLevel: 'silent',
    mqttUrl: MQTT_URL,
    applicationId: appId,
  });
  const pub = mqtt.connect(MQTT_URL);
  await new Promise<void>((r) => pub.once('connect', () => r()));
  const bodies = Array.from({ length: total }, (_, i) => {
    const ev: SimUplinkEvent = {
      applicationId: appId, applicationName: 'bench', tenantId: 't', deviceProfileId: 'p', deviceProfileName: 'p', deviceName: `d${i}`,
      devEui: euiOf(i % devices), devAddr: 0x26000000 + (i % devices), dr: 5, fCnt: i, fPort: 201,
      // FragSessionStatusAns v1: FragIndex 0, 300 received, 5 missing.
      data: Uint8Array.of(0x01, 0x2c, 0x01, 0x05, 0x00), timeMs: Date.now(), frequencyHz: 868_100_000, sf: 7, bwHz: 125000,
      gatewayId: '0016c001f153a14c', rssi: -70, snr: 7.5, deduplicationId: randomUUID(), regionConfigId: 'eu868',
    };
    return { topic: `application/${appId}/device/${ev.devEui}/event/up`, body: Buffer.from(uplinkEventJson(ev)) };
  });
  const t0 = performance.now();
  for (const b of bodies) pub.publish(b.topic, b.body, { qos: 0 });
  let idle = 0;
  let last = -1;
  while (w.counters.processed < total && idle < 400) {
    await new Promise((r) => setTimeout(r, 5));
    idle = w.counters.processed === last ? idle + 1 : 0;
    last = w.counters.processed;
  }
  const ms = performance.now() - t0;
  const appended = (await store.readAnswers(id, '0', total + 10)).length;
  await pub.endAsync();
  await w.close();
  await store.purgeAll();
  store.redis.disconnect();
  return { medianMs: ms, uplinks: total, processed: w.counters.processed, appended, uplinksPerSecond: (w.counters.processed / ms) * 1000 };
}

async function redisPerDevice(): Promise<BenchResult> {
  // A 10,000-device campaign with every device record in its final form (as after a campaign).
  const n = 10_000;
  const { store, id } = await storedCampaign(n);
  const changed = new Map(
    Array.from({ length: n }, (_, i) => [
      euiOf(i),
      { p: 'final' as const, s: 'Updated' as const, r: 'running 0x01010000', t: Date.now(), lw: '1.0' as const, v: [0, 1, 1, 1] as [number, number, number, number], tts: [231, Date.now()] as [number, number], fs: [146, 21, 0, 146] as [number, number, number, number], pf: [140, 21, 130] as [number, number, number], fw: 0x01010000, cl: 3 },
    ]),
  );
  await store.commit(id, changed, []);
  await store.setStage(id, 'done');
  await store.release(id);
  const { total } = await store.memoryUsage();
  await store.purgeAll();
  store.redis.disconnect();
  return { medianMs: 0, devices: n, bytesPerDevice: Math.round(total / n) };
}

function summary(r: Awaited<ReturnType<typeof runDemo>>): Record<string, number> {
  return {
    devices: r.devices,
    updated: r.updated,
    fragmentsSent: r.fragmentsSent,
    oracleFragments: r.oracleFragments,
    ratio: +(r.fragmentsSent / Math.max(1, r.oracleFragments)).toFixed(3),
    repairRounds: r.repairRounds,
    simulatedSeconds: r.simulatedSeconds,
    wallSeconds: r.wallSeconds,
    uplinksProcessed: r.uplinksProcessed,
    redisBytesPerDevice: r.redisBytesPerDevice,
  };
}

export const benches: Bench[] = [
  ...[1, 2, 3].map((seed) => ({
    name: `campaign-100dev-20pct-seed${seed}`,
    async run() {
      const r = await runDemo({ devices: 100, loss: 0.2, seed, imageKiB: 24, workers: 2 });
      return { medianMs: r.wallSeconds * 1000, ...summary(r) };
    },
  })),
  { name: 'campaign-uplinks-processed', run: uplinksProcessed },
  { name: 'campaign-redis-per-device', run: redisPerDevice },
  {
    name: 'campaign-10k',
    async run() {
      if (!process.argv.includes('campaign-10k')) return { medianMs: NaN, skipped: 'about 2 minutes: run with --only campaign-10k' };
      const r = await runDemo({ devices: 10_000, loss: 0.1, seed: 1, imageKiB: 24, workers: 2, mqttUrl: MQTT_URL, uplinkIntervalMs: 300_000, timeoutMs: 1_800_000 });
      return { medianMs: r.wallSeconds * 1000, ...summary(r) };
    },
  },
];
