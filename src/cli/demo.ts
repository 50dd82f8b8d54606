/**
 * `npm run demo -- [options]` (`--help` lists them): a whole FUOTA campaign against the simulated network in one
 * command. Starts (or finds) Redis, the simulated ChirpStack and fleet, campaign workers, signs a generated image,
 * submits the campaign, shows progress and prints the per-device report. Exit 0 only if every device was updated.
 *
 * The simulator and the workers run on virtual time (src/sim/virtual-time.ts), so a seed gives the same result
 * on any machine, at any load; `--speedup X` runs them on wall time scaled X times instead, to watch a campaign
 * live. A hard wall-clock limit, Ctrl-C and SIGTERM end the demo at once, purging its Redis keys first.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Plan } from '../campaign/planner.js';
import { submitCampaign } from '../service/submit.js';
import { CampaignStore } from '../store/campaign-store.js';
import { startWorker, type RunningWorker } from '../service/worker.js';
import { oracleFragments } from '../sim/oracle.js';
import { ensureRedis } from './redis-local.js';
import { fragmentRecord, startSimEnv, type SimEnv } from '../sim/env.js';

export interface DemoOptions {
  devices: number;
  loss: number;
  seed: number;
  /** Run on wall time scaled this many times instead of virtual time (for watching a campaign live). */
  speedup?: number | undefined;
  imageKiB: number;
  workers: number;
  mqttUrl?: string | undefined;
  progress?: (line: string) => void;
  /** Wall-clock limit for the campaign (ms). */
  timeoutMs?: number;
  /** Simulated uplink interval of the devices (default 60 s). */
  uplinkIntervalMs?: number;
  /** Told the Redis URL and key prefix as soon as they are chosen, and how to stop everything that could still
   *  write under the prefix (bounded in time), for clean-up from outside (signals, the hard limit). */
  onStart?: (info: { redisUrl: string; prefix: string; halt: () => Promise<void> }) => void;
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
  let purged = false;
  o.onStart?.({
    redisUrl: redis.url,
    prefix,
    halt: async () => {
      await bounded(env?.virtualTime?.stop(), 3000);
      await Promise.all(workers.map((w) => bounded(w.close(true), 3000)));
      redis.stop();
    },
  });
  try {
    env = await startSimEnv({
      devices: o.devices,
      loss: o.loss,
      seed: o.seed,
      time: o.speedup ? { speedup: o.speedup } : { virtual: { redisUrl: redis.url, prefix } },
      imageBytes: o.imageKiB * 1024,
      mqttUrl: o.mqttUrl,
      ...(o.uplinkIntervalMs ? { uplinkIntervalMs: o.uplinkIntervalMs } : {}),
      log: say,
    });
    for (let i = 0; i < o.workers; i++) {
      workers.push(
        await startWorker({
          redisUrl: redis.url,
          prefix,
          chirpstackTarget: env.grpcTarget,
          chirpstackToken: env.chirpstack.apiToken,
          ...(env.clock ? { clock: env.clock.toJSON() } : { virtualTime: true }),
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
        `one every ${(plan.fragmentIntervalMs / 1000).toFixed(1)} s; ETA ${Math.round(plan.etaSeconds / 60)} min simulated` +
        (o.speedup ? ` (${(plan.etaSeconds / o.speedup).toFixed(0)} s here)` : ' (virtual time)'),
    );
    await waitForEnd(store, id, say, o.timeoutMs ?? 600_000, plan, env);
    if (env.virtualTime) {
      const v = env.virtualTime.stats;
      say(`virtual time: ${v.windows} windows, ${v.rounds} uplink rounds (${v.emitted} uplinks), ${v.promoted} steps due, ${v.lost} uplinks lost to stalls; ` +
        `wall s: jobs ${(env.virtualTime.wallMs.jobs / 1000).toFixed(1)}, uplinks ${(env.virtualTime.wallMs.uplinks / 1000).toFixed(1)}, network ${(env.virtualTime.wallMs.network / 1000).toFixed(1)}`);
    }
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
    purged = true;
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
    // Stop the clock first, then the workers (bounded: a stuck job must not hold the demo), then purge.
    await bounded(env?.virtualTime?.stop(), 5000);
    await Promise.all(workers.map((w) => bounded(w.close(purged ? false : true), 5000)));
    await bounded(env?.close(), 5000);
    if (!purged) await purgePrefix(redis.url, prefix);
    redis.stop();
  }
}

/** Waits for `p` at most `ms`; errors are swallowed (clean-up). */
async function bounded(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}

/** Deletes every key under `prefix` (bounded in time). */
export async function purgePrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
  r.on('error', () => undefined);
  try {
    await bounded(
      (async () => {
        await r.connect();
        await new CampaignStore(r, prefix).purgeAll();
      })(),
      5000,
    );
  } finally {
    r.disconnect();
  }
}

async function waitForEnd(store: CampaignStore, id: string, say: (s: string) => void, timeoutMs: number, plan: Plan, env: SimEnv): Promise<void> {
  const t0 = Date.now();
  const simT0 = env.virtualTime?.now ?? env.clock?.now() ?? Date.now();
  let last = '';
  for (;;) {
    if (env.virtualTime?.error) throw new Error(`virtual time: ${env.virtualTime.error.message}`);
    const s = await store.summary(id);
    if (!s) throw new Error(`campaign ${id} vanished`);
    const st = s.byStatus;
    const done = (st.Updated ?? 0) + Object.entries(st).filter(([k]) => k !== 'Updated' && k !== 'Pending').reduce((a, [, v]) => a + (v ?? 0), 0);
    const line = `[${s.campaign.stage.padEnd(9)}] fragments ${String(s.campaign.data.fragmentsSent ?? 0).padStart(4)}/${plan.nbFrag}+ ` +
      `repair rounds ${s.campaign.data.rounds ?? 0}  devices: ${Object.entries(s.byPhase).map(([k, v]) => `${k} ${v}`).join(', ')}  ` +
      `updated ${st.Updated ?? 0}/${s.devices}, ended ${done}`;
    if (line !== last) {
      const simS = Math.max(0, Math.round(((env.virtualTime?.now ?? env.clock?.now() ?? Date.now()) - simT0) / 1000));
      say(`${formatClock(simS)} ${line}`);
    }
    last = line;
    if (['done', 'cancelled', 'failed'].includes(s.campaign.stage)) {
      if (s.campaign.error) say(`campaign ${s.campaign.stage}: ${s.campaign.error}`);
      return;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`time limit: campaign still in stage ${s.campaign.stage} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Simulated time since the start as h:mm:ss. */
function formatClock(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
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

const USAGE = `usage: npm run demo -- [options]

  --devices N            fleet size, 1..100000 (default 100)
  --loss P               downlink loss probability of a typical device, [0, 1) (default 0.1)
  --seed S               seed of the fleet, radio and image (default 1); the same seed gives the same result
  --image-kib K          firmware payload in KiB, (0, 2048] (default 24)
  --workers W            campaign workers started in the process, 1..8 (default 2)
  --uplink-interval S    simulated seconds between a device's periodic uplinks, 10..86400 (default 60)
  --mqtt URL             carry uplinks through this MQTT broker instead of the HTTP integration
  --speedup X            run on wall time scaled X times instead of virtual time (to watch a campaign live)
  --time-limit S         hard wall-clock limit in seconds (default 600); the demo then exits, purging its keys
  --json                 print only the JSON summary on stdout
  --help                 this text
`;

const OPTIONS = {
  devices: { type: 'string', default: '100' },
  loss: { type: 'string', default: '0.1' },
  seed: { type: 'string', default: '1' },
  speedup: { type: 'string' },
  'image-kib': { type: 'string', default: '24' },
  workers: { type: 'string', default: '2' },
  'uplink-interval': { type: 'string', default: '60' },
  'time-limit': { type: 'string', default: '600' },
  mqtt: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

function usageError(msg: string): never {
  process.stderr.write(`demo: ${msg}\n(npm run demo -- --help for the options)\n`);
  process.exit(2);
}

function parseCommandLine(argv: string[]): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'] {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    const err = e as Error & { code?: string };
    const opt = /'([^']*)'/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') usageError(`unknown option ${opt ?? err.message}`);
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') usageError(`unexpected argument ${opt ?? err.message}`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') usageError(opt ? `option ${opt.split(' ')[0]} needs a value` : err.message);
    usageError(err.message);
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const values = parseCommandLine(process.argv.slice(2));
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (name: string, v: string | undefined, ok: (n: number) => boolean, what: string): number => {
    const n = Number(v);
    if (v === undefined || v.trim() === '' || !ok(n)) usageError(`--${name}: ${what}, got "${v}"`);
    return n;
  };
  const limitS = num('time-limit', values['time-limit'], (n) => n > 0 && n <= 86_400, 'expected seconds in (0, 86400]');
  const opts: DemoOptions = {
    devices: num('devices', values.devices, (n) => Number.isInteger(n) && n >= 1 && n <= 100_000, 'expected an integer 1..100000'),
    loss: num('loss', values.loss, (n) => n >= 0 && n < 1, 'expected a probability in [0, 1)'),
    seed: num('seed', values.seed, Number.isInteger, 'expected an integer'),
    speedup: values.speedup === undefined ? undefined : num('speedup', values.speedup, (n) => n > 0, 'expected a positive number'),
    imageKiB: num('image-kib', values['image-kib'], (n) => n > 0 && n <= 2048, 'expected KiB in (0, 2048]'),
    workers: num('workers', values.workers, (n) => Number.isInteger(n) && n >= 1 && n <= 8, 'expected 1..8'),
    mqttUrl: values.mqtt,
    uplinkIntervalMs: 1000 * num('uplink-interval', values['uplink-interval'], (n) => n >= 10 && n <= 86_400, 'expected seconds in [10, 86400]'),
    progress: (l) => process.stderr.write(`${l}\n`),
    timeoutMs: limitS * 1000,
  };
  // Ctrl-C, SIGTERM and the hard limit end the demo without waiting for anything that may be stuck: purge the
  // demo's keys (bounded), then exit.
  let started: { redisUrl: string; prefix: string; halt: () => Promise<void> } | undefined;
  opts.onStart = (info) => (started = info);
  let ending = false;
  const end = async (reason: string, code: number) => {
    if (ending) return;
    ending = true;
    // Connections closed under running jobs report errors; nothing of that matters any more.
    process.on('uncaughtException', () => undefined);
    process.on('unhandledRejection', () => undefined);
    process.stderr.write(`demo: ${reason}\n`);
    if (started) {
      await started.halt();
      await purgePrefix(started.redisUrl, started.prefix);
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void end('interrupted (SIGINT); keys purged', 130));
  process.on('SIGTERM', () => void end('terminated (SIGTERM); keys purged', 143));
  // A little later than the campaign's own limit, which ends the run cleanly when nothing is stuck.
  setTimeout(() => void end(`time limit: ${limitS} s of wall time exceeded; keys purged`, 1), limitS * 1000 + 15_000).unref();
  try {
    const r = await runDemo(opts);
    if (!values.json) printReport(r);
    else {
      const { rows: _rows, ...summary } = r;
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    }
    process.exit(r.updated === r.devices ? 0 : 1);
  } catch (e) {
    await end((e as Error).message, 1);
  }
}
