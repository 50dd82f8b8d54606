// The console's HTTP endpoints against a store with a 10,000-device campaign (no pipeline running).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceState } from '../src/campaign/model.js';
import { devicePage, parseDeviceQuery } from '../src/api/console-data.js';
import { startHttpConsole, type HttpConsole } from '../src/api/http-console.js';
import { redisCheck } from '../src/obs/health.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { redisUrl } from '../src/store/queue.js';

const N = 10_000;
const TOKEN = 'console-test-token';
let store: CampaignStore;
let web: HttpConsole;
let base: string;
let id: string;
const euiPrefix = randomBytes(6).toString('hex');
const eui = (i: number) => euiPrefix + i.toString(16).padStart(4, '0');

function state(i: number): DeviceState {
  if (i % 10 === 0) return { p: 'final', s: 'MissingFragments', r: 'block not reassembled after 40 fragments', t: 1000 + i, lw: '1.0', fs: [30, 10, 0, 40] };
  if (i % 2 === 0) return { p: 'final', s: 'Updated', t: 1000 + i, lw: '1.0', fw: 0x01020003 };
  return { p: 'listening', s: 'Pending', t: 1000 + i, lw: '1.1', o: { port: 201, hex: '00', at: 1, n: 2, ok: true } };
}

beforeAll(async () => {
  store = new CampaignStore(new Redis(redisUrl()), `t-web-${randomBytes(6).toString('hex')}`);
  const spec = {
    name: '<script>alert(1)</script> fleet',
    applicationId: 'app',
    devices: Array.from({ length: N }, (_, i) => ({ devEui: eui(i), lorawan: '1.0' as const })),
    multicast: { region: 'EU868', frequencyHz: 869_525_000, gatewayCount: 2 },
    fragmentation: { initialRedundancyPercent: 10, maxRedundancyPercent: 200, maxRepairRounds: 5 },
  };
  ({ id } = await store.create(spec as never, new Uint8Array(4)));
  await store.commit(id, new Map(Array.from({ length: N }, (_, i) => [eui(i), state(i)])), [], {
    plan: JSON.stringify({ nbFrag: 100, fragSize: 200, initialCoded: 10, maxCoded: 200, etaSeconds: 600, fragmentAirtimeMs: 300, sessionSeconds: 1000, warnings: [] }),
    fragmentsSent: 115,
    targetN: 125,
    rounds: 1,
    airtimeMs: 69_000,
    mcKey: 'aa'.repeat(16),
  });
  await store.setStage(id, 'broadcast');
  await store.addEvent(id, { type: 'repair', round: 1, fragments: 15, devices: 3, worst: 12 });
  await store.addEvent(id, { type: 'turnWait', group: 1, key: 'EU868/C/v2', waitsFor: [0], gateways: ['0016c001f153a14c'] });
  web = await startHttpConsole({ store, token: TOKEN, port: 0, checks: [redisCheck(redisUrl())], blockMs: 100 });
  base = `http://127.0.0.1:${web.port}`;
}, 60_000);
afterAll(async () => {
  await web?.close();
  await store.purgeAll();
  await store.redis.quit();
});

