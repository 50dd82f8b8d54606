// Faults made visible and secrets kept out of argv: ChirpStack retries logged as structured lines, one log line per
// Redis outage and recovery (no raw ioredis output), API token length, TLS on the campaign API.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import * as grpc from '@grpc/grpc-js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { SimChirpStack } from '../src/sim/chirpstack-server.js';
import { RedisHealth } from '../src/store/redis-health.js';
import { startApiServer } from '../src/api/grpc-server.js';
import { createApiClient, type ApiCallError } from '../src/api/grpc-client.js';
import { bearerChecker } from '../src/api/auth.js';
import { readSecret, requireSecret, API_TOKEN } from '../src/cli/secrets.js';
import { redisUrl } from '../src/store/queue.js';
import { selfSignedCert } from './helpers/self-signed.js';

interface Line {
  level: 'warn' | 'info';
  obj: Record<string, unknown>;
  msg: string;
}
const recorder = () => {
  const lines: Line[] = [];
  return {
    lines,
    log: {
      warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      info: (obj: object, msg: string) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    },
  };
};

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('ChirpStack retries', () => {
  it('each retry writes one structured line with the RPC, attempt, status and delay', async () => {
    const sim = new SimChirpStack();
    sim.createApplication('a');
    const port = await sim.listen('127.0.0.1', 0);
    sim.stop();
    const { lines, log } = recorder();
    const client = new ChirpStackClient({
      target: `127.0.0.1:${port}`, apiToken: sim.apiToken, policy: { deadlineMs: 500, backoffMs: 40, retries: 6 }, logger: log,
      onRetry: (_e, n) => { if (n === 3) void sim.listen('127.0.0.1', port); },
    });
    await expect(client.getDevice('0102030405060708')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    client.close();
    sim.stop();
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.slice(0, 3).map((l) => [l.level, l.msg, l.obj.rpc, l.obj.attempt, l.obj.delayMs])).toEqual([
      ['warn', 'chirpstack call retry', 'DeviceService.Get', 2, 40],
      ['warn', 'chirpstack call retry', 'DeviceService.Get', 3, 80],
      ['warn', 'chirpstack call retry', 'DeviceService.Get', 4, 160],
    ]);
    expect(lines.every((l) => l.obj.code === 'UNAVAILABLE' || l.obj.code === 'DEADLINE_EXCEEDED')).toBe(true);
  });
});

/** A TCP relay to the real Redis that can be taken down and brought back on the same port. */
async function redisRelay(): Promise<{ port: number; up(): Promise<void>; down(): Promise<void> }> {
  const target = new URL(redisUrl());
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return {
    port,
    async up() {
      server = createServer((c) => {
        const u = connect(Number(target.port || 6379), target.hostname);
        for (const s of [c, u]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        c.pipe(u).pipe(c);
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    },
    async down() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server = undefined;
    },
  };
}

describe('Redis outage', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs one line when connections fail and one when they are all back, and nothing raw', async () => {
    const relay = await redisRelay();
    await relay.up();
    const { lines, log } = recorder();
    const health = new RedisHealth(log);
    const consoleError = vi.spyOn(console, 'error');
    const retryStrategy = () => 30;
    const a = new Redis({ port: relay.port, host: '127.0.0.1', retryStrategy, maxRetriesPerRequest: null });
    const b = a.duplicate();
    health.attach(a, 'store');
    health.attach(b, 'watch');
    const queue = health.attachBull(
      new Queue(`t-health-${randomBytes(4).toString('hex')}`, { connection: { host: '127.0.0.1', port: relay.port, retryStrategy, maxRetriesPerRequest: null } }),
      'queue',
    );
    await Promise.all([a.ping(), b.ping(), queue.waitUntilReady()]);
    expect(lines).toEqual([]);

    await relay.down();
    await until(() => health.isDown);
    await new Promise((r) => setTimeout(r, 400)); // many reconnection attempts fail meanwhile
    expect(lines.map((l) => l.msg)).toEqual(['redis unreachable']);
    expect(lines[0]!.obj).toMatchObject({ redis: 'down' });

    await relay.up();
    await until(() => !health.isDown);
    expect(lines.map((l) => l.msg)).toEqual(['redis unreachable', 'redis reachable again']);
    const up = lines[1]!.obj as { roles: string[]; errors: number; downMs: number };
    expect(up.roles).toEqual(expect.arrayContaining(['store', 'watch']));
    expect(up.errors).toBeGreaterThan(3);
    expect(await a.ping()).toBe('PONG');
    expect(consoleError.mock.calls.filter((c) => String(c[0]).includes('[ioredis]'))).toEqual([]);
    await queue.close();
    a.disconnect();
    b.disconnect();
    await relay.down();
  });
});

