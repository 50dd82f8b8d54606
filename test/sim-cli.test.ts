import { describe, it, expect } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { submitCampaign } from '../src/service/submit.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { campaignQueue, connectionFromUrl } from '../src/store/queue.js';
import { makeSpec, TEST_DEVICE_CLASS, TEST_PUBKEY } from './helpers/spec.js';
import { once } from 'node:events';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { rootKeyFor } from '../src/chirpstack/keys.js';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { VIRTUAL_EPOCH_MS, type Provisioning } from '../src/sim/runner.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

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

  it('on virtual time with `lorafuota worker --virtual-time` processes, a campaign submitted to the queue updates the fleet', async () => {
    const prefix = `lfsimop-${randomUUID().slice(0, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'lf-simop-'));
    writeFileSync(join(dir, 'fw.pub'), TEST_PUBKEY);
    const env = { ...process.env, REDIS_URL, LOG_LEVEL: 'silent' };
    const children: ChildProcess[] = [];
    const sim = spawn('node', ['dist/src/cli/main.js', 'sim', '--devices', '6', '--seed', '3', '--loss', '0.1', '--grpc', '127.0.0.1:0', '--virtual-time', '--prefix', prefix,
      '--mqtt', MQTT_URL, '--device-class', TEST_DEVICE_CLASS, '--pubkey', join(dir, 'fw.pub')], { stdio: ['ignore', 'pipe', 'ignore'], env });
    children.push(sim);
    const redis = new Redis(REDIS_URL);
    const store = new CampaignStore(redis, prefix);
    try {
      let out = '';
      for await (const c of sim.stdout) {
        out += c;
        if (out.includes('\n')) break;
      }
      const prov = JSON.parse(out.split('\n')[0]!) as Provisioning;
      for (let i = 0; i < 2; i++) {
        children.push(spawn('node', ['dist/src/cli/main.js', 'worker', '--virtual-time', '--prefix', prefix, '--mqtt', MQTT_URL, '--chirpstack', prov.grpc,
          '--application', prov.applicationId, '--lock-ms', '2000'], { stdio: 'ignore', env: { ...env, CHIRPSTACK_API_TOKEN: prov.apiToken } }));
      }
      const v1 = prov.devices.filter((d) => d.versions.ts004 === 1);
      expect(v1.length).toBeGreaterThan(0);
      const queue = campaignQueue(connectionFromUrl(REDIS_URL), prefix);
      const { id } = await submitCampaign({ store, queue }, makeSpec(0, {
        applicationId: prov.applicationId,
        devices: v1.map((d) => ({ devEui: d.devEui, lorawan: d.lorawan })),
        fragmentation: { fragSize: 48 },
      }));
      await queue.close();
      const t0 = Date.now();
      let stage = '';
      while (!['done', 'failed', 'cancelled'].includes(stage) && Date.now() - t0 < 120_000) {
        await new Promise((r) => setTimeout(r, 100));
        stage = (await store.get(id))?.stage ?? '';
      }
      expect(stage).toBe('done');
      const devs = await store.devices(id);
      // Every device ends with a final status, and the fleet is updated. Across processes an uplink in flight when
      // the time keeper gives up waiting for it (a loaded machine) can be lost, as on a real network; the
      // in-process campaign tests check exact outcomes on virtual time.
      const statuses = [...devs.values()].map((d) => d.s);
      expect(statuses).toHaveLength(v1.length);
      expect(statuses.every((s) => s !== 'Pending')).toBe(true);
      expect(statuses.filter((s) => s === 'Updated').length).toBeGreaterThanOrEqual(v1.length - 1);
      // The campaign ran on the simulator's clock: its virtual time moved past the start.
      expect(Number(await redis.get(`${prefix}:vt:clock`))).toBeGreaterThan(VIRTUAL_EPOCH_MS);
    } finally {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : once(c, 'exit'))));
      await store.purgeAll();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('bad options name the field and exit non-zero', () => {
    for (const [args, msg] of [
      [['--loss', '1.5'], 'lorafuota: --loss: must be a number in 0..1, got "1.5"'],
      [['--grpc', 'nowhere'], 'lorafuota: --grpc: expected HOST:PORT, got "nowhere"'],
      [['--model', 'x'], 'lorafuota: --model: must be uniform or gilbert-elliott, got "x"'],
      [['--devices', '2.5'], 'lorafuota: --devices: must be an integer in 0..100000, got "2.5"'],
      [['--chirpstack-version', '4.7'], 'lorafuota: --chirpstack-version: must be 4.12 or 4.19, got "4.7"'],
      [['--gateways', '0'], 'lorafuota: --gateways: must be an integer in 1..64, got "0"'],
      [['--virtual-time', '--speedup', '10'], 'lorafuota: --speedup: cannot be combined with --virtual-time'],
    ] as const) {
      const r = spawnSync('node', ['dist/src/cli/main.js', 'sim', '--grpc', '127.0.0.1:0', ...args], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim()).toBe(msg);
    }
  });

  it('--chirpstack-version 4.12 models ChirpStack v4.12 (field 14 = class_b_ping_slot_nb_k); --gateways 2 provisions two gateways', async () => {
    const child = spawn('node', ['dist/src/cli/main.js', 'sim', '--devices', '2', '--grpc', '127.0.0.1:0', '--chirpstack-version', '4.12', '--gateways', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    for await (const c of child.stdout) {
      out += c;
      if (out.includes('\n')) break;
    }
    const prov = JSON.parse(out.split('\n')[0]!) as Provisioning;
    expect(prov.chirpstackVersion).toBe('4.12');
    expect(prov.gatewayIds).toEqual(['0016c001f153a14c', '0016c001f153a14d']);
    const client = new ChirpStackClient({ target: prov.grpc, apiToken: prov.apiToken });
    const id = await client.createMulticastGroup({
      name: 'b', applicationId: prov.applicationId, region: 'EU868', mcAddr: 7, mcAppSKey: '00'.repeat(16), mcNwkSKey: '11'.repeat(16),
      groupType: 'CLASS_B', dr: 3, frequencyHz: 869_525_000, pingSlotPeriodicity: 3,
    });
    // the value travels as field 14 unchanged; v4.12 reads it as k (8 slots per beacon), v4.19 would read 2^(7-3) = 16
    expect((await client.getMulticastGroup(id)).pingSlotPeriodicity).toBe(3);
    client.close();
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
});
