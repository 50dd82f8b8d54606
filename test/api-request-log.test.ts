import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from '../src/api/grpc-client.js';
import { startApiServer, type ApiServer } from '../src/api/grpc-server.js';
import { requestLogInterceptor } from '../src/api/request-log.js';
import { redisUrl } from '../src/store/queue.js';
import { makeSpec } from './helpers/spec.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { Redis } from 'ioredis';

describe('API request log', () => {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const token = randomBytes(16).toString('hex');
  const prefix = `t-reqlog-${randomBytes(6).toString('hex')}`;
  let server: ApiServer;
  let client: ApiClient;
  beforeAll(async () => {
    server = await startApiServer({
      redisUrl: redisUrl(),
      prefix,
      token,
      address: '127.0.0.1:0',
      interceptors: [requestLogInterceptor({ info: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }) })],
    });
    client = createApiClient({ address: `127.0.0.1:${server.port}`, token });
  });
  afterAll(async () => {
    client.close();
    await server.close();
    const store = new CampaignStore(new Redis(redisUrl()), prefix);
    await store.purgeAll();
    await store.redis.quit();
  });

  it('logs method, status code and duration of each call, never the token or the spec', async () => {
    const { id } = await client.create(JSON.stringify(makeSpec(1)));
    await client.get(id);
    await client.get('missing').catch(() => {});
    expect(lines.map((l) => [l.msg, l.obj.method, l.obj.code])).toEqual([
      ['api request', '/lorafuota.v1.CampaignService/Create', 'OK'],
      ['api request', '/lorafuota.v1.CampaignService/Get', 'OK'],
      ['api request', '/lorafuota.v1.CampaignService/Get', 'NOT_FOUND'],
    ]);
    for (const l of lines) expect(typeof l.obj.ms).toBe('number');
    const all = JSON.stringify(lines);
    expect(all).not.toContain(token);
    expect(all).not.toContain('imageBase64');
  });
});
