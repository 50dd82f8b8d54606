import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { rootKeyFor } from '../src/chirpstack/keys.js';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { VIRTUAL_EPOCH_MS, type Provisioning } from '../src/sim/runner.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('lorafuota sim (needs a build: npx tsc -p tsconfig.json)', () => {
  it('prints the provisioning as JSON, serves ChirpStack gRPC with it, and stops cleanly on SIGTERM', async () => {
    const prefix = `lfsimcli-${randomUUID().slice(0, 8)}`;
    const child = spawn('node', ['dist/src/cli/main.js', 'sim', '--devices', '4', '--seed', '9', '--loss', '0.2', '--grpc', '127.0.0.1:0', '--virtual-time', '--prefix', prefix], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL },
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c));
    for await (const c of child.stdout) {
      out += c;
      if (out.includes('\n')) break;
    }
    const prov = JSON.parse(out.split('\n')[0]!) as Provisioning;
    expect(prov.devices).toHaveLength(4);
    expect(prov.seed).toBe(9);
    expect(prov.virtualTime).toEqual({ prefix });
    expect(prov.startMs).toBe(VIRTUAL_EPOCH_MS);
    // The time keeper publishes its clock under the prefix; with no job in the queue it holds it there.
    const redis = new Redis(REDIS_URL);
    expect(await redis.get(`${prefix}:vt:clock`)).toBe(String(VIRTUAL_EPOCH_MS));
    const client = new ChirpStackClient({ target: prov.grpc, apiToken: prov.apiToken });
    const d = prov.devices[0]!;
    const info = await client.getDevice(d.devEui);
    expect(info.applicationId).toBe(prov.applicationId);
    const profile = await client.getDeviceProfile(info.deviceProfileId);
    const root = rootKeyFor(await client.getDeviceKeys(d.devEui), profile.macVersion);
    expect(root.source).toBe(d.lorawan === '1.1' ? 'app_key' : 'gen_app_key');
    client.close();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const stats = JSON.parse(err.trim().split('\n').pop()!) as { airtime: unknown; simTimeMs: number };
    expect(stats).toHaveProperty('airtime');
    expect(stats.simTimeMs).toBe(VIRTUAL_EPOCH_MS);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('bad options name the field and exit non-zero', () => {
    for (const [args, msg] of [
      [['--loss', '1.5'], 'lorafuota: --loss: must be a number in 0..1, got "1.5"'],
      [['--grpc', 'nowhere'], 'lorafuota: --grpc: expected HOST:PORT, got "nowhere"'],
      [['--model', 'x'], 'lorafuota: --model: must be uniform or gilbert-elliott, got "x"'],
      [['--devices', '2.5'], 'lorafuota: --devices: must be an integer in 0..100000, got "2.5"'],
      [['--virtual-time', '--speedup', '10'], 'lorafuota: --speedup: cannot be combined with --virtual-time'],
    ] as const) {
      const r = spawnSync('node', ['dist/src/cli/main.js', 'sim', '--grpc', '127.0.0.1:0', ...args], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim()).toBe(msg);
    }
  });
});
