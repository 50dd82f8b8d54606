/**
 * The worker shell (src/service/pipeline/advance.ts) against Redis and the simulated ChirpStack's gRPC API, stepped
 * in virtual time (the clock is a variable, the network is advanced by hand): no wall-clock scaling. Workers
 * "die" (a step throws) right after a multicast enqueue, right before one, right after a unicast enqueue and
 * during the group deletion; the next step must pick up exactly where the dead one left off.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareCampaign } from '../src/service/submit.js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import type { WorkerContext } from '../src/service/context.js';
import { advance } from '../src/service/pipeline/advance.js';
import { processUplinks, type NormalizedUplink } from '../src/service/uplinks.js';
import { REDIS_URL } from './helpers/campaign-env.js';
import { PipelineHarness, T0 } from './helpers/pipeline-harness.js';

describe('the worker shell in virtual time, with steps cut short', () => {
  const heard: NormalizedUplink[] = [];
  const h = new PipelineHarness({
    devices: 8,
    loss: 0.1,
    seed: 71,
    uplinks: (u) => heard.push({ devEui: u.devEui, applicationId: '', fPort: u.fPort, fCnt: u.fCnt, data: u.data, timeMs: u.timeMs, deduplicationId: randomUUID() }),
  });
  const prefix = `lfshell-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let store: CampaignStore;
  let chirpstack: ChirpStackClient;
  let id: string;
  let now = T0;
  const crashes: string[] = [];
  let steps = 0;

  beforeAll(async () => {
    const port = await h.cs.listen('127.0.0.1', 0);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    store = new CampaignStore(redis, prefix);
    chirpstack = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: h.cs.apiToken, tls: false });
    const ctx: WorkerContext = {
      store,
      queue: {} as Queue, // advance never schedules: the caller does
      chirpstack,
      clock: { now: () => now },
      log: pino({ level: 'silent' }),
      timeMode: 'real',
      wallDelay: (ms) => ms,
      rootKeys: new Map(),
      close: async () => {},
    };
    // Fault injection: the step dies right after its 5th multicast enqueue landed, right before the 9th, right
    // after the 7th unicast enqueue, and at the first group deletion.
    const cs = chirpstack as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const inject = (name: string, when: (n: number) => 'before' | 'after' | undefined) => {
      const real = cs[name]!.bind(chirpstack);
      let n = 0;
      cs[name] = async (...a: unknown[]) => {
        const at = when(++n);
        if (at === 'before') throw (crashes.push(`${name} ${n} before`), new Error('killed'));
        const r = await real(...a);
        if (at === 'after') throw (crashes.push(`${name} ${n} after`), new Error('killed'));
        return r;
      };
    };
    inject('enqueueMulticast', (n) => (n === 5 ? 'after' : n === 9 ? 'before' : undefined));
    inject('enqueueDownlink', (n) => (n === 7 ? 'after' : undefined));
    inject('deleteMulticastGroup', (n) => (n === 1 ? 'before' : undefined));

    const { spec, image, plan, targetVersion } = prepareCampaign(h.spec);
    ({ id } = await store.create(spec, image, { plan: JSON.stringify(plan), targetVersion: String(targetVersion), ruleVersion: String(spec.fragmentation.ts004Version) }));
    for (; steps < 5000; steps++) {
      h.net.advanceTo(now);
      await processUplinks(ctx, heard.splice(0));
      let delay: number | null;
      try {
        delay = await advance(ctx, id);
      } catch {
        continue; // the step is run again, as BullMQ does with a job whose worker died
      }
      if (delay === null) break;
      now += delay;
    }
  }, 120_000);

  afterAll(async () => {
    chirpstack?.close();
    h.cs.stop();
    h.net.close();
    await store?.purgeAll();
    redis?.disconnect();
  });

  it('was cut short where intended', () => {
    // (The 7th unicast enqueue may be a clock-sync answer of the uplink intake rather than a campaign request.)
    expect(crashes.map((c) => c.replace(/^enqueueDownlink \d+/, 'enqueueDownlink'))).toEqual(['enqueueDownlink after', 'enqueueMulticast 5 after', 'enqueueMulticast 9 before', 'deleteMulticastGroup 1 before']);
  });

  it('updates every device', async () => {
    const c = (await store.get(id))!;
    expect(c.stage).toBe('done');
    const devs = await store.devices(id);
    expect([...devs.values()].map((d) => d.s)).toEqual(Array(8).fill('Updated'));
    for (const d of h.sim) expect(d.state.runningVersion).toBe(0x01010000);
  });

  it('puts fragments 1..N on air exactly once each, and counts them', async () => {
    const ns = h.fragmentsOnAir();
    expect(ns.length).toBeGreaterThan(10);
    expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => i + 1));
    const c = (await store.get(id))!;
    expect(Number(c.data.fragmentsSent)).toBe(ns.length);
    expect(c.data.mcPending).toBe('');
  });

  it('finishes the effects of a cut-short end: group deleted, campaign released, no intents left', async () => {
    expect(h.cs.groups.size).toBe(0);
    expect(await redis.hget(store.keys.campaign(id), 'fx')).toBeNull();
    expect(await redis.exists(store.keys.image(id), store.keys.answers(id))).toBe(0);
    expect(await store.campaignOf(h.sim[0]!.devEui)).toBeNull();
    const ev = await store.readEvents(id, '0', 0, 100_000);
    expect(ev.filter((e) => e.type === 'report')).toHaveLength(1);
    expect(ev.filter((e) => e.type === 'stage').map((e) => e.stage).at(-1)).toBe('done');
  });
});

describe('the worker shell: cancel during the broadcast, with the clean-up cut short', () => {
  const heard: NormalizedUplink[] = [];
  const h = new PipelineHarness({
    devices: 6,
    loss: 0.1,
    seed: 72,
    uplinks: (u) => heard.push({ devEui: u.devEui, applicationId: '', fPort: u.fPort, fCnt: u.fCnt, data: u.data, timeMs: u.timeMs, deduplicationId: randomUUID() }),
  });
  const prefix = `lfshell-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let store: CampaignStore;
  let chirpstack: ChirpStackClient;
  let id: string;
  let now = T0;
  let crashed = 0;
  const enqueued: [string, string][] = [];
  const setUp: string[] = [];

  beforeAll(async () => {
    const port = await h.cs.listen('127.0.0.1', 0);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    store = new CampaignStore(redis, prefix);
    chirpstack = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: h.cs.apiToken, tls: false });
    const ctx: WorkerContext = { store, queue: {} as Queue, chirpstack, clock: { now: () => now }, log: pino({ level: 'silent' }), timeMode: 'real', wallDelay: (ms) => ms, rootKeys: new Map(), close: async () => {} };
    const realFlush = chirpstack.flushDeviceQueue.bind(chirpstack);
    let flushes = 0;
    chirpstack.flushDeviceQueue = async (eui: string) => {
      if (++flushes === 3) {
        crashed++;
        throw new Error('killed');
      }
      return realFlush(eui);
    };
    const realEnqueue = chirpstack.enqueueDownlink.bind(chirpstack);
    chirpstack.enqueueDownlink = async (eui, d) => {
      enqueued.push([eui, Buffer.from(d.data).toString('hex').slice(0, 2) + '@' + d.fPort]);
      return realEnqueue(eui, d);
    };
    const { spec, image, plan, targetVersion } = prepareCampaign(h.spec);
    ({ id } = await store.create(spec, image, { plan: JSON.stringify(plan), targetVersion: String(targetVersion), ruleVersion: '1' }));
    let cancelled = false;
    for (let steps = 0; steps < 5000; steps++) {
      h.net.advanceTo(now);
      await processUplinks(ctx, heard.splice(0));
      if (!cancelled && (await store.get(id))!.stage === 'broadcast' && h.fragmentsOnAir().length >= 3) {
        cancelled = await store.requestCancel(id);
        for (const [eui, d] of await store.devices(id)) if (d.p !== 'discover' && d.p !== 'final') setUp.push(eui);
        enqueued.length = 0;
      }
      let delay: number | null;
      try {
        delay = await advance(ctx, id);
      } catch {
        continue;
      }
      if (delay === null) break;
      now += delay;
    }
  }, 120_000);

  afterAll(async () => {
    chirpstack?.close();
    h.cs.stop();
    h.net.close();
    await store?.purgeAll();
    redis?.disconnect();
  });

  it('ends cancelled: devices Cancelled, group deleted, set-up devices told to drop session and group', async () => {
    expect(crashed).toBe(1);
    const c = (await store.get(id))!;
    expect(c.stage).toBe('cancelled');
    const devs = await store.devices(id);
    expect([...devs.values()].every((d) => d.s === 'Cancelled' && d.p === 'final')).toBe(true);
    expect(h.cs.groups.size).toBe(0);
    expect(await redis.hget(store.keys.campaign(id), 'fx')).toBeNull();
    expect(await store.campaignOf(h.sim[0]!.devEui)).toBeNull();
    const ev = await store.readEvents(id, '0', 0, 100_000);
    expect(ev.filter((e) => e.type === 'cancelled')).toEqual([expect.objectContaining({ devices: 6 })]);
    // Every set-up device was sent FragSessionDeleteReq (TS004 CID 0x03) and McGroupDeleteReq (TS005 CID 0x03).
    expect(setUp.length).toBeGreaterThan(0);
    for (const eui of setUp) {
      const sent = enqueued.filter(([e]) => e === eui).map(([, x]) => x);
      expect(sent).toEqual(expect.arrayContaining(['03@201', '03@200']));
    }
    // A device that heard them dropped the session and the group (one may lose the fire-and-forget request on
    // the radio and keep its group until the session times out).
    h.net.advanceTo(now + 15 * 60_000);
    expect(h.sim.filter((d) => d.state.groups.length > 0).length).toBeLessThanOrEqual(1);
  });
});
