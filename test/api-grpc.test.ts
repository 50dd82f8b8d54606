import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { createApiClient } from '../src/api/grpc-client.js';
import { startApiServer } from '../src/api/grpc-server.js';
import type { ApiCallError } from '../src/api/grpc-client.js';
import type { CampaignEventMsg } from '../src/api/proto.js';
import { makeSpec } from './helpers/spec.js';
import { startTestApi } from './helpers/api-server.js';
import type { TestApi } from './helpers/api-server.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.stop();
});

async function rejection(p: Promise<unknown>): Promise<ApiCallError> {
  try {
    await p;
  } catch (e) {
    return e as ApiCallError;
  }
  throw new Error('expected the call to fail');
}

async function collect(events: AsyncIterable<CampaignEventMsg>): Promise<CampaignEventMsg[]> {
  const out: CampaignEventMsg[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

describe('Create', () => {
  it('stores a valid spec and returns its id', async () => {
    const spec = makeSpec(4);
    const res = await api.client.create(JSON.stringify(spec));
    expect(res.created).toBe(true);
    expect(res.id).toMatch(/^[0-9a-f-]{36}$/);
    const c = await api.client.get(res.id);
    expect(c.name).toBe('test campaign');
    expect(c.stage).toBe('prepare');
    expect(c.applicationId).toBe('app-1');
    expect(c.devicesTotal).toBe(4);
    expect(c.byStatus.Pending).toBe(4);
    expect(c.byStatus.Updated).toBe(0);
    expect(c.byPhase).toEqual({ discover: 4 });
    expect(c.devices).toEqual([]);
  });

  it('returns the first campaign for a repeated client token', async () => {
    const spec = makeSpec(2);
    const a = await api.client.create(JSON.stringify(spec), 'tok-1');
    const b = await api.client.create(JSON.stringify(spec), 'tok-1');
    expect(a.created).toBe(true);
    expect(b).toEqual({ id: a.id, created: false });
    const c = await api.client.create(JSON.stringify({ ...spec, clientToken: 'tok-1' }));
    expect(c).toEqual({ id: a.id, created: false });
  });

  it('rejects an invalid spec with INVALID_ARGUMENT naming the field', async () => {
    const spec = makeSpec(2);
    spec.devices[1] = { devEui: 'zz' };
    const e = await rejection(api.client.create(JSON.stringify(spec)));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.message).toContain('devices.1.devEui');
    expect(e.message).toContain('16 hex digits');
  });

  it('rejects text that is not JSON, and a client token that contradicts the spec', async () => {
    const e = await rejection(api.client.create('{nope'));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.message).toMatch(/^spec_json: not valid JSON/);
    const f = await rejection(api.client.create(JSON.stringify(makeSpec(1, { clientToken: 'a' })), 'b'));
    expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(f.message).toMatch(/^client_token: /);
  });

  it('rejects a device that is already in an active campaign', async () => {
    const spec = makeSpec(2);
    await api.client.create(JSON.stringify(spec));
    const e = await rejection(api.client.create(JSON.stringify({ ...spec, name: 'second' })));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.message).toMatch(new RegExp(`^devices: ${spec.devices[0]!.devEui} is already in an active campaign [0-9a-f-]{36} \\("`));
  });

  it('rejects a wrong or missing token with UNAUTHENTICATED', async () => {
    for (const token of ['wrong', '']) {
      const bad = createApiClient({ address: api.address, token });
      const e = await rejection(bad.create(JSON.stringify(makeSpec(1))));
      expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(e.message).toMatch(/^token: /);
      const w = bad.watch('whatever');
      const we = await rejection(collect(w.events));
      expect(we.code).toBe(grpc.status.UNAUTHENTICATED);
      bad.close();
    }
    expect((await api.store.list()).every((c) => c.name === 'test campaign' || c.name === 'second')).toBe(true);
  });
});

