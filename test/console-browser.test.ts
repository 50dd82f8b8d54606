// The web console and /metrics against a campaign running in the simulator, in headless Chromium.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCampaign } from '../src/api/submit.js';
import { startHttpConsole, type HttpConsole } from '../src/api/http-console.js';
import { FleetReader } from '../src/obs/fleet.js';
import { redisCheck } from '../src/obs/health.js';
import { setStoreSnapshot } from '../src/obs/metrics.js';
import { REDIS_URL, startCampaignEnv, waitForStage, type CampaignEnv } from './helpers/campaign-env.js';

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
  beforeAll(async () => {
    ce = await startCampaignEnv({ devices: 16, loss: 0.2, seed: 5 });
    const queue = ce.workers[0]!.ctx.queue;
    const fleet = new FleetReader(ce.store, queue);
    setStoreSnapshot(() => fleet.snapshot(), 200);
    web = await startHttpConsole({ store: ce.store, fleet, token: 'console-token', port: 0, checks: [redisCheck(REDIS_URL)], blockMs: 300 });
    base = `http://127.0.0.1:${web.port}`;
    ({ id } = await submitCampaign({ store: ce.store, queue }, ce.env.spec));
  }, 60_000);
  afterAll(async () => {
    setStoreSnapshot(undefined);
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
      const sent0 = Number(await page.locator('#chart').getAttribute('data-sent'));
      // The chart is redrawn with more fragments while the campaign runs.
      await page.waitForFunction((n) => Number(document.getElementById('chart')!.dataset.sent) > n, sent0, { timeout: 90_000 });
      await expect(page.locator('#chart polyline.sent').count()).resolves.toBe(1);
      // Filter through the server-side paging endpoint.
      await waitForStage(ce.store, id, ['done'], 120_000);
      await page.waitForFunction(() => document.getElementById('c-stage')!.textContent === 'done', undefined, { timeout: 30_000 });
      await page.selectOption('#f-status', 'Updated');
      await page.waitForFunction(() => /of 16 devices/.test(document.getElementById('d-count')!.textContent ?? ''));
      const updated = (await ce.store.devices(id)).values();
      const nUpdated = [...updated].filter((d) => d.s === 'Updated').length;
      await expect(page.locator('#d-count').textContent()).resolves.toBe(`${nUpdated} of 16 devices`);
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
});
