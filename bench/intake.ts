// Uplink intake throughput: ChirpStack-style JSON uplink events published to the real Mosquitto at 127.0.0.1:1883,
// received by the MQTT intake (parse, dedup, FUOTA-port decode). Also the same work in-process without the broker.
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { Bench } from './run.js';
import { UplinkIntake } from '../src/chirpstack/intake.js';
import { fuotaPortDecoder } from '../src/chirpstack/port-decoder.js';
import { startMqttIntake } from '../src/chirpstack/mqtt-intake.js';
import { uplinkEventJson, type SimUplinkEvent } from '../src/sim/integration-out.js';
import { median } from './timing.js';

const BROKER = process.env.LORAFUOTA_BENCH_MQTT ?? 'mqtt://127.0.0.1:1883';
const N = 20_000;
const RUNS = 3;

function events(appId: string, n: number): { topic: string; body: Buffer }[] {
  return Array.from({ length: n }, (_, i) => {
    const ev: SimUplinkEvent = {
      applicationId: appId, applicationName: 'bench', tenantId: 't', deviceProfileId: 'p', deviceProfileName: 'p', deviceName: `d${i}`,
      devEui: (0x70b3d57ed0000000n + BigInt(i % 10_000)).toString(16), devAddr: 0x26000000 + i, dr: 5, fCnt: i, fPort: 201,
      data: Uint8Array.of(0x01, 0x02, 0x2c, 0x41, 0x00), timeMs: Date.UTC(2025, 6, 14) + i, frequencyHz: 868_100_000, sf: 7, bwHz: 125000,
      gatewayId: '0016c001f153a14c', rssi: -70, snr: 7.5, deduplicationId: randomUUID(), regionConfigId: 'eu868',
    };
    return { topic: `application/${appId}/device/${ev.devEui}/event/up`, body: Buffer.from(uplinkEventJson(ev)) };
  });
}

const quiet = { warn: () => {} };

async function throughMosquitto(): Promise<{ ms: number; delivered: number }> {
  const appId = randomUUID();
  const evs = events(appId, N);
  const intake = new UplinkIntake({ decode: fuotaPortDecoder(), logger: quiet });
  const sub = await startMqttIntake(intake, { url: BROKER, applicationId: appId });
  const pub = mqtt.connect(BROKER);
  await new Promise<void>((r) => pub.once('connect', () => r()));
  const t0 = performance.now();
  for (const e of evs) pub.publish(e.topic, e.body, { qos: 0 });
  let last = -1;
  let idle = 0;
  while (intake.stats.accepted < N && idle < 200) {
    await new Promise((r) => setTimeout(r, 5));
    idle = intake.stats.received === last ? idle + 1 : 0;
    last = intake.stats.received;
  }
  const ms = performance.now() - t0;
  await Promise.all([sub.close(), pub.endAsync()]);
  return { ms, delivered: intake.stats.accepted };
}

export const benches: Bench[] = [
  {
    name: 'intake.mqtt-json',
    async run() {
      const runs: { ms: number; delivered: number }[] = [];
      try {
        for (let i = 0; i < RUNS; i++) runs.push(await throughMosquitto());
      } catch (err) {
        // No broker: report it instead of aborting the other benches.
        return { medianMs: NaN, skipped: err instanceof Error ? err.message : String(err) };
      }
      const ms = median(runs.map((r) => r.ms));
      return { medianMs: ms, uplinks: N, uplinksPerSec: Math.round((N / ms) * 1000), delivered: Math.min(...runs.map((r) => r.delivered)), memoryBytes: process.memoryUsage().heapUsed };
    },
  },
  {
    name: 'intake.in-process-json',
    run() {
      const evs = events(randomUUID(), N);
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const intake = new UplinkIntake({ decode: fuotaPortDecoder(), logger: quiet });
        const t0 = performance.now();
        for (const e of evs) intake.push(e.body);
        times.push(performance.now() - t0);
      }
      const ms = median(times);
      return { medianMs: ms, uplinks: N, uplinksPerSec: Math.round((N / ms) * 1000) };
    },
  },
];