describe('Get, List, Cancel', () => {
  it('reports NOT_FOUND for an unknown id and INVALID_ARGUMENT for an empty one', async () => {
    const e = await rejection(api.client.get('no-such-id'));
    expect(e.code).toBe(grpc.status.NOT_FOUND);
    expect(e.message).toBe('id: no campaign no-such-id');
    const c = await rejection(api.client.cancel('no-such-id'));
    expect(c.code).toBe(grpc.status.NOT_FOUND);
    const empty = await rejection(api.client.get(''));
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.message).toBe('id: required');
  });

  it('returns device rows, counts, progress and data figures', async () => {
    const spec = makeSpec(3);
    const { id } = await api.client.create(JSON.stringify(spec));
    const [a, b, c] = spec.devices.map((d) => d.devEui).sort() as [string, string, string];
    await api.store.commit(
      id,
      new Map([
        [a, { p: 'final', s: 'Updated', t: 1000, lw: '1.0', fw: 0x01020304 }],
        [b, { p: 'listening', s: 'Pending', t: 2000, lw: '1.0' }],
        [c, { p: 'final', s: 'PackageNotSupported', r: 'no TS004', t: 3000, lw: '1.1' }],
      ]),
      [],
      { plan: JSON.stringify({ nbFrag: 100, initialCoded: 15 }), fragmentsSent: 40, etaSeconds: 321, mcKey: '00'.repeat(16) },
    );
    const got = await api.client.get(id, true);
    expect(got.devices).toEqual([
      { devEui: a, status: 'Updated', phase: 'final', reason: '', updatedAt: 1000, fwVersion: 0x01020304 },
      { devEui: b, status: 'Pending', phase: 'listening', reason: '', updatedAt: 2000 },
      { devEui: c, status: 'PackageNotSupported', phase: 'final', reason: 'no TS004', updatedAt: 3000 },
    ]);
    expect(got.byStatus).toMatchObject({ Updated: 1, Pending: 1, PackageNotSupported: 1, Timeout: 0 });
    expect(got.byPhase).toEqual({ final: 2, listening: 1 });
    expect(got.data).toMatchObject({ fragmentsSent: '40', etaSeconds: '321' });
    expect(got.data.mcKey).toBeUndefined();
    // 100 uncoded + 15 coded fragments in the first broadcast.
    expect(got.progress).toEqual({ devicesSetUp: 2, fragmentsSent: 40, fragmentsPlanned: 115, devicesUpdated: 1, devicesFinal: 2 });
  });

  it('lists every campaign, oldest first', async () => {
    const { id } = await api.client.create(JSON.stringify(makeSpec(1, { name: 'listed' })));
    const all = await api.client.list();
    const ids = (await api.store.list()).map((c) => c.id);
    expect(all.map((c) => c.id)).toEqual(ids);
    const mine = all.find((c) => c.id === id)!;
    expect(mine).toMatchObject({ name: 'listed', stage: 'prepare', devicesTotal: 1, byStatus: {}, devices: [] });
  });

  it('cancels an active campaign once', async () => {
    const { id } = await api.client.create(JSON.stringify(makeSpec(1)));
    expect(await api.client.cancel(id)).toBe(true);
    expect((await api.client.get(id)).data.cancel).toBe('1');
    await api.store.setStage(id, 'cancelled');
    expect(await api.client.cancel(id)).toBe(false);
  });
});

