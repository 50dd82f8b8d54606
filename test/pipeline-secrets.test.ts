/**
 * No key material at rest behind a finished campaign: every Redis key of the run (hashes, streams, strings, BullMQ
 * job data) is dumped and searched for the McKey, the McAppSKey / McNwkSKey derived from it and the devices' root
 * keys, in hex and base64 and as raw bytes. While the campaign runs, the McKey is sealed when a store key is set.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignView } from '../src/api/campaign-view.js';
import { submitCampaign } from '../src/service/submit.js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { rootKeyFor } from '../src/chirpstack/keys.js';
import { mcSessionKeys } from '../src/codec/keys.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { campaignQueue, connectionFromUrl } from '../src/store/queue.js';
import { isSealed, open, setStoreKey, storeKeyFromEnv } from '../src/store/secrets.js';
import type { WorkerContext } from '../src/service/context.js';
import { advance } from '../src/service/pipeline/advance.js';
import { processUplinks, type NormalizedUplink } from '../src/service/uplinks.js';
import { REDIS_URL } from './helpers/campaign-env.js';
import { PipelineHarness, T0 } from './helpers/pipeline-harness.js';

/** Every value under `prefix`, whatever its type, as one buffer. */
async function dump(redis: Redis, prefix: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      parts.push(Buffer.from(k));
      const type = await redis.type(k);
      if (type === 'string') parts.push((await redis.getBuffer(k)) ?? Buffer.alloc(0));
      else if (type === 'hash') parts.push(...(await redis.hgetallBuffer(k) ? Object.entries(await redis.hgetallBuffer(k)).flatMap(([f, v]) => [Buffer.from(f), v]) : []));
      else if (type === 'stream') for (const [id, f] of await redis.xrangeBuffer(k, '-', '+')) parts.push(id, ...f);
      else if (type === 'list') parts.push(...(await redis.lrangeBuffer(k, 0, -1)));
      else if (type === 'set') parts.push(...(await redis.smembersBuffer(k)));
      else if (type === 'zset') parts.push(...(await redis.zrangeBuffer(k, 0, -1)));
      else throw new Error(`unexpected type ${type} of ${k}`);
    }
  } while (cursor !== '0');
  return Buffer.concat(parts);
}

