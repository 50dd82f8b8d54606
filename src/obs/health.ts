/**
 * Readiness probes: can this process reach Redis, and (workers) ChirpStack? Used by /readyz and by `serve` and
 * `worker` at start-up to fail fast with one clear line instead of retrying forever.
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';

export interface ProbeResult {
  ok: boolean;
  /** Why not, when not ok (e.g. "ECONNREFUSED", "timeout after 2000 ms"). */
  reason?: string;
}

/** The URL without its password (for messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function reasonOf(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err.code === 'string' && err.code) return err.code;
  return typeof err.message === 'string' ? err.message : String(e);
}

/** One connection attempt and a PING, no retries, bounded by `timeoutMs`. */
export async function probeRedis(url: string, timeoutMs = 2000): Promise<ProbeResult> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let lastError: unknown;
  r.on('error', (e: unknown) => (lastError = e));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await r.connect();
        await r.ping();
      })(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: reasonOf(lastError ?? e) };
  } finally {
    clearTimeout(timer);
    r.disconnect();
  }
}

/** A TCP connection to HOST:PORT (e.g. ChirpStack's gRPC API), closed at once. */
export function probeTcp(target: string, timeoutMs = 2000): Promise<ProbeResult> {
  const i = target.lastIndexOf(':');
  const host = (i > 0 ? target.slice(0, i) : target).replace(/^\[|\]$/g, '');
  const port = i > 0 ? Number(target.slice(i + 1)) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.resolve({ ok: false, reason: `not HOST:PORT: "${target}"` });
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, reason: `timeout after ${timeoutMs} ms` }), timeoutMs);
    s.once('connect', () => done({ ok: true }));
    s.once('error', (e) => done({ ok: false, reason: reasonOf(e) }));
  });
}

export interface Check {
  name: string;
  probe(): Promise<ProbeResult>;
  /** What was probed, for messages (no secrets). */
  target: string;
}

export function redisCheck(url: string, timeoutMs = 2000): Check {
  return { name: 'redis', target: redactUrl(url), probe: () => probeRedis(url, timeoutMs) };
}

export function chirpstackCheck(target: string, timeoutMs = 2000): Check {
  return { name: 'chirpstack', target, probe: () => probeTcp(target, timeoutMs) };
}

/** Runs the checks; the first failure becomes `<name>: cannot reach <target> (<reason>)`. */
export async function checkReady(checks: Check[]): Promise<{ ok: boolean; results: Record<string, ProbeResult>; message?: string }> {
  const results: Record<string, ProbeResult> = {};
  let message: string | undefined;
  for (const c of checks) {
    const r = await c.probe();
    results[c.name] = r;
    if (!r.ok && !message) message = `${c.name}: cannot reach ${c.target} (${r.reason ?? 'unknown'})`;
  }
  return { ok: message === undefined, results, ...(message ? { message } : {}) };
}

/** Throws `<name>: cannot reach <target> (<reason>)` when a check fails (start-up). */
export async function requireReady(checks: Check[]): Promise<void> {
  const r = await checkReady(checks);
  if (!r.ok) throw new Error(r.message);
}