describe('API token and TLS', () => {
  it('refuses tokens shorter than 16 characters', () => {
    expect(() => bearerChecker('x')).toThrow('api-token: 1 characters, at least 16 required');
    expect(() => bearerChecker('')).toThrow(/^api-token: must not be empty/);
    expect(() => bearerChecker('0123456789abcdef')).not.toThrow();
  });

  it('reads a token from its file (first line) before the environment, and names both when neither is set', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'lf-secret-'));
    try {
      writeFileSync(join(dir, 't'), 'from-file-0123456789\nignored\n');
      expect(readSecret(API_TOKEN, join(dir, 't'), { LORAFUOTA_API_TOKEN: 'env' })).toBe('from-file-0123456789');
      expect(readSecret(API_TOKEN, undefined, { LORAFUOTA_API_TOKEN: 'env' })).toBe('env');
      expect(() => requireSecret(API_TOKEN, undefined, {})).toThrow('api-token: required (--api-token-file FILE or LORAFUOTA_API_TOKEN)');
      expect(() => readSecret(API_TOKEN, join(dir, 'none'), {})).toThrow(/^api-token: cannot read --api-token-file .* \(ENOENT\)$/);
      writeFileSync(join(dir, 'e'), '\n');
      expect(() => readSecret(API_TOKEN, join(dir, 'e'), {})).toThrow(/is empty$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves the API over TLS: a client trusting the certificate works, plaintext and untrusted clients fail', async () => {
    const { certPem, keyPem } = selfSignedCert();
    const token = randomBytes(16).toString('hex');
    const prefix = `t-tls-${randomBytes(4).toString('hex')}`;
    const { log } = recorder();
    const server = await startApiServer({
      redisUrl: redisUrl(), prefix, token, address: '127.0.0.1:0', log,
      tls: { certChain: Buffer.from(certPem), privateKey: Buffer.from(keyPem) },
    });
    const address = `127.0.0.1:${server.port}`;
    const ok = createApiClient({ address, token, tls: { rootCerts: Buffer.from(certPem) }, timeoutMs: 5000 });
    const plain = createApiClient({ address, token, timeoutMs: 2000 });
    const untrusted = createApiClient({ address, token, tls: true, timeoutMs: 2000 });
    try {
      expect(await ok.list()).toEqual([]);
      for (const c of [plain, untrusted]) {
        const e = (await c.list().then(() => undefined, (x: unknown) => x)) as ApiCallError;
        expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(e.code);
      }
    } finally {
      for (const c of [ok, plain, untrusted]) c.close();
      await server.close();
    }
  });
});

describe('worker CLI token handling (built CLI)', () => {
  const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
    return { code: r.status, stderr: r.stderr };
  };

  it('refuses --chirpstack-token and names the file flag and the variable when no token is given', async () => {
    const flag = await run(['worker', '--chirpstack-token', 'abc']);
    expect(flag).toEqual({
      code: 1,
      stderr: 'lorafuota: chirpstack-token: --chirpstack-token is refused (a token on the command line is visible to every user in ps); use --chirpstack-token-file FILE or CHIRPSTACK_API_TOKEN\n',
    });
    const none = await run(['worker']);
    expect(none.stderr).toBe('lorafuota: chirpstack-token: required (--chirpstack-token-file FILE or CHIRPSTACK_API_TOKEN)\n');
  });
});
