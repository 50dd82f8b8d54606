/**
 * The HTTP side of `lorafuota serve`: the web console (campaign list, campaign page with live progress and a
 * paged device table), its JSON endpoints, live events as server-sent events (following the same event stream as
 * the gRPC Watch), and /metrics, /healthz, /readyz. Read-only without a token; cancelling a campaign needs the API
 * bearer token. Pages and the static script work offline (no external resources).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { DeviceState } from '../campaign/model.js';
import type { CampaignStore } from '../store/campaign-store.js';
import { FleetReader } from '../obs/fleet.js';
import { obsRoute } from '../obs/http.js';
import type { Check } from '../obs/health.js';
import { countHttpRequest } from '../obs/metrics.js';
import { devicePage, listRows, parseDeviceQuery, summarize, timeline } from './console-data.js';
import { campaignPage, errorPage, listPage } from './console-pages.js';
import { followEvents } from './event-follower.js';

export interface ConsoleOptions {
  store: CampaignStore;
  fleet?: FleetReader;
  /** The API bearer token (needed to cancel). */
  token: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  checks: Check[];
  log?: { info(o: object, m: string): void; debug(o: object, m: string): void; warn(o: object, m: string): void };
  /** How long one blocking read of an event stream waits before the stage is checked again (default 5000 ms). */
  blockMs?: number;
}

export interface HttpConsole {
  port: number;
  /** Live event streams open. */
  activeStreams(): number;
  close(): Promise<void>;
}

const STATIC: Record<string, string> = { 'console.js': 'text/javascript; charset=utf-8', 'console.css': 'text/css; charset=utf-8' };
/** The static files live next to this module in the source tree (src/api/console-static/), also when run from dist/. */
const STATIC_DIRS = [new URL('./console-static/', import.meta.url), new URL('../../../src/api/console-static/', import.meta.url)];

