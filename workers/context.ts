/**
 * What a worker process needs: Redis store, the campaign queue, the ChirpStack client and the clock.
 */
import { storeKeyFromEnv } from '../src/store/secrets.js';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { pino, type Logger } from 'pino';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { ScaledClock, systemClock, type Clock } from '../src/codec/clock.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { campaignQueue, connectionFromUrl, redisUrl } from '../src/store/queue.js';

export interface WorkerContext {
  store: CampaignStore;
  queue: Queue;
  chirpstack: ChirpStackClient;
  clock: Clock;
  log: Logger;
  /** Converts a simulated delay to the wall-clock delay BullMQ waits. */
  wallDelay(simMs: number): number;
  /** Root keys fetched from ChirpStack, by devEui (cached for the life of the process). */
  rootKeys: Map<string, Uint8Array>;
  close(): Promise<void>;
}

export interface WorkerConfig {
  redisUrl: string;
  prefix: string;
  chirpstackTarget: string;
  chirpstackToken: string;
  /** TLS to ChirpStack with the system's root certificates (default plaintext). */
  chirpstackTls?: boolean;
  /** Simulated clock shared with the simulator: {startMs, speedup, wallStartMs}. */
  clock?: { startMs: number; speedup: number; wallStartMs: number } | undefined;
  logLevel?: string;
}

/** Reads the configuration from the environment (LORAFUOTA_* variables). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const clock = env.LORAFUOTA_CLOCK ? (JSON.parse(env.LORAFUOTA_CLOCK) as WorkerConfig['clock']) : undefined;
  return {
    redisUrl: env.REDIS_URL ?? redisUrl(),
    prefix: env.LORAFUOTA_PREFIX ?? 'lf',
    chirpstackTarget: env.CHIRPSTACK_API ?? '127.0.0.1:8080',
    chirpstackToken: env.CHIRPSTACK_API_TOKEN ?? '',
    chirpstackTls: env.CHIRPSTACK_TLS === '1' || env.CHIRPSTACK_TLS === 'true',
    clock,
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}

export function createContext(cfg: WorkerConfig): WorkerContext {
  storeKeyFromEnv(); // a malformed LORAFUOTA_STORE_KEY stops the worker at start, naming the variable
  const redis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
  const store = new CampaignStore(redis, cfg.prefix);
  const queue = campaignQueue(connectionFromUrl(cfg.redisUrl), cfg.prefix);
  const chirpstack = new ChirpStackClient({ target: cfg.chirpstackTarget, apiToken: cfg.chirpstackToken || 'unset', tls: cfg.chirpstackTls ?? false });
  const scaled = cfg.clock ? new ScaledClock(cfg.clock.startMs, cfg.clock.speedup, cfg.clock.wallStartMs) : undefined;
  const log = pino({ level: cfg.logLevel ?? 'info', base: { pid: process.pid } }, pino.destination(2));
  return {
    store,
    queue,
    chirpstack,
    clock: scaled ?? systemClock,
    log,
    wallDelay: (simMs) => (scaled ? scaled.wallDelay(simMs) : Math.max(0, simMs)),
    rootKeys: new Map(),
    async close() {
      chirpstack.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
