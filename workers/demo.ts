/**
 * `npm run demo -- [--devices N] [--loss P] [--seed S] [--json]`: a whole FUOTA campaign against the simulated
 * network in one command. Starts (or finds) Redis, the simulated ChirpStack and fleet, two campaign workers, signs
 * a generated image, submits the campaign, shows progress and prints the per-device report. Exit 0 only if every
 * device was updated.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { Plan } from '../src/campaign/planner.js';
import { submitCampaign } from '../src/api/submit.js';
import type { CampaignStore } from '../src/store/campaign-store.js';
import { startWorker, type RunningWorker } from './campaign-worker.js';
import { oracleFragments } from './oracle.js';
import { ensureRedis } from './redis-local.js';
import { fragmentRecord, startSimEnv, type SimEnv } from './sim-env.js';

export interface DemoOptions {
  devices: number;
  loss: number;
  seed: number;
  speedup: number;
  imageKiB: number;
  workers: number;
  mqttUrl?: string | undefined;
  progress?: (line: string) => void;
  /** Wall-clock limit (ms). */
  timeoutMs?: number;
  /** Simulated uplink interval of the devices (default 60 s). */
  uplinkIntervalMs?: number;
}

export interface DemoResult {
  campaignId: string;
  devices: number;
  updated: number;
  failed: number;
  fragmentsSent: number;
  oracleFragments: number;
  nbFrag: number;
  repairRounds: number;
  airtimeSeconds: number;
  simulatedSeconds: number;
  wallSeconds: number;
  /** Uplinks the workers took in (answers, clock sync, keep-alives of devices in no campaign excluded). */
  uplinksProcessed: number;
  /** Redis bytes (MEMORY USAGE over the campaign's keys and its queue) per device once the campaign is over. */
  redisBytesPerDevice: number;
  byStatus: Record<string, number>;
  rows: { devEui: string; stack: string; status: string; phase: string; reason: string; firmware: string }[];
}

const hex32 = (n: number | undefined) => (n === undefined ? '-' : `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${n & 0xffff}`);

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const say = o.progress ?? (() => undefined);
  const wall0 = Date.now();
  const redis = await ensureRedis(say);
  const prefix = `lfdemo-${randomUUID().slice(0, 8)}`;
  let env: SimEnv | undefined;
  const workers: RunningWorker[] = [];
  try {
    env = await startSimEnv({
      devices: o.devices,
      loss: o.loss,
      seed: o.seed,
      speedup: o.speedup,
      imageBytes: o.imageKiB * 1024,
      mqttUrl: o.mqttUrl,
      ...(o.uplinkIntervalMs ? { uplinkIntervalMs: o.uplinkIntervalMs } : {}),
    });
    for (let i = 0; i < o.workers; i++) {
      workers.push(
        await startWorker({
          redisUrl: redis.url,
          prefix,
          chirpstackTarget: env.grpcTarget,
          chirpstackToken: env.chirpstack.apiToken,
          clock: env.clock.toJSON(),
          logLevel: process.env.LOG_LEVEL ?? 'warn',
          mqttUrl: o.mqttUrl,
          applicationId: env.applicationId,
          // The simulator posts uplinks to the first worker's HTTP integration endpoint.
          httpPort: !o.mqttUrl && i === 0 ? env.httpPort : undefined,
        }),
      );
    }
    const store = workers[0]!.ctx.store;
    const { id } = await submitCampaign({ store, queue: workers[0]!.ctx.queue }, env.spec);
    const plan = JSON.parse((await store.get(id))!.data.plan!) as Plan;
    say(
      `campaign ${id}: ${o.devices} devices, image ${env.image.length} B = ${plan.nbFrag} fragments of ${plan.fragSize} B (+${plan.initialCoded} coded), ` +
        `one every ${(plan.fragmentIntervalMs / 1000).toFixed(1)} s; ETA ${Math.round(plan.etaSeconds / 60)} min simulated (${(plan.etaSeconds / o.speedup).toFixed(0)} s here)`,
    );
    await waitForEnd(store, id, say, o.timeoutMs ?? 600_000, plan);
    const c = (await store.get(id))!;
    const devs = await store.devices(id);
    const events = await store.readEvents(id, '0', 0, 100_000);
    const rep = [...events].reverse().find((e) => e.type === 'report') as Record<string, unknown> | undefined;
    const updatedEuis = [...devs].filter(([, s]) => s.s === 'Updated').map(([e]) => e);
    const record = fragmentRecord(env.network);
    const oracle = record
      ? oracleFragments({ record, image: env.image, fragSize: plan.fragSize, rule: Number(c.data.ruleVersion ?? 1) as 1 | 2, devEuis: updatedEuis }).oracle
      : 0;
    const byStatus: Record<string, number> = {};
    for (const s of devs.values()) byStatus[s.s] = (byStatus[s.s] ?? 0) + 1;
    const rows = [...devs].map(([devEui, s]) => ({
      devEui,
      stack: env!.stacks.get(devEui) ?? '?',
      status: s.s,
      phase: s.p,
      reason: s.r ?? '',
      firmware: hex32(s.fw),
    }));
    const updated = byStatus.Updated ?? 0;
    const redisBytes = await store.memoryUsage();
    await store.purgeAll();
    return {
      campaignId: id,
      devices: devs.size,
      updated,
      failed: devs.size - updated,
      fragmentsSent: Number(c.data.fragmentsSent ?? 0),
      oracleFragments: oracle,
      nbFrag: plan.nbFrag,
      repairRounds: Number(c.data.rounds ?? 0),
      airtimeSeconds: Number(c.data.airtimeMs ?? 0) / 1000,
      simulatedSeconds: Number(rep?.simulatedSeconds ?? 0),
      wallSeconds: (Date.now() - wall0) / 1000,
      uplinksProcessed: workers.reduce((a, w) => a + w.counters.processed + w.counters.clockSync, 0),
      redisBytesPerDevice: Math.round(redisBytes.total / Math.max(1, devs.size)),
      byStatus,
      rows,
    };
  } finally {
    for (const w of workers) await w.close().catch(() => undefined);
    await env?.close();
    redis.stop();
  }
}