const getJson = async (path: string) => {
  const r = await fetch(base + path);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('device table paging (pure)', () => {
  const devices = new Map(Array.from({ length: N }, (_, i): [string, DeviceState] => [eui(i), state(i)]));
  it('pages, filters by status, phase and text, and sorts by DevEUI', () => {
    const last = devicePage(devices, { offset: 9950, limit: 100 });
    expect(last).toMatchObject({ total: N, matched: N, offset: 9950, limit: 100 });
    expect(last.rows.map((r) => r.devEui)).toEqual(Array.from({ length: 50 }, (_, i) => eui(9950 + i)));
    expect(devicePage(devices, { status: 'MissingFragments', offset: 0, limit: 10 }).matched).toBe(1000);
    expect(devicePage(devices, { status: 'Updated', offset: 0, limit: 10 }).matched).toBe(4000);
    expect(devicePage(devices, { phase: 'listening', offset: 0, limit: 10 }).matched).toBe(5000);
    expect(devicePage(devices, { q: eui(1234).toUpperCase(), offset: 0, limit: 10 }).rows.map((r) => r.devEui)).toEqual([eui(1234)]);
    expect(devicePage(devices, { q: 'reassembled', offset: 0, limit: 1 }).matched).toBe(1000);
    expect(devicePage(devices, { offset: 20_000, limit: 10 })).toMatchObject({ offset: N, rows: [] });
  });

  it('shows firmware as X.Y.Z and the last answer in words', () => {
    const [a, b, c] = devicePage(devices, { offset: 0, limit: 3 }).rows;
    expect(a).toMatchObject({ status: 'MissingFragments', fw: '', lastAnswer: 'status: received 30, missing 10' });
    expect(b).toMatchObject({ status: 'Pending', lastAnswer: 'awaiting port 201 answer (attempt 2)' });
    expect(c).toMatchObject({ status: 'Updated', fw: '1.2.3', lastAnswer: '' });
  });

  it('rejects a bad query with the field and the reason', () => {
    expect(() => parseDeviceQuery(new URLSearchParams('limit=abc'))).toThrow('limit: expected an integer 0..500, got "abc"');
    expect(() => parseDeviceQuery(new URLSearchParams('offset=-1'))).toThrow('offset: expected an integer');
    expect(() => parseDeviceQuery(new URLSearchParams('status=Nope'))).toThrow('status: unknown status "Nope"');
    expect(parseDeviceQuery(new URLSearchParams('limit=0'))).toMatchObject({ limit: 1, offset: 0 });
  });
});

describe('HTTP console', () => {
  it('serves the list and campaign pages with the name escaped and a strict content policy', async () => {
    const list = await fetch(`${base}/`);
    expect(list.status).toBe(200);
    const html = await list.text();
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; fleet');
    expect(html).not.toContain('<script>alert');
    expect(html).toMatch(new RegExp(`<td class="num">${N}</td>\\s*<td class="num ok">4000</td><td class="num bad">1000</td><td class="num">5000</td>`));
    const page = await fetch(`${base}/campaigns/${id}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const body = await page.text();
    expect(body).toContain(`data-id="${id}"`);
    expect(body).toContain('sub-band g3 (869.4-869.65)');
    expect(body).not.toContain('aa'.repeat(16));
    expect((await fetch(`${base}/campaigns/nope`)).status).toBe(404);
    const js = await fetch(`${base}/static/console.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('EventSource');
  });

  it('summarizes plan, progress and airtime budget without key material', async () => {
    const { status, body } = await getJson(`/api/campaigns/${id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id, stage: 'broadcast', devicesTotal: N, updated: 4000, failed: 1000, pending: 5000 });
    expect(body.fragments).toEqual({ sent: 115, scheduled: 125, initial: 110, max: 300, repairRounds: 1 });
    expect(body.airtime).toMatchObject({ budgetSeconds: 100, region: 'EU868', subBand: 'g3 (869.4-869.65)', dutyCycle: 0.1, gateways: 2, usedSeconds: 69, perGatewaySeconds: 34.5 });
    expect(JSON.stringify(body)).not.toContain('aa'.repeat(16));
    const tl = await getJson(`/api/campaigns/${id}/timeline`);
    expect((tl.body.stages as { stage: string }[]).map((s) => s.stage)).toEqual(['broadcast']);
    expect((tl.body.scheduled as { n: number }[]).map((s) => s.n)).toEqual([110, 125]);
    expect((tl.body.sent as { n: number }[]).at(-1)!.n).toBe(115);
    // Why a group of a split campaign waits, for a page opened later.
    expect(tl.body.turns).toMatchObject([{ type: 'turnWait', group: 1, waitsFor: [0], gateways: ['0016c001f153a14c'] }]);
  });

  it('pages through the devices over HTTP and answers 400 to a bad query', async () => {
    const { body } = await getJson(`/api/campaigns/${id}/devices?status=Updated&offset=3990&limit=50`);
    expect(body).toMatchObject({ total: N, matched: 4000, offset: 3990 });
    expect((body.rows as unknown[]).length).toBe(10);
    const bad = await getJson(`/api/campaigns/${id}/devices?limit=9999`);
    expect(bad).toEqual({ status: 400, body: { error: 'limit: expected an integer 0..500, got "9999"' } });
    expect((await getJson('/api/campaigns/nope/devices')).status).toBe(404);
  });

  it('streams live campaign events until the final stage', async () => {
    const res = await fetch(`${base}/api/campaigns/${id}/events`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await store.addEvent(id, { type: 'repair', round: 2, fragments: 7, devices: 1, worst: 6 });
    await store.setStage(id, 'done');
    await read;
    const events = [...text.matchAll(/^event: campaign\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual(['repair', 'stage']);
    expect(events[1]!.stage).toBe('done');
    expect(text).toContain('event: end\n');
    expect(web.activeStreams()).toBe(0);
  });

  it('cancels only with the API token', async () => {
    const other = (await store.create({ name: 'x', devices: [{ devEui: randomBytes(8).toString('hex'), lorawan: '1.0' }] } as never, new Uint8Array(1))).id;
    const url = `${base}/api/campaigns/${other}/cancel`;
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await store.get(other))!.data.cancel).toBeUndefined();
    expect((await fetch(url)).status).toBe(405);
    const ok = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: other, cancelled: true });
    expect((await store.get(other))!.data.cancel).toBe('1');
  });

  it('serves /healthz, /readyz and /metrics on the same port', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ ready: true, checks: { redis: { ok: true } } });
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(m).toMatch(/^lorafuota_http_requests_total\{route="\/api\/campaigns\/:id\/devices",code="200"\} [1-9]/m);
  });
});
