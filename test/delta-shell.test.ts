/**
 * A delta campaign through the real submission and worker shell (workers/pipeline/advance.ts) against Redis and the
 * simulated ChirpStack's gRPC API, in virtual time: the deltas stored by submitCampaign, each group's fragments
 * encoded from its own image by the shell, every device on either base updated.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCampaign } from '../src/service/submit.js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { parseCampaignState } from '../src/store/campaign-state.js';
import type { WorkerContext } from '../src/service/context.js';
import { advance } from '../src/service/pipeline/advance.js';
import { processUplinks, type NormalizedUplink } from '../src/service/uplinks.js';
import { REDIS_URL } from './helpers/campaign-env.js';
import { BASE_A, BASE_B, DELTA_A, DELTA_B, FULL, TARGET, VA, VB, key } from './helpers/delta-fixtures.js';
import { PipelineHarness, T0 } from './helpers/pipeline-harness.js';

describe('a delta campaign through submission and the worker shell', () => {
  const heard: NormalizedUplink[] = [];
  const h = new PipelineHarness({
    devices: 8,
    loss: 0.1,
    seed: 73,
    images: { key, full: FULL, deltas: [DELTA_A, DELTA_B], baseImageOf: (i) => (i % 2 ? BASE_A : BASE_B) },
    uplinks: (u) => heard.push({ devEui: u.devEui, applicationId: '', fPort: u.fPort, fCnt: u.fCnt, data: u.data, timeMs: u.timeMs, deduplicationId: randomUUID() }),
  });
  const prefix = `lfdelta-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let store: CampaignStore;
  let chirpstack: ChirpStackClient;
  let id: string;
  let now = T0;
  const planEvents: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const port = await h.cs.listen('127.0.0.1', 0);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    store = new CampaignStore(redis, prefix);
    chirpstack = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: h.cs.apiToken, tls: false });
    const queue = { add: async () => undefined } as unknown as Queue; // the loop below steps the campaign
    const ctx: WorkerContext = {
      store,
      queue,
      chirpstack,
      clock: { now: () => now },
      log: pino({ level: 'silent' }),
      wallDelay: (ms) => ms,
      rootKeys: new Map(),
      close: async () => {},
    };
    ({ id } = await submitCampaign({ store, queue }, h.spec));
    planEvents.push(...(await store.readEvents(id, '0', 0, 100)).filter((e) => e.type === 'plan'));
    for (let steps = 0; steps < 5000; steps++) {
      h.net.advanceTo(now);
      await processUplinks(ctx, heard.splice(0));
      const delay = await advance(ctx, id);
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

  it('plans the deltas at submission with what each saves', () => {
    expect(planEvents).toHaveLength(1);
    const deltas = planEvents[0]!.deltas as Record<string, unknown>[];
    expect(deltas.map((d) => [d.baseVersion, d.imageBytes, d.savedBytes])).toEqual([
      ['1.2.0', DELTA_A.length, FULL.length - DELTA_A.length],
      ['1.3.0', DELTA_B.length, FULL.length - DELTA_B.length],
    ]);
    for (const d of deltas) expect(d.savedPlannedAirtimeSeconds as number).toBeGreaterThan(0);
  });

  it('updates every device on both bases, each group from its own delta', async () => {
    const c = (await store.get(id))!;
    expect(c.stage).toBe('done');
    const devs = await store.devices(id);
    expect([...devs.values()].map((d) => d.s)).toEqual(Array(8).fill('Updated'));
    for (const d of h.sim) expect(d.state.runningVersion).toBe(TARGET);
    const st = parseCampaignState(c);
    const sent = st.groups.filter((g) => g.fragmentsSent > 0);
    expect(sent.map((g) => g.key.base).sort()).toEqual([VA, VB]);
    for (const g of sent) expect(g.plan.nbFrag * g.plan.fragSize - g.plan.padding).toBe(g.key.base === VA ? DELTA_A.length : DELTA_B.length);
    const report = (await store.readEvents(id, '0', 0, 100_000)).find((e) => e.type === 'report')!;
    expect((report.savings as Record<string, number>).savedAirtimeSeconds).toBeGreaterThan(0);
    // Released with the campaign.
    expect(await redis.exists(store.keys.deltaImages(id))).toBe(0);
  });
});
