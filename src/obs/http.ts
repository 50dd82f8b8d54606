/**
 * The observability endpoints every lorafuota process can serve: GET /metrics (Prometheus text), /healthz (the
 * process is up) and /readyz (its dependencies answer). `obsRoute` handles them inside another server (the
 * console); `startObsServer` is a server of its own (workers, `--metrics-port`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkReady, type Check } from './health.js';
import { metricsText } from './metrics.js';

/** Handles /metrics, /healthz and /readyz; returns false for any other path. */
export async function obsRoute(req: IncomingMessage, res: ServerResponse, checks: Check[]): Promise<boolean> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return true;
  }
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  } else if (path === '/readyz') {
    const r = await checkReady(checks);
    res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready: r.ok, checks: r.results }) + '\n');
  } else {
    const m = await metricsText();
    res.writeHead(200, { 'content-type': m.contentType }).end(m.body);
  }
  return true;
}

export interface ObsServer {
  port: number;
  close(): Promise<void>;
}

export async function startObsServer(opts: { host?: string; port: number; checks: Check[] }): Promise<ObsServer> {
  const server: Server = createServer((req, res) => {
    obsRoute(req, res, opts.checks).then(
      (handled) => {
        if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      },
      () => {
        if (!res.headersSent) res.writeHead(500).end();
      },
    );
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`metrics-port: cannot listen on ${host}:${opts.port} (${(e as NodeJS.ErrnoException).code ?? e.message})`)));
    server.listen(opts.port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
