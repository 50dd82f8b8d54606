/**
 * The worker shell (workers/pipeline/advance.ts) against Redis and the simulated ChirpStack's gRPC API, in virtual
 * time: a campaign with a DevEUI ChirpStack does not know is cancelled while ChirpStack answers NOT_FOUND to every
 * clean-up call; a step that keeps failing is recorded and ends the campaign.
 */
import { randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareCampaign } from '../src/service/submit.js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { ChirpStackError } from '../src/chirpstack/call.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import type { WorkerContext } from '../src/service/context.js';
import { advance, MAX_STEP_ERRORS } from '../src/service/pipeline/advance.js';
import { processUplinks, type NormalizedUplink } from '../src/service/uplinks.js';
import { REDIS_URL } from './helpers/campaign-env.js';
import { PipelineHarness, T0 } from './helpers/pipeline-harness.js';

const UNKNOWN = 'ffffffffffff0002';

function shell(seed: number, devices: number, o: { v2?: boolean } = {}) {
  const heard: NormalizedUplink[] = [];
  const h = new PipelineHarness({
    devices,
    loss: 0.05,
    seed,
    ...(o.v2
      ? { mix: { 'lbm-v2': 1 }, spec: (s) => ({ ...s, fragmentation: { ...s.fragmentation, ts004Version: 2 } }) }
      : { spec: (s) => ({ ...s, devices: [...(s.devices ?? []), { devEui: UNKNOWN }] }) }),
    uplinks: (u) => heard.push({ devEui: u.devEui, applicationId: '', fPort: u.fPort, fCnt: u.fCnt, data: u.data, timeMs: u.timeMs, deduplicationId: randomUUID() }),
  });
  const t = {
    h,
    heard,
    prefix: `lfrob-${randomUUID().slice(0, 8)}`,
    now: T0,
    redis: undefined as unknown as Redis,
    store: undefined as unknown as CampaignStore,
    chirpstack: undefined as unknown as ChirpStackClient,
    ctx: undefined as unknown as WorkerContext,
    id: '',
    async start() {
      const port = await h.cs.listen('127.0.0.1', 0);
      t.redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      t.store = new CampaignStore(t.redis, t.prefix);
      t.chirpstack = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: h.cs.apiToken, tls: false });
      t.ctx = { store: t.store, queue: {} as Queue, chirpstack: t.chirpstack, clock: { now: () => t.now }, log: pino({ level: 'silent' }), wallDelay: (ms) => ms, rootKeys: new Map(), close: async () => {} };
      const { spec, image, plan, targetVersion } = prepareCampaign(h.spec);
      ({ id: t.id } = await t.store.create(spec, image, { plan: JSON.stringify(plan), targetVersion: String(targetVersion), ruleVersion: String(spec.fragmentation.ts004Version) }));
    },
    async stop() {
      t.chirpstack?.close();
      h.cs.stop();
      h.net.close();
      await t.store?.purgeAll();
      t.redis?.disconnect();
    },
  };
  return t;
}

describe('the worker shell: cancel with an unknown DevEUI while ChirpStack answers NOT_FOUND to every clean-up call', () => {
  const t = shell(93, 5);
  const thrown: string[] = [];
  let cancelAnswer = false;

  beforeAll(async () => {
    await t.start();
    const notFound = (m: string) => async () => {
      throw new ChirpStackError(m, grpcStatus.NOT_FOUND, 'Object does not exist');
    };
    let cancelled = false;
    for (let steps = 0; steps < 3000; steps++) {
      t.h.net.advanceTo(t.now);
      await processUplinks(t.ctx, t.heard.splice(0));
      const c = (await t.store.get(t.id))!;
      if (!cancelled && c.stage === 'broadcast') {
        cancelAnswer = await t.store.requestCancel(t.id);
        cancelled = true;
        const cs = t.chirpstack as unknown as Record<string, unknown>;
        for (const m of ['flushDeviceQueue', 'listMulticastQueue', 'flushMulticastQueue', 'deleteMulticastGroup', 'enqueueDownlink']) cs[m] = notFound(m);
      }
      let delay: number | null;
      try {
        delay = await advance(t.ctx, t.id);
      } catch (e) {
        thrown.push((e as Error).message);
        continue;
      }
      if (delay === null) break;
      t.now += delay;
    }
  }, 120_000);
  afterAll(() => t.stop());

  it('fails the unknown device alone during the group set-up, with its reason', async () => {
    const devs = await t.store.devices(t.id);
    expect(devs.get(UNKNOWN)).toMatchObject({ s: 'DeviceNotFound', p: 'final' });
    expect(devs.get(UNKNOWN)!.r).toMatch(/NOT_FOUND/);
  });

  it('ends cancelled in one step, devices released, nothing left to retry', async () => {
    expect(cancelAnswer).toBe(true);
    expect(thrown).toEqual([]);
    const c = (await t.store.get(t.id))!;
    expect(c.stage).toBe('cancelled');
    expect(c.intents).toBeUndefined();
    const devs = await t.store.devices(t.id);
    expect([...devs.values()].every((d) => d.p === 'final')).toBe(true);
    expect([...devs.values()].filter((d) => d.s === 'Cancelled')).toHaveLength(5);
    for (const eui of devs.keys()) expect(await t.store.campaignOf(eui)).toBeNull();
    const ev = await t.store.readEvents(t.id, '0', 0, 100_000);
    expect(ev.filter((e) => e.type === 'stage').map((e) => e.stage).at(-1)).toBe('cancelled');
  });
});

