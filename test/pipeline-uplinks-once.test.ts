/**
 * Answers reach a campaign at least once and are appended once: the de-duplication marker is set in the same
 * atomic script as the append (workers/uplinks.ts, CampaignStore.appendAnswers), never before it.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStore } from '../src/store/campaign-store.js';
import type { WorkerContext } from '../src/service/context.js';
import { processUplinks, type NormalizedUplink } from '../src/service/uplinks.js';
import { REDIS_URL } from './helpers/campaign-env.js';

describe('uplink answers: at least once, appended once', () => {
  const prefix = `lfonce-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let store: CampaignStore;
  let ctx: WorkerContext;
  const campaignId = randomUUID();
  const euis = Array.from({ length: 10 }, (_, i) => `70b3d57ed00100${i.toString(16).padStart(2, '0')}`);
  const batch: NormalizedUplink[] = euis.map((devEui, i) => ({
    devEui,
    applicationId: 'app',
    fPort: 201,
    fCnt: i,
    data: new Uint8Array([0x01, i]),
    timeMs: 1_000 + i,
    deduplicationId: randomUUID(),
  }));

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    store = new CampaignStore(redis, prefix);
    ctx = { store, queue: {} as Queue, chirpstack: {} as WorkerContext['chirpstack'], clock: { now: () => 0 }, log: pino({ level: 'silent' }), wallDelay: (ms) => ms, rootKeys: new Map(), close: async () => {} };
    // A campaign the devices belong to (only its ports are read).
    await redis.hset(store.keys.campaign(campaignId), { stage: 'setup', name: 'x', spec: JSON.stringify({ ports: { ts003: 202, ts004: 201, ts005: 200, ts006: 203 } }) });
    for (const eui of euis) await redis.hset(store.keys.deviceIndex(), eui, campaignId);
  });
  afterAll(async () => {
    await store?.purgeAll();
    redis?.disconnect();
  });

  it('a batch processed twice (a worker died after appending, before acknowledging) yields each answer once', async () => {
    // The first worker got half the batch appended, then died; the batch is delivered again, twice.
    await store.appendAnswers(batch.slice(0, 5).map((u) => ({ campaignId, devEui: u.devEui, fPort: u.fPort, hex: Buffer.from(u.data).toString('hex'), timeMs: u.timeMs, deduplicationId: u.deduplicationId })));
    await processUplinks(ctx, batch);
    await processUplinks(ctx, batch);
    const got = await store.readAnswers(campaignId, '0');
    expect(got.map((a) => a.devEui).sort()).toEqual([...euis].sort());
    expect(got.map((a) => a.hex).sort()).toEqual(batch.map((u) => Buffer.from(u.data).toString('hex')).sort());
  });

  it('no de-duplication marker exists for an answer that is not in the stream', async () => {
    const lost: NormalizedUplink = { ...batch[0]!, deduplicationId: randomUUID(), data: new Uint8Array([0x01, 0x99]) };
    // The append fails (Redis refuses the write to the stream): no marker may be left behind.
    const streamKey = store.keys.answers(campaignId);
    await redis.rename(streamKey, `${streamKey}-moved`);
    await redis.set(streamKey, 'not a stream');
    await expect(processUplinks(ctx, [lost])).rejects.toThrow();
    await redis.del(streamKey);
    await redis.rename(`${streamKey}-moved`, streamKey);
    expect(await redis.exists(store.keys.answerMark(campaignId, lost.deduplicationId))).toBe(0);
    await processUplinks(ctx, [lost]);
    const got = await store.readAnswers(campaignId, '0');
    expect(got.filter((a) => a.hex === '0199')).toHaveLength(1);
  });

  it('a step reads every answer waiting, over as many pages as it takes', async () => {
    const id = randomUUID();
    const many = Array.from({ length: 23 }, (_, i) => ({ campaignId: id, devEui: i.toString(16).padStart(16, '0'), fPort: 201, hex: '01', timeMs: i, deduplicationId: randomUUID() }));
    expect(await store.appendAnswers(many)).toBe(23);
    const got = await store.readAnswers(id, '0', 5);
    expect(got.map((a) => a.devEui)).toEqual(many.map((a) => a.devEui));
    // From a cursor in the middle: the rest, in order.
    expect((await store.readAnswers(id, got[9]!.id, 4)).map((a) => a.timeMs)).toEqual(many.slice(10).map((a) => a.timeMs));
  });
});
