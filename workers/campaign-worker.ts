/**
 * A campaign worker process: runs `submit` and `advance` jobs from the campaign queue and takes uplinks from the
 * ChirpStack MQTT integration (a shared subscription, so several workers split the uplinks between them) and/or
 * an HTTP integration endpoint. Any number of these may run against one Redis; a killed one is replaced by the
 * others (BullMQ re-runs its stalled step, the broker re-routes its uplinks).
 *
 *   node dist/workers/campaign-worker.js        (configuration from the environment, see configFromEnv)
 */
import { Worker, type Job } from 'bullmq';
import { UplinkIntake } from '../src/chirpstack/intake.js';
import { startMqttIntake, type MqttIntake } from '../src/chirpstack/mqtt-intake.js';
import { startHttpIntake, type HttpIntake } from '../src/chirpstack/http-intake.js';
import { submitCampaign } from '../src/api/submit.js';
import { CAMPAIGN_QUEUE, connectionFromUrl, scheduleAdvance } from '../src/store/queue.js';
import { configFromEnv, createContext, type WorkerConfig, type WorkerContext } from './context.js';
import { advance } from './pipeline/advance.js';
import { timeStep, trackUplinks } from '../src/obs/metrics.js';
import { processUplinks, type NormalizedUplink, type UplinkCounters } from './uplinks.js';

export interface WorkerOptions extends WorkerConfig {
  /** MQTT broker of the ChirpStack integration (e.g. mqtt://127.0.0.1:1883). */
  mqttUrl?: string | undefined;
  /** Only this ChirpStack application's uplinks (default: every application). */
  applicationId?: string | undefined;
  /** Listen for the HTTP integration on this port. */
  httpPort?: number | undefined;
  concurrency?: number;
  /** BullMQ lock duration: how soon a killed worker's step is taken over (ms). */
  lockDurationMs?: number;
}

export interface RunningWorker {
  ctx: WorkerContext;
  counters: UplinkCounters;
  close(): Promise<void>;
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const ctx = createContext(opts);
  const counters: UplinkCounters = { processed: 0, ignored: 0, clockSync: 0 };
  const processor = async (job: Job) => {
    if (job.name === 'submit') {
      return submitCampaign(ctx, (job.data as { spec: unknown }).spec);
    }
    if (job.name === 'advance') {
      const { campaignId, step } = job.data as { campaignId: string; step: number };
      // A step re-run after its worker died (or a duplicate of one) must not fork the campaign into two chains:
      // `lastStep` says which steps are done; a done step only makes sure its successor is scheduled.
      const key = ctx.store.keys.campaign(campaignId);
      const last = Number((await ctx.store.redis.hget(key, 'lastStep')) ?? -1);
      if (last > step) return null;
      if (last === step) {
        await scheduleAdvance(ctx.queue, campaignId, step + 1, 0);
        return null;
      }
      const delay = await timeStep(() => advance(ctx, campaignId));
      await ctx.store.redis.hset(key, 'lastStep', String(step));
      if (delay !== null) await scheduleAdvance(ctx.queue, campaignId, step + 1, ctx.wallDelay(delay));
      return delay;
    }
    throw new Error(`job: unknown name "${job.name}"`);
  };
  const lockDuration = opts.lockDurationMs ?? 10_000;
  const worker = new Worker(CAMPAIGN_QUEUE, processor, {
    connection: connectionFromUrl(opts.redisUrl),
    prefix: `${opts.prefix}:bull`,
    concurrency: opts.concurrency ?? 4,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: 100,
  });
  ctx.health?.attachBull(worker, 'worker');
  worker.on('failed', (job, err) => ctx.log.warn({ job: job?.id, err: err.message }, 'step failed (will retry)'));

  // Uplinks: batch them so each batch costs two Redis round trips.
  const intake = new UplinkIntake({ logger: { warn: (o, m) => ctx.log.warn(o, m) } });
  trackUplinks(intake.stats, counters);
  let batch: NormalizedUplink[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    const b = batch;
    batch = [];
    flushing = flushing.then(() => processUplinks(ctx, b, counters)).catch((e: unknown) => ctx.log.error({ err: (e as Error).message }, 'uplink batch'));
  };
  let timer: NodeJS.Timeout | undefined;
  intake.onUplink((u) => {
    batch.push(u);
    if (batch.length >= 500) flush();
    else timer ??= setTimeout(() => ((timer = undefined), flush()), 5);
  });
  let mqttIntake: MqttIntake | undefined;
  let httpIntake: HttpIntake | undefined;
  // A shared subscription: the broker hands each uplink to one of the workers of this deployment (prefix).
  if (opts.mqttUrl) {
    mqttIntake = await startMqttIntake(intake, {
      url: opts.mqttUrl,
      topicPrefix: `$share/lorafuota-${opts.prefix}/`,
      ...(opts.applicationId ? { applicationId: opts.applicationId } : {}),
    });
  }
  if (opts.httpPort !== undefined) httpIntake = await startHttpIntake(intake, { port: opts.httpPort });

  return {
    ctx,
    counters,
    async close() {
      await mqttIntake?.close();
      await httpIntake?.close();
      if (timer) clearTimeout(timer);
      flush();
      await flushing;
      await worker.close();
      await ctx.close();
    },
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const env = process.env;
  const w = await startWorker({
    ...configFromEnv(env),
    mqttUrl: env.MQTT_URL,
    applicationId: env.CHIRPSTACK_APPLICATION_ID,
    httpPort: env.HTTP_INTEGRATION_PORT ? Number(env.HTTP_INTEGRATION_PORT) : undefined,
    ...(env.LORAFUOTA_LOCK_MS ? { lockDurationMs: Number(env.LORAFUOTA_LOCK_MS) } : {}),
  });
  w.ctx.log.info({ queue: CAMPAIGN_QUEUE }, 'worker started');
  const stop = async () => {
    await w.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
