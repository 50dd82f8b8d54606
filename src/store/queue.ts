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
  | { name: 'advance'; data: { campaignId: string; step: number } };

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

/** Schedules the next `advance` step of a campaign after `delayMs`. The job id makes duplicates collapse. */
export async function scheduleAdvance(queue: Queue, campaignId: string, step: number, delayMs = 0): Promise<void> {
  await queue.add(
    'advance',
    { campaignId, step },
    {
      // A step re-run after a crash schedules the same next id, so the campaign never forks into two chains.
      jobId: `adv-${campaignId}-${step}`,
      delay: Math.max(0, Math.round(delayMs)),
      attempts: 20,
      backoff: { type: 'exponential', delay: 200 },
      // Stale re-runs are recognised by the campaign's lastStep (workers/campaign-worker.ts), so few are kept.
      removeOnComplete: { count: 20 },
      removeOnFail: { age: 24 * 3600 },
    },
  );
}
