/**
 * Durability with real processes: campaign workers are killed with SIGKILL during set-up, during the
 * broadcast and while devices are upgraded; replacements take over and the campaign still updates every device, without sending any fragment
 * twice or out of order. Uplinks go through the real Mosquitto broker (shared subscription). Simulator and workers
 * run on virtual time: uplinks sent to a worker at the moment it is killed are counted lost after a short stall.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { submitCampaign } from '../src/service/submit.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { campaignQueue, connectionFromUrl } from '../src/store/queue.js';
import { fragmentRecord, startSimEnv, type SimEnv } from '../src/sim/env.js';
import { REDIS_URL } from './helpers/campaign-env.js';

const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

describe('a campaign survives killed workers', () => {
  let env: SimEnv;
  let store: CampaignStore;
  let redis: Redis;
  const prefix = `lfkill-${randomUUID().slice(0, 8)}`;
  const children = new Set<ChildProcess>();
  const spawnWorker = (): ChildProcess => {
    const child = spawn(process.execPath, ['dist/workers/campaign-worker.js'], {
      env: {
        ...process.env,
        REDIS_URL,
        LORAFUOTA_PREFIX: prefix,
        CHIRPSTACK_API: env.grpcTarget,
        CHIRPSTACK_API_TOKEN: env.chirpstack.apiToken,
        CHIRPSTACK_APPLICATION_ID: env.applicationId,
        MQTT_URL,
        LORAFUOTA_VIRTUAL_TIME: '1',
        LORAFUOTA_LOCK_MS: '1500',
        LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  };
  const kill = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : (c.once('exit', () => resolve()), c.kill('SIGKILL'))));

  beforeAll(async () => {
    env = await startSimEnv({
      devices: 12,
      loss: 0.1,
      seed: 11,
      time: { virtual: { redisUrl: REDIS_URL, prefix, stallMs: 2000 } },
      imageBytes: 6144,
      mqttUrl: MQTT_URL,
    });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    store = new CampaignStore(redis, prefix);
  });
  afterAll(async () => {
    for (const c of [...children]) await kill(c);
    await env?.close();
    await store?.purgeAll();
    redis?.disconnect();
  });

  it('kills a worker in set-up, one in the broadcast and one while devices are upgraded; every device is still updated', async () => {
    const a = spawnWorker();
    const b = spawnWorker();
    const queue = campaignQueue(connectionFromUrl(REDIS_URL), prefix);
    const { id } = await submitCampaign({ store, queue }, env.spec);
    await queue.close();
    const until = async (pred: () => Promise<boolean>, what: string, ms = 90_000) => {
      const t0 = Date.now();
      while (!(await pred())) {
        if (Date.now() - t0 > ms) throw new Error(`timeout waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    // Set-up: kill a worker once some devices have answered and others have not.
    await until(async () => {
      const d = await store.devices(id);
      const phases = [...d.values()].map((s) => s.p);
      return phases.some((p) => p !== 'discover') && phases.some((p) => p === 'discover');
    }, 'set-up in progress');
    await kill(a);
    const c = spawnWorker();
    // Broadcast: kill another once a few fragments are out.
    await until(async () => {
      const rec = await store.get(id);
      return rec?.stage === 'broadcast' && Number(rec.data.nextN ?? 0) > 5;
    }, 'broadcast in progress');
    await kill(b);
    const d = spawnWorker();
    // Apply: kill the worker that took over once devices are being upgraded.
    await until(async () => {
      const devs = await store.devices(id);
      return [...devs.values()].some((s) => ['upgrade', 'reboot', 'verify'].includes(s.p));
    }, 'apply in progress', 150_000);
    await kill(c);
    spawnWorker();
    await until(async () => ['done', 'failed', 'cancelled'].includes((await store.get(id))!.stage), 'the end', 150_000);

    const rec = (await store.get(id))!;
    expect(rec.stage).toBe('done');
    const devs = await store.devices(id);
    expect([...devs.values()].filter((s) => s.s === 'Updated').length).toBe(12);
    // No fragment sent twice or out of order, and the stored count matches what went on air.
    const sent = fragmentRecord(env.network)!.sent.filter((f) => f.fragN !== undefined).map((f) => f.fragN!);
    expect(sent).toEqual(Array.from({ length: sent.length }, (_, i) => i + 1));
    expect(Number(rec.data.fragmentsSent)).toBe(sent.length);
    expect(d.exitCode).toBeNull();
  }, 200_000);
});