describe('the worker shell: a step that keeps failing', () => {
  const t = shell(94, 3);
  const results: (number | null | 'threw')[] = [];

  beforeAll(async () => {
    await t.start();
    const cs = t.chirpstack as unknown as Record<string, unknown>;
    // ChirpStack's database is down: device look-ups and downlinks fail with an internal error every time.
    for (const call of ['getDevice', 'enqueueDownlink', 'getDeviceQueue']) {
      cs[call] = async () => {
        throw new ChirpStackError(call, grpcStatus.INTERNAL, 'database is down');
      };
    }
    for (let steps = 0; steps < 40; steps++) {
      let delay: number | null;
      try {
        delay = await advance(t.ctx, t.id);
      } catch {
        results.push('threw');
        if (steps === 2) {
          const c = (await t.store.get(t.id))!;
          expect(c.data.lastError).toMatch(/database is down/);
        }
        continue;
      }
      results.push(delay);
      if (delay === null) break;
      t.now += delay;
    }
  }, 60_000);
  afterAll(() => t.stop());

  it('records each failure (lastError, stepError event) and ends failed after the last allowed one', async () => {
    expect(results.filter((r) => r === 'threw')).toHaveLength(MAX_STEP_ERRORS - 1);
    expect(results.at(-1)).toBeNull();
    const c = (await t.store.get(t.id))!;
    expect(c.stage).toBe('failed');
    expect(c.error).toMatch(/step failed 8 times in a row: .*database is down/);
    const ev = await t.store.readEvents(t.id, '0', 0, 100_000);
    expect(ev.filter((e) => e.type === 'stepError')).toHaveLength(MAX_STEP_ERRORS);
    for (const eui of await t.store.deviceEuis(t.id)) expect(await t.store.campaignOf(eui)).toBeNull();
  });
});

describe('TS004 v2: SessionCnt kept per device across campaigns', () => {
  const t = shell(96, 4, { v2: true });
  let first = '';
  const thrown: string[] = [];

  async function runUntil(id: string, stop: (stage: string) => boolean): Promise<void> {
    for (let steps = 0; steps < 5000; steps++) {
      t.h.net.advanceTo(t.now);
      await processUplinks(t.ctx, t.heard.splice(0));
      if (stop((await t.store.get(id))!.stage)) return;
      let delay: number | null;
      try {
        delay = await advance(t.ctx, id);
      } catch (e) {
        thrown.push((e as Error).message);
        continue;
      }
      if (delay === null) return;
      t.now += delay;
    }
  }

  beforeAll(async () => {
    await t.start();
    first = t.id;
    await runUntil(first, (stage) => stage === 'broadcast');
    const c0 = (await t.store.get(first))!;
    expect([c0.stage, c0.error, thrown]).toEqual(['broadcast', undefined, []]);
    expect(await t.store.requestCancel(first)).toBe(true);
    await runUntil(first, () => false);
    // Let the devices hear the clean-up requests, then submit the same campaign again.
    t.now += 15 * 60_000;
    const { spec, image, plan, targetVersion } = prepareCampaign({ ...t.h.spec, name: 'again' });
    ({ id: t.id } = await t.store.create(spec, image, { plan: JSON.stringify(plan), targetVersion: String(targetVersion), ruleVersion: '2' }));
    await runUntil(t.id, () => false);
  }, 120_000);
  afterAll(() => t.stop());

  it('the first campaign was cancelled after the devices were set up', async () => {
    expect((await t.store.get(first))!.stage).toBe('cancelled');
    expect(thrown).toEqual([]);
  });

  it('the resubmitted campaign updates every device (no SessionCntReplay)', async () => {
    const c = (await t.store.get(t.id))!;
    const devs = await t.store.devices(t.id);
    expect([...devs.values()].map((d) => d.s)).toEqual(Array(4).fill('Updated'));
    expect(c.stage).toBe('done');
    expect([...devs.values()].map((d) => d.sc)).toEqual(Array(4).fill(1));
    const kept = await t.store.sessionCnts([...devs.keys()]);
    expect([...kept.values()]).toEqual(Array(4).fill(2));
  });
});
