// Runs the built CLI (dist/, build first) as child processes against an API server started in this process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceState } from '../src/campaign/model.js';
import { formatPublicKeyFile, generateKeyPair } from '../src/image/keys.js';
import { startApiServer } from '../src/api/grpc-server.js';
import type { ApiServer } from '../src/api/grpc-server.js';
import { makeSpec, TEST_IMAGE, TEST_PUBKEY } from './helpers/spec.js';
import { startTestApi } from './helpers/api-server.js';
import type { TestApi } from './helpers/api-server.js';
import { selfSignedCert } from './helpers/self-signed.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const OTHER_PUBKEY = formatPublicKeyFile(generateKeyPair('ed25519'));
let api: TestApi;
let dir: string;
let tokenFile: string;

beforeAll(async () => {
  api = await startTestApi();
  dir = mkdtempSync(join(tmpdir(), 'lf-cli-'));
  tokenFile = join(dir, 'api.token');
  writeFileSync(tokenFile, `${api.token}\n`);
});
afterAll(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onLine` sees stdout lines as they arrive. */
function run(args: string[], opts: { env?: Record<string, string>; onLine?: (l: string) => void } = {}): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', REDIS_URL: api.redisUrl, ...opts.env };
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) opts.onLine?.(l);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const apiFlags = () => ['--api', api.address, '--api-token-file', tokenFile];

function writeSpec(name: string, spec: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(spec));
  return p;
}

describe('campaign submit', () => {
  it('fills the image and public keys from files and prints the id; a repeated client token gives the same id', async () => {
    const { imageBase64: _i, publicKeys: _k, ...bare } = makeSpec(2);
    const specPath = writeSpec('bare.json', bare);
    writeFileSync(join(dir, 'fw.bin'), TEST_IMAGE);
    writeFileSync(join(dir, 'a.pub'), TEST_PUBKEY);
    writeFileSync(join(dir, 'b.pub'), OTHER_PUBKEY);
    const args = ['campaign', 'submit', specPath, '--image', join(dir, 'fw.bin'), '--pubkey', join(dir, 'a.pub'), '--pubkey', join(dir, 'b.pub'), '--client-token', 'cli-1', ...apiFlags()];
    const r = await run(args);
    // Only the planner's warnings (this small test image is a degenerate block) may reach stderr.
    expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('lorafuota: warning: '))).toEqual([]);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { id: string; created: boolean };
    expect(res.created).toBe(true);
    const rec = (await api.store.get(res.id))!;
    expect(rec.spec.publicKeys).toEqual([TEST_PUBKEY, OTHER_PUBKEY]);
    expect(rec.clientToken).toBe('cli-1');
    expect(Buffer.from((await api.store.image(res.id))!)).toEqual(TEST_IMAGE);

    const again = await run(args);
    expect(JSON.parse(again.stdout)).toEqual({ id: res.id, created: false });
  });

  it('reports an invalid spec, a missing file and a bad token as "lorafuota: <field>: <reason>"', async () => {
    const bad = makeSpec(1);
    bad.devices[0] = { devEui: '12' };
    const r = await run(['campaign', 'submit', writeSpec('bad.json', bad), ...apiFlags()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lorafuota: devices\.0\.devEui: devEui: expected 16 hex digits\n$/);

    const missing = await run(['campaign', 'submit', join(dir, 'none.json'), ...apiFlags()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`lorafuota: spec: cannot read ${join(dir, 'none.json')} (ENOENT)\n`);

    const good = writeSpec('good.json', makeSpec(1));
    writeFileSync(join(dir, 'wrong.token'), 'nope-nope-nope-nope');
    const wrong = await run(['campaign', 'submit', good, '--api', api.address, '--api-token-file', join(dir, 'wrong.token')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe('lorafuota: token: missing or wrong bearer token\n');
    const none = await run(['campaign', 'submit', good, '--api', api.address]);
    expect(none.stderr).toBe('lorafuota: api-token: required (--api-token-file FILE or LORAFUOTA_API_TOKEN)\n');
    // A token on the command line is refused (it would show in ps), with the ways to pass it.
    const flag = await run(['campaign', 'submit', good, '--api', api.address, '--token', api.token]);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toBe('lorafuota: api-token: --token is refused (a token on the command line is visible to every user in ps); use --api-token-file FILE or LORAFUOTA_API_TOKEN\n');
    // The token and address may come from the environment instead.
    const env = await run(['campaign', 'submit', good], { env: { LORAFUOTA_API: api.address, LORAFUOTA_API_TOKEN: api.token } });
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout).created).toBe(true);
  });
});

describe('campaign status and cancel', () => {
  it('prints the table, JSON and device rows; cancels once', async () => {
    const spec = makeSpec(2, { name: 'status check' });
    const { id } = await api.client.create(JSON.stringify(spec));
    const eui = spec.devices[0]!.devEui;
    await api.store.commit(id, new Map([[eui, { p: 'final', s: 'Updated', t: 5, lw: '1.0', fw: 0x20 } satisfies DeviceState]]), [], {
      plan: JSON.stringify({ nbFrag: 50, initialCoded: 8 }),
      fragmentsSent: 20,
    });

    const table = await run(['campaign', 'status', id, '--devices', ...apiFlags()]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`campaign     ${id}  status check\n`);
    expect(table.stdout).toContain('stage        prepare\n');
    expect(table.stdout).toContain('by status    Pending 1, Updated 1\n');
    expect(table.stdout).toContain('fragments    20 sent of 58 scheduled (50 uncoded + 8 coded), 0 repair rounds\n');
    expect(table.stdout).toContain('plan         M = 50 fragments, 8 coded in the first broadcast\n');
    expect(table.stdout).toContain('devices      2: 1 updated, 0 failed, 1 pending (1 set up)\n');
    expect(table.stdout).toMatch(/\nstarted      \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)\n/);
    expect(table.stdout).toMatch(/\nelapsed      \d+ s\n/);
    // Internal fields only under --json.
    expect(table.stdout).not.toMatch(/fragmentsSent=|nbFrag=|figures/);
    expect(table.stdout).toMatch(new RegExp(`\\n${eui}  Updated  final +0\\.0\\.32 +1970-01-01T00:00:00(Z|[+-]\\d\\d:\\d\\d)`));

    const list = await run(['campaign', 'list', ...apiFlags()]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id +stage +devices +updated +failed +created +name\n/);
    expect(list.stdout).toMatch(new RegExp(`\\n${id}  prepare  +2  +1  +0  \\S+ +status check\\n`));

    const json = await run(['campaign', 'status', id, '--json', ...apiFlags()]);
    const c = JSON.parse(json.stdout);
    expect(c).toMatchObject({ id, stage: 'prepare', devicesTotal: 2, byStatus: { Updated: 1, Pending: 1 }, devices: [] });

    const cancel = await run(['campaign', 'cancel', id, ...apiFlags()]);
    expect(JSON.parse(cancel.stdout)).toEqual({ id, cancelled: true });
    expect((await api.store.get(id))!.data.cancel).toBe('1');
    await api.store.setStage(id, 'cancelled');
    const again = await run(['campaign', 'cancel', id, ...apiFlags()]);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toEqual({ id, cancelled: false });

    const unknown = await run(['campaign', 'status', 'nope', ...apiFlags()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('lorafuota: id: no campaign nope\n');
  });
});

describe('campaign watch', () => {
  async function watchWhile(outcome: 'Updated' | 'Timeout'): Promise<Run> {
    const spec = makeSpec(2);
    const { id } = await api.client.create(JSON.stringify(spec));
    const stored = (await api.store.readEvents(id)).length;
    let lines = 0;
    let driven: Promise<void> | undefined;
    const r = await run(['campaign', 'watch', id, ...apiFlags()], {
      onLine: () => {
        if (++lines !== stored) return;
        // The watcher is following: finish the campaign while it streams.
        driven = (async () => {
          const done = new Map(spec.devices.map((d, i): [string, DeviceState] => [d.devEui, { p: 'final', s: i === 0 ? 'Updated' : outcome, t: Date.now(), lw: '1.0' }]));
          await api.store.commit(id, done, [{ type: 'devices', final: 2 }]);
          await api.store.setStage(id, 'done');
        })();
      },
    });
    await driven;
    return r;
  }

  it('prints one line per event and exits 0 when every device is updated', async () => {
    const r = await watchWhile('Updated');
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z created \{"devices":2\}$/);
    expect(lines.slice(-3, -1).map((l) => l.split(' ')[1])).toEqual(['devices', 'stage']);
    expect(lines.at(-3)).toMatch(/ devices \{"final":2\}$/);
    expect(lines.at(-2)).toMatch(/ stage \{"stage":"done"\}$/);
    expect(lines.at(-1)).toBe('done: 2/2 devices updated');
    expect(r.code).toBe(0);
  });

  it('exits 1 when a device is not updated', async () => {
    const r = await watchWhile('Timeout');
    expect(r.stdout.trim().split('\n').slice(-3)).toEqual(['done: 1/2 devices updated', 'failures by reason:', '  1  Timeout']);
    expect(r.code).toBe(1);
  });
});

describe('campaign watch across a server restart', () => {
  it('reconnects, resumes after the last event and still exits 0', async () => {
    const first = await startApiServer({ redisUrl: api.redisUrl, prefix: api.prefix, token: api.token, address: '127.0.0.1:0' });
    const address = `127.0.0.1:${first.port}`;
    const spec = makeSpec(1);
    const { id } = await api.client.create(JSON.stringify(spec));
    const stored = (await api.store.readEvents(id)).length;
    let lines = 0;
    let second: ApiServer | undefined;
    let driven: Promise<void> | undefined;
    const r = await run(['campaign', 'watch', id, '--api', address, '--api-token-file', tokenFile], {
      onLine: () => {
        if (++lines !== stored) return;
        driven = (async () => {
          await first.close();
          // Written while no server runs: the watcher must pick these up after reconnecting.
          await api.store.commit(id, new Map([[spec.devices[0]!.devEui, { p: 'final', s: 'Updated', t: 1, lw: '1.0' } satisfies DeviceState]]), [
            { type: 'devices', final: 1 },
          ]);
          second = await startApiServer({ redisUrl: api.redisUrl, prefix: api.prefix, token: api.token, address });
          await api.store.setStage(id, 'done');
        })();
      },
    });
    await driven;
    await second?.close();
    expect(r.stderr).toBe('');
    const out = r.stdout.trim().split('\n');
    expect(out.length).toBe(stored + 3);
    expect(out.filter((l) => l.includes(' created ')).length).toBe(1);
    expect(out.slice(-3, -1).map((l) => l.split(' ')[1])).toEqual(['devices', 'stage']);
    expect(out.at(-1)).toBe('done: 1/1 devices updated');
    expect(r.code).toBe(0);
  });
});

describe('campaign watch through a long API outage', () => {
  it('keeps reconnecting with back-off past 7.5 s of downtime, then resumes and exits 0', async () => {
    const first = await startApiServer({ redisUrl: api.redisUrl, prefix: api.prefix, token: api.token, address: '127.0.0.1:0' });
    const address = `127.0.0.1:${first.port}`;
    const spec = makeSpec(1);
    const { id } = await api.client.create(JSON.stringify(spec));
    const stored = (await api.store.readEvents(id)).length;
    let lines = 0;
    let second: ApiServer | undefined;
    let driven: Promise<void> | undefined;
    const r = await run(['campaign', 'watch', id, '--api', address], {
      env: { LORAFUOTA_API_TOKEN: api.token },
      onLine: () => {
        if (++lines !== stored) return;
        driven = (async () => {
          await first.close();
          await api.store.commit(id, new Map([[spec.devices[0]!.devEui, { p: 'final', s: 'Updated', t: 1, lw: '1.0' } satisfies DeviceState]]), []);
          await api.store.setStage(id, 'done');
          // Down for longer than the old retry budget (7.5 s).
          await new Promise((res) => setTimeout(res, 9000));
          second = await startApiServer({ redisUrl: api.redisUrl, prefix: api.prefix, token: api.token, address });
        })();
      },
    });
    await driven;
    await second?.close();
    expect(r.stderr).toMatch(/^lorafuota: api unavailable \(.*\); retrying in \d+ s \(Ctrl-C to stop\)$/m);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('done: 1/1 devices updated');
    expect(r.code).toBe(0);
  }, 40_000);
});

const SERVE_TOKEN = 'serve-token-0123456789';

describe('serve', () => {
  it('serves the API until SIGTERM and exits 0 (token and prefix from the environment)', async () => {
    const prefix = `${api.prefix}-serve`;
    const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--http-port', '0'], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: api.redisUrl, LORAFUOTA_API_TOKEN: SERVE_TOKEN, LORAFUOTA_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const { listening, http } = JSON.parse(first) as { listening: string; http: string };
    expect(listening).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(http).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await fetch(`http://${http}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://${http}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { redis: { ok: true } } });

    const r = await run(['campaign', 'submit', writeSpec('serve.json', makeSpec(1)), '--api', listening], { env: { LORAFUOTA_API_TOKEN: SERVE_TOKEN } });
    expect(r.code).toBe(0);
    const { id } = JSON.parse(r.stdout) as { id: string };
    expect(await api.store.redis.hget(`${prefix}:c:{${id}}`, 'stage')).toBe('prepare');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const keys = await api.store.redis.keys(`${prefix}:*`);
    if (keys.length) await api.store.redis.del(...keys);
  });

  it('refuses to start without a token, with a short token, a token flag or a bad address', async () => {
    const r = await run(['serve', '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('lorafuota: api-token: required (--api-token-file FILE or LORAFUOTA_API_TOKEN)\n');
    const short = await run(['serve', '--listen', '127.0.0.1:0'], { env: { LORAFUOTA_API_TOKEN: 't' } });
    expect(short.stderr).toBe('lorafuota: api-token: 1 characters, at least 16 required (e.g. openssl rand -hex 16)\n');
    const flag = await run(['serve', '--listen', '127.0.0.1:0', '--token', SERVE_TOKEN]);
    expect(flag.stderr).toMatch(/^lorafuota: api-token: --token is refused /);
    const a = await run(['serve', '--listen', 'nowhere'], { env: { LORAFUOTA_API_TOKEN: SERVE_TOKEN } });
    expect(a.stderr).toBe('lorafuota: listen: expected HOST:PORT, got "nowhere"\n');
    const half = await run(['serve', '--listen', '127.0.0.1:0', '--tls-cert', tokenFile], { env: { LORAFUOTA_API_TOKEN: SERVE_TOKEN } });
    expect(half.stderr).toBe('lorafuota: tls: --tls-cert and --tls-key go together\n');
  });

  it('serves TLS with --tls-cert/--tls-key; the client connects with --tls-ca and fails without it', async () => {
    const { certPem, keyPem } = selfSignedCert();
    writeFileSync(join(dir, 'cert.pem'), certPem);
    writeFileSync(join(dir, 'key.pem'), keyPem);
    const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: api.redisUrl, LORAFUOTA_API_TOKEN: SERVE_TOKEN, LORAFUOTA_PREFIX: `${api.prefix}-tls` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const { listening, tls } = JSON.parse(first) as { listening: string; tls: boolean };
    expect(tls).toBe(true);
    const env = { LORAFUOTA_API_TOKEN: SERVE_TOKEN };
    const ok = await run(['campaign', 'list', '--json', '--api', listening, '--tls-ca', join(dir, 'cert.pem')], { env });
    // (stderr may carry Node's DEP0123 note about TLS to an IP address)
    expect([ok.code, ok.stdout, ok.stderr.includes('lorafuota:')]).toEqual([0, '', false]);
    const plain = await run(['campaign', 'list', '--api', listening], { env });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^lorafuota: api: /);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
