/**
 * What a worker process needs: Redis store, the campaign queue, the ChirpStack client and the clock.
 *
 * Time: wall time in production. In a simulation, either virtual time (the simulation's time keeper holds the
 * clock in Redis; each job runs at the instant it reads there, see src/sim/virtual-time.ts) or a clock scaled from
 * wall time (for watching a campaign live).
 */
import { storeKeyFromEnv } from '../store/secrets.js';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { pino, type Logger } from 'pino';
import { ChirpStackClient } from '../chirpstack/client.js';
import { ScaledClock, systemClock, type Clock } from '../codec/clock.js';
import { CampaignStore } from '../store/campaign-store.js';
import { campaignQueue, connectionFromUrl, redisUrl } from '../store/queue.js';
import { RedisHealth } from '../store/redis-health.js';
import { parseChirpStackVersion, type ChirpStackApiVersion } from '../chirpstack/version.js';

export interface WorkerContext {
  store: CampaignStore;
  queue: Queue;
  chirpstack: ChirpStackClient;
  clock: Clock;
  log: Logger;
  /** 'real' (production), 'scaled' (a simulation's scaled clock) or 'virtual' (a simulation's virtual time). */
  timeMode?: 'real' | 'scaled' | 'virtual';
  /** Converts a simulated delay to the wall-clock delay BullMQ waits (real and scaled time). */
  wallDelay(simMs: number): number;
  /** Root keys fetched from ChirpStack, by devEui (cached for the life of the process). */
  rootKeys: Map<string, Uint8Array>;
  /** Redis outage/recovery logging: attach every further connection the worker opens. */
  health?: RedisHealth;
  close(): Promise<void>;
}

export interface WorkerConfig {
  redisUrl: string;
  prefix: string;
  chirpstackTarget: string;
  chirpstackToken: string;
  /** TLS to ChirpStack with the system's root certificates (default plaintext). */
  chirpstackTls?: boolean;
  /** ChirpStack version spoken (CHIRPSTACK_VERSION; default 4.19): 4.12 writes MulticastGroup field 14 as nb_k. */
  chirpstackVersion?: ChirpStackApiVersion | undefined;
  /** Simulated clock shared with the simulator: {startMs, speedup, wallStartMs}. */
  clock?: { startMs: number; speedup: number; wallStartMs: number } | undefined;
  /** Follow the virtual time a simulation keeps in Redis under `prefix` (simulations only). */
  virtualTime?: boolean;
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
    ...(env.CHIRPSTACK_VERSION ? { chirpstackVersion: parseChirpStackVersion(env.CHIRPSTACK_VERSION, 'CHIRPSTACK_VERSION') } : {}),
    clock,
    virtualTime: env.LORAFUOTA_VIRTUAL_TIME === '1' || env.LORAFUOTA_VIRTUAL_TIME === 'true',
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}

export function createContext(cfg: WorkerConfig): WorkerContext {
  if (cfg.virtualTime && cfg.clock) throw new Error('clock: a worker follows either virtual time or a scaled clock, not both');
  storeKeyFromEnv(); // a malformed LORAFUOTA_STORE_KEY stops the worker at start, naming the variable
  const log = pino({ level: cfg.logLevel ?? 'info', base: { pid: process.pid } }, pino.destination(2));
  const health = new RedisHealth(log);
  const redis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
  health.attach(redis, 'store');
  const store = new CampaignStore(redis, cfg.prefix);
  const queue = health.attachBull(campaignQueue(connectionFromUrl(cfg.redisUrl), cfg.prefix), 'queue');
  const chirpstack = new ChirpStackClient({ target: cfg.chirpstackTarget, apiToken: cfg.chirpstackToken || 'unset', tls: cfg.chirpstackTls ?? false, logger: log, ...(cfg.chirpstackVersion ? { chirpstackVersion: cfg.chirpstackVersion } : {}) });
  const scaled = cfg.clock ? new ScaledClock(cfg.clock.startMs, cfg.clock.speedup, cfg.clock.wallStartMs) : undefined;
  return {
    store,
    queue,
    chirpstack,
    clock: scaled ?? systemClock,
    log,
    timeMode: cfg.virtualTime ? 'virtual' : scaled ? 'scaled' : 'real',
    wallDelay: (simMs) => (scaled ? scaled.wallDelay(simMs) : Math.max(0, simMs)),
    rootKeys: new Map(),
    health,
    async close() {
      chirpstack.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