describe('Watch', () => {
  it('replays, follows new events and ends at the final stage', async () => {
    const { id } = await api.client.create(JSON.stringify(makeSpec(2)));
    // Whatever submission wrote (created, plan, ...): the replay part of the stream.
    const stored = (await api.store.readEvents(id)).map((e) => e.id);
    const w = api.client.watch(id);
    const received: CampaignEventMsg[] = [];
    for await (const ev of w.events) {
      received.push(ev);
      if (received.length === stored.length) {
        // Replay is over and the server is following: these arrive live.
        await api.store.setStage(id, 'broadcast');
        await api.store.addEvent(id, { type: 'fragments', sent: 10 });
        await api.store.setStage(id, 'done');
        await api.store.addEvent(id, { type: 'late' });
      }
    }
    const n = stored.length;
    expect(received.slice(0, n).map((e) => e.id)).toEqual(stored);
    expect(received[0]!.type).toBe('created');
    expect(received[0]!.time).toBeGreaterThan(0);
    expect(received.slice(n).map((e) => e.type)).toEqual(['stage', 'fragments', 'stage']);
    expect(JSON.parse(received[n + 1]!.json)).toMatchObject({ type: 'fragments', sent: 10, id: received[n + 1]!.id });
    expect(JSON.parse(received[n + 2]!.json)).toMatchObject({ type: 'stage', stage: 'done' });
    expect(api.server.activeWatches()).toBe(0);

    // A finished campaign replays from a cursor up to its final stage event; past that, the stream just ends.
    const after = await collect(api.client.watch(id, received[n]!.id).events);
    expect(after.map((e) => e.type)).toEqual(['fragments', 'stage']);
    const tail = await collect(api.client.watch(id, received[n + 2]!.id).events);
    expect(tail.map((e) => e.type)).toEqual(['late']);
  });

  it('releases the stream when the client cancels, and reports NOT_FOUND for an unknown id', async () => {
    const { id } = await api.client.create(JSON.stringify(makeSpec(1)));
    const w = api.client.watch(id);
    const seen: string[] = [];
    for await (const ev of w.events) {
      seen.push(ev.type);
      w.cancel();
    }
    expect(seen).toEqual(['created']);
    for (let i = 0; i < 50 && api.server.activeWatches() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(api.server.activeWatches()).toBe(0);

    const e = await rejection(collect(api.client.watch('missing').events));
    expect(e.code).toBe(grpc.status.NOT_FOUND);
  });

  it('ends with INTERNAL on an unreadable stored event', async () => {
    const { id } = await api.client.create(JSON.stringify(makeSpec(1)));
    await api.store.redis.xadd(api.store.keys.events(id), '*', 'e', '{broken');
    const e = await rejection(collect(api.client.watch(id).events));
    expect(e.code).toBe(grpc.status.INTERNAL);
    expect(api.server.activeWatches()).toBe(0);
  });

  it('streams a long history in order across read batches', async () => {
    const { id } = await api.client.create(JSON.stringify(makeSpec(1)));
    const p = api.store.redis.pipeline();
    for (let i = 0; i < 2500; i++) {
      p.xadd(api.store.keys.events(id), '*', 'e', JSON.stringify({ type: 'tick', time: i + 1, i }));
    }
    await p.exec();
    await api.store.setStage(id, 'failed', { error: 'test' });
    const got = await collect(api.client.watch(id).events);
    const ticks = got.filter((e) => e.type === 'tick').map((e) => (JSON.parse(e.json) as { i: number }).i);
    expect(ticks).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(got.at(-1)!.type).toBe('stage');
    expect(JSON.parse(got.at(-1)!.json)).toMatchObject({ stage: 'failed', error: 'test' });
  });

  it('ends open watches with UNAVAILABLE when the server closes', async () => {
    const other = await startApiServer({ redisUrl: api.redisUrl, prefix: api.prefix, token: api.token, address: '127.0.0.1:0' });
    const client = createApiClient({ address: `127.0.0.1:${other.port}`, token: api.token });
    const { id } = await client.create(JSON.stringify(makeSpec(1)));
    const w = client.watch(id);
    const types: string[] = [];
    const ended = (async () => {
      for await (const ev of w.events) {
        types.push(ev.type);
        if (ev.type === 'created') void other.close();
      }
    })();
    const e = await rejection(ended);
    expect(types[0]).toBe('created');
    expect(e.code).toBe(grpc.status.UNAVAILABLE);
    expect(e.message).toBe('server: shutting down');
    expect(other.activeWatches()).toBe(0);
    client.close();
  });
});