async function readStatic(name: string): Promise<Buffer> {
  for (const dir of STATIC_DIRS) {
    try {
      return await readFile(new URL(name, dir));
    } catch {
      // next
    }
  }
  throw new Error(`static: ${name} not found`);
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export async function startHttpConsole(o: ConsoleOptions): Promise<HttpConsole> {
  const { store } = o;
  const fleet = o.fleet ?? new FleetReader(store);
  const want = digest(o.token);
  const streams = new Set<() => void>();
  /** fragmentsSent samples per campaign (taken when a summary is read), for the chart. */
  const samples = new Map<string, { time: number; n: number }[]>();
  /** Device records of a campaign, kept one second so that paging through 10,000 devices reads them once. */
  const devCache = new Map<string, { at: number; devices: Promise<Map<string, DeviceState>> }>();

  function authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(h.slice('Bearer '.length)), want);
  }

  function devicesOf(id: string): Promise<Map<string, DeviceState>> {
    const now = Date.now();
    const hit = devCache.get(id);
    if (hit && now - hit.at < 1000) return hit.devices;
    const devices = store.devices(id);
    devCache.set(id, { at: now, devices });
    if (devCache.size > 32) devCache.delete(devCache.keys().next().value!);
    devices.catch(() => devCache.delete(id));
    return devices;
  }

  async function campaign(id: string) {
    const c = await store.get(id);
    if (!c) throw new HttpError(404, `id: no campaign ${id}`);
    return c;
  }

  async function summaryOf(id: string) {
    const c = await campaign(id);
    const s = summarize(c, (await devicesOf(id)).values());
    let list = samples.get(id);
    if (!list) samples.set(id, (list = []));
    const last = list[list.length - 1];
    if (!last || last.n !== s.fragments.sent) {
      list.push({ time: s.final ? c.updatedAt : Date.now(), n: s.fragments.sent });
      if (list.length > 2000) list.splice(0, list.length - 2000);
    }
    return { c, s };
  }

  const json = (res: ServerResponse, body: unknown, code = 200) =>
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  const html = (res: ServerResponse, body: string, code = 200) =>
    res.writeHead(code, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS }).end(body);

  async function events(req: IncomingMessage, res: ServerResponse, id: string, from: string): Promise<void> {
    await campaign(id);
    // Without a cursor, start at the newest event: the page loads history from /timeline.
    let cursor = from;
    if (!cursor) {
      const last = await store.redis.xrevrange(store.keys.events(id), '+', '-', 'COUNT', 1);
      cursor = last[0]?.[0] ?? '0';
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const conn: Redis = store.redis.duplicate();
    let stopped = false;
    const stop = () => {
      stopped = true;
      conn.disconnect();
    };
    streams.add(stop);
    req.on('close', stop);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    try {
      await followEvents({
        redis: conn,
        prefix: store.keys.prefix,
        id,
        fromId: cursor,
        blockMs: o.blockMs ?? 5000,
        stopped: () => stopped,
        send: async (ev) => {
          if (!res.write(`id: ${ev.id}\nevent: campaign\ndata: ${JSON.stringify(ev)}\n\n`)) await new Promise((r) => res.once('drain', r));
        },
      });
      if (!stopped) res.write('event: end\ndata: {}\n\n');
    } catch (e) {
      if (!stopped) o.log?.warn({ campaign: id, err: (e as Error).message }, 'event stream ended');
    } finally {
      clearInterval(ping);
      streams.delete(stop);
      conn.disconnect();
      res.end();
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (await obsRoute(req, res, o.checks)) return path;
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && path === '/') {
      html(res, listPage(await listRows(fleet)));
      return '/';
    }
    let m = /^\/static\/([a-z.]+)$/.exec(path);
    if (get && m && STATIC[m[1]!]) {
      res.writeHead(200, { 'content-type': STATIC[m[1]!]!, 'cache-control': 'no-cache' }).end(await readStatic(m[1]!));
      return '/static';
    }
    m = /^\/campaigns\/([\w-]{1,64})$/.exec(path);
    if (get && m) {
      const { s } = await summaryOf(m[1]!);
      html(res, campaignPage(s));
      return '/campaigns/:id';
    }
    if (get && path === '/api/campaigns') {
      json(res, { campaigns: await listRows(fleet) });
      return path;
    }
    m = /^\/api\/campaigns\/([\w-]{1,64})(?:\/(devices|timeline|events|cancel))?$/.exec(path);
    if (m) {
      const id = m[1]!;
      const sub = m[2] ?? '';
      const routeName = `/api/campaigns/:id${sub ? '/' + sub : ''}`;
      if (sub === 'cancel') {
        if (req.method !== 'POST') throw new HttpError(405, 'method: POST only');
        if (!authorized(req)) throw new HttpError(401, 'token: missing or wrong bearer token');
        await campaign(id);
        const cancelled = await store.requestCancel(id);
        o.log?.info({ campaign: id, cancelled }, 'cancel requested from the console');
        json(res, { id, cancelled });
        return routeName;
      }
      if (!get) throw new HttpError(405, 'method: GET only');
      if (sub === '') json(res, (await summaryOf(id)).s);
      else if (sub === 'devices') {
        let q;
        try {
          q = parseDeviceQuery(url.searchParams);
        } catch (e) {
          throw new HttpError(400, (e as Error).message);
        }
        await campaign(id);
        json(res, devicePage(await devicesOf(id), q));
      } else if (sub === 'timeline') {
        const { c } = await summaryOf(id);
        json(res, await timeline(store, c, samples.get(id) ?? []));
      } else await events(req, res, id, url.searchParams.get('from') ?? (req.headers['last-event-id'] as string | undefined) ?? '');
      return routeName;
    }
    throw new HttpError(404, `path: nothing at ${path}`);
  }

  const server: Server = createServer((req, res) => {
    const t0 = performance.now();
    route(req, res).then(
      (name) => {
        countHttpRequest(name, res.statusCode);
        o.log?.debug({ method: req.method, route: name, code: res.statusCode, ms: Math.round(performance.now() - t0) }, 'http request');
      },
      (e: unknown) => {
        const code = e instanceof HttpError ? e.code : 500;
        const msg = e instanceof HttpError ? e.message : 'internal error';
        if (code === 500) o.log?.warn({ method: req.method, err: (e as Error).message }, 'http request failed');
        countHttpRequest('error', code);
        if (res.headersSent) return void res.end();
        const wantsJson = (req.url ?? '').startsWith('/api/');
        if (wantsJson) json(res, { error: msg }, code);
        else html(res, errorPage(code, msg), code);
      },
    );
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`http-port: cannot listen on ${host}:${o.port} (${(e as NodeJS.ErrnoException).code ?? e.message})`)));
    server.listen(o.port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    activeStreams: () => streams.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const stop of [...streams]) stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
