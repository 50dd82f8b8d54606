/**
 * Finds a Redis for commands that need one: REDIS_URL if set (it must answer), else the default local server,
 * else a private `redis-server` started on a free port (stopped again by `stop`). Says how to get one otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../sim/env.js';

async function answers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export interface LocalRedis {
  url: string;
  started: boolean;
  stop(): void;
}

export async function ensureRedis(log: (msg: string) => void): Promise<LocalRedis> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    if (await answers(fromEnv)) return { url: fromEnv, started: false, stop: () => undefined };
    throw new Error(`REDIS_URL: no Redis answers at ${fromEnv}`);
  }
  const def = 'redis://127.0.0.1:6379';
  if (await answers(def)) return { url: def, started: false, stop: () => undefined };
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis: none at 127.0.0.1:6379 and no redis-server installed; set REDIS_URL or install one (apt-get install redis-server)');
  }
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await answers(url)); i++) await new Promise((r) => setTimeout(r, 100));
  log(`started a private redis-server on port ${port}`);
  return { url, started: true, stop: () => child.kill('SIGTERM') };
}
