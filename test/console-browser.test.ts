// The web console and /metrics against a campaign running in the simulator, in headless Chromium.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCampaign } from '../src/service/submit.js';
import { startHttpConsole, type HttpConsole } from '../src/api/http-console.js';
import { FleetReader } from '../src/obs/fleet.js';
import { redisCheck } from '../src/obs/health.js';
import { setStoreSnapshot } from '../src/obs/metrics.js';
import { followCampaignLogs, type LogFollower } from '../src/obs/campaign-log.js';
import { REDIS_URL, startCampaignEnv, waitForStage, type CampaignEnv } from './helpers/campaign-env.js';

/** The page's globals used in the functions that run in the browser (the tests are type-checked without the DOM library). */
declare const document: {
  querySelectorAll(selector: string): { length: number };
  getElementById(id: string): { textContent: string | null; dataset: Record<string, string | undefined> } | null;
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`console-browser: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

/** Exposition text -> samples (name, labels, value). */
function parseMetrics(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`metrics: unparsable line "${line}"`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

describe('web console and /metrics during a simulated campaign', () => {
  let ce: CampaignEnv;
  let web: HttpConsole;
  let id: string;
  let base: string;
  const logLines: { obj: Record<string, unknown>; msg: string }[] = [];
  let follower: LogFollower;
  beforeAll(async () => {
    // Scaled wall time (not virtual): the page must see the campaign run, so it has to take a while in wall time.
    ce = await startCampaignEnv({ devices: 16, loss: 0.1, seed: 5, time: { speedup: 100 } });
    const queue = ce.workers[0]!.ctx.queue;
    const fleet = new FleetReader(ce.store, queue);
    setStoreSnapshot(() => fleet.snapshot(), 200);
    web = await startHttpConsole({ store: ce.store, fleet, token: 'console-token', port: 0, checks: [redisCheck(REDIS_URL)], blockMs: 300 });
    base = `http://127.0.0.1:${web.port}`;
    const sink = (obj: object, msg: string) => logLines.push({ obj: obj as Record<string, unknown>, msg });
    follower = followCampaignLogs({ redis: ce.store.redis, prefix: ce.prefix, log: { info: sink, warn: sink }, intervalMs: 200 });
    ({ id } = await submitCampaign({ store: ce.store, queue }, ce.env.spec));
  }, 60_000);
  afterAll(async () => {
    setStoreSnapshot(undefined);
    await follower?.close();
    await web?.close();
    await ce?.close();
  });

  it('/metrics shows the campaign, device, fragment, airtime, uplink, ChirpStack, step and queue series while it runs', async () => {
    await waitForStage(ce.store, id, ['broadcast', 'status'], 90_000);
    // Wait until some fragments are out.
    for (let i = 0; i < 400 && !(Number((await ce.store.get(id))!.data.fragmentsSent) > 0); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // past the snapshot cache
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const samples = parseMetrics(text);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
    const stage = (await ce.store.get(id))!.stage;
    expect(value('lorafuota_campaigns', { stage })).toBeGreaterThanOrEqual(1);
    expect(value('lorafuota_devices')).toBe(16);
    expect(value('lorafuota_fragments_sent', { kind: 'uncoded' })).toBeGreaterThan(0);
    const air = samples.filter((s) => s.name === 'lorafuota_multicast_airtime_seconds');
    expect(air.map((s) => s.labels)).toContainEqual({ region: 'EU868', sub_band: 'g3 (869.4-869.65)' });
    expect(value('lorafuota_multicast_airtime_seconds', { region: 'EU868' })).toBeGreaterThan(0);
    expect(value('lorafuota_uplinks_total', { outcome: 'accepted' })).toBeGreaterThan(0);
    expect(value('lorafuota_uplinks_total', { outcome: 'answer' })).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'lorafuota_uplinks_total' && s.labels.outcome === 'duplicate')).toBe(true);
    expect(value('lorafuota_chirpstack_call_duration_seconds_count', { rpc: 'MulticastGroupService.Enqueue', code: 'OK' })).toBeGreaterThan(0);
    expect(value('lorafuota_step_duration_seconds_count', { result: 'ok' })).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'lorafuota_queue_jobs' && s.labels.state === 'delayed')).toBe(true);
    expect(samples.some((s) => s.name === 'lorafuota_repair_rounds')).toBe(true);
    // Bounded labels: no DevEUI and no campaign id anywhere.
    for (const d of ce.env.devices) expect(text).not.toContain(d.devEui);
    expect(text).not.toContain(id);
  }, 120_000);

  it.skipIf(!hasChromium)('the campaign page shows the device table and a chart that follows the broadcast', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/`);
      await expect(page.locator('#campaigns tbody tr').count()).resolves.toBeGreaterThan(0);
      await page.goto(`${base}/campaigns/${id}`);
      await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 16);
      const euis = await page.locator('#devices tbody tr td:first-child').allTextContents();
      expect(euis).toEqual(ce.env.devices.map((d) => d.devEui).sort());
      const stage0 = await page.locator('#chart').getAttribute('data-stage');
      const draws0 = Number(await page.locator('#chart').getAttribute('data-draws'));
      expect(draws0).toBeGreaterThan(0);
      // Live updates: the page follows the campaign (event stream + summary) to its end and redraws the chart.
      await waitForStage(ce.store, id, ['done'], 120_000);
      await page.waitForFunction(() => document.getElementById('c-stage')!.textContent === 'done', undefined, { timeout: 30_000 });
      await page.waitForFunction(() => document.getElementById('chart')!.dataset.stage === 'done', undefined, { timeout: 30_000 });
      expect(stage0).not.toBe('done');
      expect(Number(await page.locator('#chart').getAttribute('data-draws'))).toBeGreaterThan(draws0);
      const c = (await ce.store.get(id))!;
      expect(await page.locator('#chart').getAttribute('data-sent')).toBe(c.data.fragmentsSent);
      expect(await page.locator('#c-sent').textContent()).toBe(c.data.fragmentsSent);
      await expect(page.locator('#chart polyline.sent').count()).resolves.toBe(1);
      expect(Number(await page.locator('#chart polyline.sent').getAttribute('data-points'))).toBeGreaterThan(1);
      const live = await page.locator('#events li').allTextContents();
      expect(live.some((t) => /stage +stage=done/.test(t))).toBe(true);
      // Filter through the server-side paging endpoint.
      const byStatus = new Map<string, number>();
      for (const d of (await ce.store.devices(id)).values()) byStatus.set(d.s, (byStatus.get(d.s) ?? 0) + 1);
      const [status, count] = [...byStatus].sort((a, b) => b[1] - a[1])[0]!;
      await page.selectOption('#f-status', status);
      await page.waitForFunction((want) => document.getElementById('d-count')!.textContent === want, `${count} of 16 devices`);
      const shown = await page.locator('#devices tbody tr td:nth-child(2)').allTextContents();
      expect(shown).toEqual(Array(count).fill(status));
      await page.selectOption('#f-status', '');
      await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 16);
      const stages = await page.locator('#events li').allTextContents();
      expect(stages.some((t) => / stage +stage=broadcast/.test(t))).toBe(true);
      await mkdir('.tmp', { recursive: true });
      await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT ?? '.tmp/console.png', fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 240_000);

  it('logs the campaign from its events: stages, repair rounds, one line per device outcome, the end with counts', async () => {
    await waitForStage(ce.store, id, ['done'], 120_000);
    for (let i = 0; i < 100 && !logLines.some((l) => l.msg === 'stage done'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(logLines.every((l) => l.obj.campaign === id)).toBe(true);
    const msgs = logLines.map((l) => l.msg);
    for (const stage of ['group', 'setup', 'session', 'broadcast', 'apply', 'cleanup', 'done']) expect(msgs).toContain(`stage ${stage}`);
    const c = (await ce.store.get(id))!;
    // One line per repair event (a round that only asks silent devices again sends nothing and writes none).
    const repairs = (await ce.store.readEvents(id, '0', 0, 100_000)).filter((e) => e.type === 'repair');
    expect(msgs.filter((m) => m.startsWith('repair round'))).toEqual(repairs.map((e) => `repair round ${String(e.round)}: ${String(e.fragments)} more fragments`));
    const devices = logLines.filter((l) => l.msg === 'device updated' || l.msg.startsWith('device failed'));
    expect(devices.map((l) => l.obj.devEui).sort()).toEqual(ce.env.devices.map((d) => d.devEui).sort());
    const end = logLines.find((l) => l.msg.startsWith('campaign ended'))!;
    expect(end.obj).toMatchObject({ devices: 16, fragmentsSent: Number(c.data.fragmentsSent) });
    expect(JSON.stringify(logLines)).not.toMatch(/mcKey|[0-9a-f]{32}/i);
  }, 150_000);
});
