/**
 * An API server on a free port over a unique Redis prefix, a client for it, and the store behind it.
 * `stop()` closes everything and purges the prefix.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startApiServer } from '../../src/api/grpc-server.js';
import type { ApiServer } from '../../src/api/grpc-server.js';
import { createApiClient } from '../../src/api/grpc-client.js';
import type { ApiClient } from '../../src/api/grpc-client.js';
import { CampaignStore } from '../../src/store/campaign-store.js';
import { redisUrl } from '../../src/store/queue.js';

export interface TestApi {
  server: ApiServer;
  client: ApiClient;
  store: CampaignStore;
  address: string;
  token: string;
  prefix: string;
  redisUrl: string;
  stop(): Promise<void>;
}

export async function startTestApi(): Promise<TestApi> {
  const prefix = `t-api-${randomBytes(6).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  const url = redisUrl();
  const server = await startApiServer({ redisUrl: url, prefix, token, address: '127.0.0.1:0', watchBlockMs: 200 });
  const address = `127.0.0.1:${server.port}`;
  const client = createApiClient({ address, token });
  const store = new CampaignStore(new Redis(url), prefix);
  return {
    server,
    client,
    store,
    address,
    token,
    prefix,
    redisUrl: url,
    async stop() {
      client.close();
      await server.close();
      await store.purgeAll();
      await store.redis.quit();
    },
  };
}
