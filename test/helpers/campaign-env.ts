/**
 * A simulated deployment plus in-process workers, for pipeline tests, on virtual time (results depend on the seed
 * only, not on the machine's speed or load). Unique Redis prefix, purged on close.
 */
import { randomUUID } from 'node:crypto';
import { startSimEnv, type SimEnv, type SimEnvOptions } from '../../src/sim/env.js';
import { startWorker, type RunningWorker } from '../../src/service/worker.js';
import { Redis } from 'ioredis';
import { CampaignStore } from '../../src/store/campaign-store.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface CampaignEnv {
  env: SimEnv;
  workers: RunningWorker[];
  store: CampaignStore;
  prefix: string;
  close(): Promise<void>;
}

export async function startCampaignEnv(o: Partial<SimEnvOptions> & { workers?: number; mqttUrl?: string } = {}): Promise<CampaignEnv> {
  const prefix = `lftest-${randomUUID().slice(0, 8)}`;
  const env = await startSimEnv({ devices: 10, loss: 0.1, seed: 7, time: { virtual: { redisUrl: REDIS_URL, prefix } }, imageBytes: 4096, ...o });
  const workers: RunningWorker[] = [];
  for (let i = 0; i < (o.workers ?? 1); i++) {
    workers.push(
      await startWorker({
        redisUrl: REDIS_URL,
        prefix,
        chirpstackTarget: env.grpcTarget,
        chirpstackToken: env.chirpstack.apiToken,
        ...(env.clock ? { clock: env.clock.toJSON() } : { virtualTime: true }),
        logLevel: 'silent',
        mqttUrl: o.mqttUrl,
        applicationId: env.applicationId,
        httpPort: !o.mqttUrl && i === 0 ? env.httpPort : undefined,
        lockDurationMs: 2000,
      }),
    );
  }
  const store = workers[0]!.ctx.store;
  return {
    env,
    workers,
    store,
    prefix,
    async close() {
      const purge = new CampaignStore(new Redis(REDIS_URL), prefix);
      await env.virtualTime?.stop();
      for (const w of workers) await w.close();
      await env.close();
      await purge.purgeAll();
      purge.redis.disconnect();
    },
  };
}

/** Polls until the campaign reaches a final stage (or `stage`), failing after `timeoutMs`. */
export async function waitForStage(store: CampaignStore, id: string, stages: string[], timeoutMs = 60_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const c = await store.get(id);
    if (c && stages.includes(c.stage)) return c.stage;
    if (c && ['done', 'failed', 'cancelled'].includes(c.stage)) return c.stage;
    if (Date.now() - t0 > timeoutMs) throw new Error(`campaign ${id} still in ${c?.stage} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