function forms(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  return [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url')];
}

for (const withKey of [true, false]) {
  describe(`secrets at rest (${withKey ? 'LORAFUOTA_STORE_KEY set: sealed, then dropped' : 'no store key: dropped at the end'})`, () => {
    const heard: NormalizedUplink[] = [];
    const h = new PipelineHarness({
      devices: 5,
      loss: 0.05,
      seed: withKey ? 97 : 98,
      uplinks: (u) => heard.push({ devEui: u.devEui, applicationId: '', fPort: u.fPort, fCnt: u.fCnt, data: u.data, timeMs: u.timeMs, deduplicationId: randomUUID() }),
    });
    const prefix = `lfsec-${randomUUID().slice(0, 8)}`;
    const storeKey = withKey ? Buffer.alloc(32, 0x5a) : null;
    const logs: string[] = [];
    let redis: Redis;
    let store: CampaignStore;
    let chirpstack: ChirpStackClient;
    let queue: ReturnType<typeof campaignQueue>;
    let id = '';
    let now = T0;
    let storedMid = '';
    let viewMid = '';
    let mcKeyHex = '';
    let mcAddr = 0;

    beforeAll(async () => {
      setStoreKey(storeKey);
      const port = await h.cs.listen('127.0.0.1', 0);
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      store = new CampaignStore(redis, prefix);
      queue = campaignQueue(connectionFromUrl(REDIS_URL), prefix);
      chirpstack = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: h.cs.apiToken, tls: false });
      const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }));
      const ctx: WorkerContext = { store, queue, chirpstack, clock: { now: () => now }, log, wallDelay: (ms) => ms, rootKeys: new Map(), close: async () => {} };
      // A producer's submit job in BullMQ, and the submission itself (which schedules the first advance job).
      await queue.add('submit', { spec: h.spec });
      ({ id } = await submitCampaign({ store, queue }, h.spec));
      for (let steps = 0; steps < 5000; steps++) {
        h.net.advanceTo(now);
        await processUplinks(ctx, heard.splice(0));
        const c = (await store.get(id))!;
        if (!storedMid && c.stage === 'broadcast') {
          storedMid = c.data.mcKey ?? '';
          mcAddr = Number(c.data.mcAddr);
          viewMid = JSON.stringify(campaignView(c, await store.devices(id), true));
        }
        const delay = await advance(ctx, id);
        if (delay === null) break;
        now += delay;
      }
      mcKeyHex = open(storedMid, id, 'mcKey', storeKey);
    }, 120_000);

    afterAll(async () => {
      setStoreKey(undefined);
      chirpstack?.close();
      h.cs.stop();
      h.net.close();
      await queue?.obliterate({ force: true }).catch(() => undefined);
      await queue?.close();
      await store?.purgeAll();
      redis?.disconnect();
    });

    it('ran to the end', async () => {
      expect((await store.get(id))!.stage).toBe('done');
      expect(mcKeyHex).toMatch(/^[0-9a-f]{32}$/);
      expect(mcAddr).toBeGreaterThan(0);
      expect(h.cs.groups.size).toBe(0);
      const devs = await store.devices(id);
      expect([...devs.values()].map((d) => d.s)).toEqual(Array(5).fill('Updated'));
    });

    it(withKey ? 'kept the McKey sealed while the campaign ran' : 'kept the McKey in clear while the campaign ran', () => {
      expect(isSealed(storedMid)).toBe(withKey);
      if (withKey) expect(storedMid).not.toContain(mcKeyHex);
    });

    it('no McKey, McAppSKey, McNwkSKey or device root key in any Redis key, the logs or the API view', async () => {
      const mcKey = Buffer.from(mcKeyHex, 'hex');
      const { mcAppSKey, mcNwkSKey } = mcSessionKeys(mcKey, mcAddr);
      const roots = [...h.cs.devices.values()].map((d) => Buffer.from(rootKeyFor(d.keys, '1.0.3').keyHex, 'hex'));
      const secrets: [string, Uint8Array][] = [['McKey', mcKey], ['McAppSKey', mcAppSKey], ['McNwkSKey', mcNwkSKey], ...roots.map((r, i): [string, Uint8Array] => [`root key ${i}`, r])];
      const all = await dump(redis, prefix);
      expect(all.length).toBeGreaterThan(1000);
      expect(all.includes(Buffer.from(id))).toBe(true);
      expect(all.includes(Buffer.from(`${prefix}:bull`))).toBe(true); // BullMQ's keys were dumped too
      const text = all.toString('latin1');
      const found: string[] = [];
      for (const [name, key] of secrets) {
        if (all.includes(Buffer.from(key))) found.push(`${name} (raw)`);
        for (const f of forms(key)) if (text.includes(f) || logs.join('').includes(f) || viewMid.includes(f)) found.push(`${name} (${f})`);
      }
      expect(found).toEqual([]);
    });
  });
}

describe('the store key from the environment', () => {
  it('takes 64 hex digits or base64 of 32 bytes, refuses anything else naming the variable', () => {
    expect(storeKeyFromEnv({})).toBeNull();
    expect(storeKeyFromEnv({ LORAFUOTA_STORE_KEY: '11'.repeat(32) })).toEqual(Buffer.alloc(32, 0x11));
    expect(storeKeyFromEnv({ LORAFUOTA_STORE_KEY: Buffer.alloc(32, 7).toString('base64') })).toEqual(Buffer.alloc(32, 7));
    expect(() => storeKeyFromEnv({ LORAFUOTA_STORE_KEY: 'abcd' })).toThrow(/^LORAFUOTA_STORE_KEY: expected 32 bytes/);
  });

  it('a sealed value opens only with its key and campaign, and names the field otherwise', async () => {
    const { seal } = await import('../src/store/secrets.js');
    const k = Buffer.alloc(32, 1);
    const s = seal('00112233445566778899aabbccddeeff', 'c1', k);
    expect(open(s, 'c1', 'mcKey', k)).toBe('00112233445566778899aabbccddeeff');
    expect(() => open(s, 'c2', 'mcKey', k)).toThrow(/^mcKey: cannot be opened/);
    expect(() => open(s, 'c1', 'mcKey', Buffer.alloc(32, 2))).toThrow(/^mcKey: cannot be opened/);
    expect(() => open(s, 'c1', 'mcKey', null)).toThrow(/^mcKey: stored sealed, but LORAFUOTA_STORE_KEY is not set/);
  });
});