async function waitForEnd(store: CampaignStore, id: string, say: (s: string) => void, timeoutMs: number, plan: Plan): Promise<void> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    const s = await store.summary(id);
    if (!s) throw new Error(`campaign ${id} vanished`);
    const st = s.byStatus;
    const done = (st.Updated ?? 0) + Object.entries(st).filter(([k]) => k !== 'Updated' && k !== 'Pending').reduce((a, [, v]) => a + (v ?? 0), 0);
    const line = `[${s.campaign.stage.padEnd(9)}] fragments ${String(s.campaign.data.fragmentsSent ?? 0).padStart(4)}/${plan.nbFrag}+ ` +
      `repair rounds ${s.campaign.data.rounds ?? 0}  devices: ${Object.entries(s.byPhase).map(([k, v]) => `${k} ${v}`).join(', ')}  ` +
      `updated ${st.Updated ?? 0}/${s.devices}, ended ${done}`;
    if (line !== last) say(line);
    last = line;
    if (['done', 'cancelled', 'failed'].includes(s.campaign.stage)) {
      if (s.campaign.error) say(`campaign ${s.campaign.stage}: ${s.campaign.error}`);
      return;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timeout: campaign still in stage ${s.campaign.stage} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function printReport(r: DemoResult): void {
  const out = process.stdout;
  out.write(`\n${'devEui'.padEnd(18)}${'stack'.padEnd(14)}${'status'.padEnd(18)}${'firmware'.padEnd(10)}reason\n`);
  for (const row of r.rows) {
    out.write(`${row.devEui.padEnd(18)}${row.stack.padEnd(14)}${row.status.padEnd(18)}${row.firmware.padEnd(10)}${row.reason}\n`);
  }
  out.write(
    `\n${r.updated}/${r.devices} devices updated; ${r.fragmentsSent} fragments sent for M = ${r.nbFrag} ` +
      `(oracle ${r.oracleFragments}, ratio ${(r.fragmentsSent / Math.max(1, r.oracleFragments)).toFixed(3)}), ` +
      `${r.repairRounds} repair rounds, ${r.airtimeSeconds.toFixed(1)} s multicast airtime, ` +
      `${(r.simulatedSeconds / 60).toFixed(1)} min simulated in ${r.wallSeconds.toFixed(1)} s\n`,
  );
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '100' },
      loss: { type: 'string', default: '0.1' },
      seed: { type: 'string', default: '1' },
      speedup: { type: 'string', default: '50' },
      'image-kib': { type: 'string', default: '24' },
      workers: { type: 'string', default: '2' },
      'uplink-interval': { type: 'string', default: '60' },
      mqtt: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const num = (name: string, v: string | undefined, ok: (n: number) => boolean, what: string): number => {
    const n = Number(v);
    if (!ok(n)) {
      process.stderr.write(`demo: --${name}: ${what}, got "${v}"\n`);
      process.exit(1);
    }
    return n;
  };
  const opts: DemoOptions = {
    devices: num('devices', values.devices, (n) => Number.isInteger(n) && n >= 1 && n <= 100_000, 'expected an integer 1..100000'),
    loss: num('loss', values.loss, (n) => n >= 0 && n < 1, 'expected a probability in [0, 1)'),
    seed: num('seed', values.seed, Number.isInteger, 'expected an integer'),
    speedup: num('speedup', values.speedup, (n) => n > 0, 'expected a positive number'),
    imageKiB: num('image-kib', values['image-kib'], (n) => n > 0 && n <= 2048, 'expected KiB in (0, 2048]'),
    workers: num('workers', values.workers, (n) => Number.isInteger(n) && n >= 1 && n <= 8, 'expected 1..8'),
    mqttUrl: values.mqtt,
    uplinkIntervalMs: 1000 * num('uplink-interval', values['uplink-interval'], (n) => n >= 10 && n <= 86_400, 'expected seconds in [10, 86400]'),
    progress: (l) => process.stderr.write(`${l}\n`),
  };
  try {
    const r = await runDemo(opts);
    if (!values.json) printReport(r);
    else {
      const { rows: _rows, ...summary } = r;
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    }
    process.exit(r.updated === r.devices ? 0 : 1);
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
