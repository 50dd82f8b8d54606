/**
 * A campaign worker process: runs `submit` and `advance` jobs from the campaign queue and takes uplinks from the
 * ChirpStack MQTT integration (a shared subscription, so several workers split the uplinks between them) and/or
 * an HTTP integration endpoint. Any number of these may run against one Redis; a killed one is replaced by the
 * others (BullMQ re-runs its stalled step, the broker re-routes its uplinks).
 *
 * Started by `lorafuota worker`, by the process entry point workers/campaign-worker.ts, or in-process (demo, tests).
 */
import { Worker, type Job } from 'bullmq';
import { UplinkIntake } from '../chirpstack/intake.js';
import { startMqttIntake, type MqttIntake } from '../chirpstack/mqtt-intake.js';
import { startHttpIntake, type HttpIntake } from '../chirpstack/http-intake.js';
import { submitCampaign } from './submit.js';
import { CAMPAIGN_QUEUE, connectionFromUrl, scheduleAdvance, virtualTimeKeys } from '../store/queue.js';
import { createContext, type WorkerConfig, type WorkerContext } from './context.js';
import { advance } from './pipeline/advance.js';
import { timeStep, trackUplinks } from '../obs/metrics.js';
import { processUplinks, type NormalizedUplink, type UplinkCounters } from './uplinks.js';

/** Adds to the handled-uplinks counter and publishes its new value (one round trip). */
const COUNT_AND_SIGNAL = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]); redis.call('PUBLISH', KEYS[2], v); return v";

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
  /** Stops taking uplinks and jobs; waits for the jobs in progress unless `force` (BullMQ re-runs those). */
  close(force?: boolean): Promise<void>;
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const ctx = createContext(opts);
  const counters: UplinkCounters = { processed: 0, ignored: 0, clockSync: 0 };
  const vt = ctx.timeMode === 'virtual' ? virtualTimeKeys(opts.prefix) : undefined;
  /** Under virtual time: the clock for one job, read once at its start (every job active at once runs at one instant). */
  const jobContext = async (): Promise<WorkerContext> => {
    if (!vt) return ctx;
    const v = await ctx.store.redis.get(vt.clock);
    if (v === null) throw new Error(`virtual time: no clock at ${vt.clock} (is the simulation running with this prefix?)`);
    const now = Number(v);
    return { ...ctx, clock: { now: () => now } };
  };
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
      const jctx = await jobContext();
      const delay = await timeStep(() => advance(jctx, campaignId));
      await ctx.store.redis.hset(key, 'lastStep', String(step));
      if (delay !== null) {
        if (vt && delay > 0) await scheduleAdvance(ctx.queue, campaignId, step + 1, 0, jctx.clock.now() + delay);
        else await scheduleAdvance(ctx.queue, campaignId, step + 1, vt ? 0 : ctx.wallDelay(delay));
      }
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
  worker.on('error', (err) => ctx.log.warn({ err: err.message }, 'queue connection'));

  // Under virtual time the time keeper waits for the workers: tell it when a job ends and when uplinks are handled.
  let handledUnreported = 0;
  let reportTimer: NodeJS.Immediate | undefined;
  const signal = () => void ctx.store.redis.publish(vt!.wake, '0').catch(() => undefined);
  const reportHandled = (n: number) => {
    if (!vt || n === 0) return;
    handledUnreported += n;
    reportTimer ??= setImmediate(() => {
      reportTimer = undefined;
      const k = handledUnreported;
      handledUnreported = 0;
      void ctx.store.redis
        .eval(COUNT_AND_SIGNAL, 2, vt.handled, vt.wake, k)
        .catch((e: unknown) => ctx.log.error({ err: (e as Error).message }, 'virtual time: handled count'));
    });
  };
  if (vt) {
    worker.on('completed', signal);
    worker.on('failed', signal);
  }

  // Uplinks: batch them so each batch costs two Redis round trips.
  const intake = new UplinkIntake({ logger: { warn: (o, m) => ctx.log.warn(o, m) } });
  trackUplinks(intake.stats, counters);
  let batch: NormalizedUplink[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    const b = batch;
    batch = [];
    flushing = flushing
      .then(() => processUplinks(ctx, b, counters))
      .catch((e: unknown) => ctx.log.error({ err: (e as Error).message }, 'uplink batch'))
      .then(() => reportHandled(b.length));
  };
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  intake.onUplink((u) => {
    batch.push(u);
    if (batch.length >= 500) flush();
    // Virtual time stands still while uplinks wait: no point in waiting for more.
    else if (vt) immediate ??= setImmediate(() => ((immediate = undefined), flush()));
    else timer ??= setTimeout(() => ((timer = undefined), flush()), 5);
  });
  intake.onDrop(() => reportHandled(1));
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
    async close(force = false) {
      await mqttIntake?.close();
      await httpIntake?.close();
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      flush();
      await flushing;
      if (reportTimer) clearImmediate(reportTimer);
      await worker.close(force);
      await ctx.close();
    },
  };
}
