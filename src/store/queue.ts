/**
 * The BullMQ queue that carries campaigns through the pipeline. Any producer may add a `submit` job whose data is a
 * campaign spec (see src/campaign/schema.ts); the workers validate it, store it and run it. Internally the pipeline
 * advances each campaign with `advance` jobs (one outstanding per campaign).
 */
import { Queue } from 'bullmq';
import type { ConnectionOptions } from 'bullmq';

export const CAMPAIGN_QUEUE = 'lorafuota-campaigns';

export type CampaignJob =
  | { name: 'submit'; data: { spec: unknown } }
  | { name: 'advance'; data: { campaignId: string; step: number; due?: number } };

/**
 * Virtual time (simulations only): a job due at a virtual instant is added with this delay, so that it never
 * becomes due by wall clock; the simulation's time keeper promotes it when virtual time reaches `data.due`.
 */
export const VIRTUAL_DELAY_MS = 365 * 24 * 3600 * 1000;

/** Redis keys of virtual time, under the deployment prefix. */
export function virtualTimeKeys(prefix: string): { clock: string; handled: string; wake: string } {
  return {
    /** STRING: the current virtual time (ms since the epoch), written only by the time keeper. */
    clock: `${prefix}:vt:clock`,
    /** STRING counter: integration events the workers have fully handled (processed or dropped). */
    handled: `${prefix}:vt:handled`,
    /** Pub/sub channel: a worker finished something (a job, a batch of uplinks). */
    wake: `${prefix}:vt:wake`,
  };
}

export function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** BullMQ connection options from a redis:// URL. */
export function connectionFromUrl(url: string = redisUrl()): ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: null,
  };
}

/** The campaign queue; `prefix` keeps BullMQ's keys under the same prefix as the store. */
export function campaignQueue(connection: ConnectionOptions, prefix = 'lf'): Queue {
  // BullMQ's own event stream is not needed (campaign events have their own stream): keep it short.
  return new Queue(CAMPAIGN_QUEUE, { connection, prefix: `${prefix}:bull`, streams: { events: { maxLen: 100 } } });
}

/**
 * Schedules the next `advance` step of a campaign after `delayMs` (wall clock), or, under virtual time, at the
 * virtual instant `dueMs`. The job id makes duplicates collapse.
 */
export async function scheduleAdvance(queue: Queue, campaignId: string, step: number, delayMs = 0, dueMs?: number): Promise<void> {
  const virtual = dueMs !== undefined;
  await queue.add(
    'advance',
    virtual ? { campaignId, step, due: dueMs } : { campaignId, step },
    {
      // A step re-run after a crash schedules the same next id, so the campaign never forks into two chains.
      jobId: `adv-${campaignId}-${step}`,
      delay: virtual ? VIRTUAL_DELAY_MS : Math.max(0, Math.round(delayMs)),
      attempts: 20,
      backoff: { type: 'exponential', delay: 200 },
      // Stale re-runs are recognised by the campaign's lastStep (workers/campaign-worker.ts), so few are kept.
      removeOnComplete: { count: 20 },
      removeOnFail: { age: 24 * 3600 },
    },
  );
}
