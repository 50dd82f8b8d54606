// `serve` and `worker` as child processes (dist/, build first): they fail fast with one clear line when Redis or
// ChirpStack cannot be reached, and a worker serves /metrics, /healthz and /readyz on --metrics-port.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CampaignStore } from '../src/store/campaign-store.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; kills it if it has not exited after `limitMs` (then `code` is null). */
function runFor(args: string[], limitMs: number, env: Record<string, string> = {}): Promise<Exit> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', LORAFUOTA_API_TOKEN: 'obs-startup-token-0123', CHIRPSTACK_API_TOKEN: 't', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('start-up readiness', () => {
  it('serve pointed at a closed Redis port exits 1 with one line, within 5 s', async () => {
    const port = await closedPort();
    const r = await runFor(['serve', '--listen', '127.0.0.1:0', '--http-port', '0', '--redis', `redis://127.0.0.1:${port}`], 5000);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`lorafuota: redis: cannot reach redis://127.0.0.1:${port} (ECONNREFUSED)\n`);
    expect(r.stdout).toBe('');
  });

  it('worker pointed at a closed Redis port exits 1 with one line, within 5 s', async () => {
    const port = await closedPort();
    const r = await runFor(['worker', '--redis', `redis://127.0.0.1:${port}`], 5000);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`lorafuota: redis: cannot reach redis://127.0.0.1:${port} (ECONNREFUSED)\n`);
  });

  it('worker pointed at a closed ChirpStack port exits 1 with one line, within 5 s', async () => {
    const port = await closedPort();
    const r = await runFor(['worker', '--redis', REDIS_URL, '--chirpstack', `127.0.0.1:${port}`], 5000);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`lorafuota: chirpstack: cannot reach 127.0.0.1:${port} (ECONNREFUSED)\n`);
  });

  it('a password in the Redis URL is not printed', async () => {
    const port = await closedPort();
    const r = await runFor(['serve', '--http-port', '0', '--redis', `redis://user:s3cret@127.0.0.1:${port}`], 5000);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).toContain(`redis: cannot reach redis://user:***@127.0.0.1:${port}`);
  });
});

describe('worker --metrics-port', () => {
  it('serves /metrics, /healthz and /readyz, and /readyz says when ChirpStack goes away', async () => {
    // A stand-in for ChirpStack's port: readiness only needs it to accept connections.
    const cs: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => cs.listen(0, '127.0.0.1', r));
    const csPort = (cs.address() as { port: number }).port;
    const metricsPort = await closedPort();
    const prefix = `t-obs-${process.pid}-${Date.now()}`;
    const child = spawn(
      process.execPath,
      [CLI, 'worker', '--chirpstack', `127.0.0.1:${csPort}`, '--redis', REDIS_URL, '--prefix', prefix, '--metrics-port', String(metricsPort)],
      { env: { PATH: process.env.PATH ?? '', CHIRPSTACK_API_TOKEN: 't' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      for (let i = 0; i < 200 && !stderr.includes('worker started'); i++) await new Promise((r) => setTimeout(r, 50));
      const started = JSON.parse(stderr.split('\n').find((l) => l.includes('worker started'))!) as Record<string, unknown>;
      expect(started).toMatchObject({ level: 30, msg: 'worker started', metrics: `127.0.0.1:${metricsPort}` });
      const base = `http://127.0.0.1:${metricsPort}`;
      expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true, checks: { redis: { ok: true }, chirpstack: { ok: true } } });
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^# TYPE lorafuota_uplinks_total counter$/m);
      expect(metrics).toMatch(/^lorafuota_uplinks_total\{outcome="duplicate"\} 0$/m);
      expect(metrics).toMatch(/^# TYPE lorafuota_step_duration_seconds histogram$/m);
      expect(metrics).toMatch(/^lorafuota_process_resident_memory_bytes \d+/m);
      await new Promise<void>((r) => cs.close(() => r()));
      const down = await fetch(`${base}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { checks: { chirpstack: { reason: string } } }).checks.chirpstack.reason).toBe('ECONNREFUSED');
      expect((await fetch(`${base}/nothing`)).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const purge = new CampaignStore(new Redis(REDIS_URL), prefix);
      await purge.purgeAll();
      purge.redis.disconnect();
    }
  }, 30_000);
});
