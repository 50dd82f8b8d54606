// gRPC API figures against the local Redis (REDIS_URL): Create, Get of a 10,000-device campaign, Watch replay.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Bench } from './run.js';
import { startApiServer } from '../src/api/grpc-server.js';
import { createApiClient } from '../src/api/grpc-client.js';
import type { ApiClient } from '../src/api/grpc-client.js';
import { formatPublicKeyFile, generateKeyPair } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { redisUrl } from '../src/store/queue.js';
import { median } from './timing.js';


/** Runs `fn` against a fresh server on a throw-away prefix (with a store on it), then purges the prefix. */
async function withApi<T>(fn: (client: ApiClient, store: CampaignStore) => Promise<T>): Promise<T> {
  const prefix = `bench-api-${randomBytes(4).toString('hex')}`;
  const token = randomBytes(8).toString('hex');
  const server = await startApiServer({ redisUrl: redisUrl(), prefix, token, address: '127.0.0.1:0' });
  const client = createApiClient({ address: `127.0.0.1:${server.port}`, token });
  const store = new CampaignStore(new Redis(redisUrl()), prefix);
  try {
    return await fn(client, store);
  } finally {
    client.close();
    await server.close();
    await store.purgeAll();
    await store.redis.quit();
  }
}

const key = generateKeyPair('ed25519');
const image = signImage(new Uint8Array(64 * 1024).fill(0xa5), { key, version: '2.0.0', deviceClass: 'bench' });

function specJson(devices: number): string {
  return JSON.stringify({
    name: 'bench',
    applicationId: 'app',
    imageBase64: Buffer.from(image).toString('base64'),
    publicKeys: [formatPublicKeyFile(key)],
    deviceClass: 'bench',
    devices: Array.from({ length: devices }, () => ({ devEui: randomBytes(8).toString('hex') })),
  });
}

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export const benches: Bench[] = [
  {
    name: 'api create 1k dev 64KiB',
    run: () => withApi(async (client) => ({ medianMs: median(await timed(9, () => client.create(specJson(1000)))) })),
  },
  {
    name: 'api get 10k devices',
    run: () =>
      withApi(async (client) => {
        const { id } = await client.create(specJson(10_000));
        const counts = median(await timed(9, () => client.get(id)));
        const rows = median(await timed(5, () => client.get(id, true)));
        return { medianMs: counts, withDeviceRowsMs: rows };
      }),
  },
  {
    name: 'api watch replay 10k ev',
    run: () =>
      withApi(async (client, store) => {
        const { id } = await client.create(specJson(1));
        const p = store.redis.pipeline();
        for (let i = 0; i < 10_000; i++) p.xadd(store.keys.events(id), '*', 'e', JSON.stringify({ type: 'tick', time: i, i }));
        await p.exec();
        await store.setStage(id, 'done');
        let events = 0;
        const ms = await timed(5, async () => {
          events = 0;
          for await (const _ of client.watch(id).events) events++;
        });
        const m = median(ms);
        return { medianMs: m, events, eventsPerSecond: Math.round(events / (m / 1000)) };
      }),
  },
];
