/**
 * `lorafuota serve`: runs the gRPC campaign API until SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import { API_TOKEN, MIN_API_TOKEN_LENGTH, readFileFlag, refusedFlag, refuseTokenFlag, requireSecret } from './secrets.js';

interface ServeFlags {
  listen: string;
  token?: string;
  apiTokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  redis?: string;
  prefix: string;
  httpPort: string;
  httpHost: string;
  http: boolean;
  campaignLog: boolean;
}

function portOf(field: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${field}: expected a port 0..65535, got "${v}"`);
  return n;
}

function checkListen(v: string): string {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new Error(`listen: expected HOST:PORT, got "${v}"`);
  return v;
}

/** The API token from --api-token-file or LORAFUOTA_API_TOKEN, at least MIN_API_TOKEN_LENGTH characters. */
export function serverToken(o: { token?: string; apiTokenFile?: string }): string {
  refuseTokenFlag(o.token, '--token', API_TOKEN);
  const token = requireSecret(API_TOKEN, o.apiTokenFile);
  if (token.length < MIN_API_TOKEN_LENGTH) {
    throw new Error(`api-token: ${token.length} characters, at least ${MIN_API_TOKEN_LENGTH} required (e.g. openssl rand -hex 16)`);
  }
  return token;
}

function tlsFiles(o: ServeFlags): { certChain: Buffer; privateKey: Buffer } | undefined {
  if (!o.tlsCert && !o.tlsKey) return undefined;
  if (!o.tlsCert || !o.tlsKey) throw new Error('tls: --tls-cert and --tls-key go together');
  return { certChain: readFileFlag('tls-cert', o.tlsCert), privateKey: readFileFlag('tls-key', o.tlsKey) };
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run the gRPC campaign API (lorafuota.v1.CampaignService) until SIGINT/SIGTERM')
    .option('--listen <host:port>', 'address to bind (port 0 picks a free one)', '127.0.0.1:50051')
    .option('--api-token-file <file>', `file holding the bearer token clients must send, >= ${MIN_API_TOKEN_LENGTH} characters (or env LORAFUOTA_API_TOKEN)`)
    .option('--tls-cert <file>', 'serve TLS with this certificate chain (PEM); needs --tls-key')
    .option('--tls-key <file>', 'private key (PEM) of --tls-cert')
    .option('--redis <url>', 'Redis URL (env REDIS_URL, default redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'Redis key prefix of the store (env LORAFUOTA_PREFIX)', process.env.LORAFUOTA_PREFIX ?? 'lf')
    .option('--http-port <port>', 'web console, /metrics, /healthz and /readyz on this port (env LORAFUOTA_HTTP_PORT; 0 = a free one)', process.env.LORAFUOTA_HTTP_PORT ?? '8090')
    .option('--http-host <host>', 'address the HTTP port binds to (env LORAFUOTA_HTTP_HOST)', process.env.LORAFUOTA_HTTP_HOST ?? '127.0.0.1')
    .option('--no-http', 'no HTTP port (no console, no /metrics)')
    .option('--no-campaign-log', 'do not log campaign events (stage changes, repair rounds, device outcomes)');
  refusedFlag(cmd, '--token').action(async (o: ServeFlags) => {
      const token = serverToken(o);
      const address = checkListen(o.listen);
      const tls = tlsFiles(o);
      const httpPort = o.http ? portOf('http-port', o.httpPort) : undefined;
      const { redisUrl: defaultRedisUrl } = await import('../store/queue.js');
      const redisUrl = o.redis ?? defaultRedisUrl();
      // Fail fast, with one line, when Redis is not there (instead of retrying forever).
      const health = await import('../obs/health.js');
      const checks = [health.redisCheck(redisUrl)];
      await health.requireReady(checks);
      const { pino } = await import('pino');
      const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid, service: 'serve' } }, pino.destination(2));
      const { startApiServer } = await import('../api/grpc-server.js');
      const { requestLogInterceptor } = await import('../api/request-log.js');
      const api = await startApiServer({ address, token, prefix: o.prefix, redisUrl, interceptors: [requestLogInterceptor(log)], log, ...(tls ? { tls } : {}) });
      // Hook for the pipeline: start workers here (e.g. `--workers N`) and add them to `running`.
      const running: { close(): Promise<void> }[] = [api];
      const { Redis } = await import('ioredis');
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
      redis.on('error', (e: Error) => log.warn({ err: e.message }, 'redis'));
      running.push({ close: async () => void redis.disconnect() });
      let httpAt: string | undefined;
      if (httpPort !== undefined) {
        const { CampaignStore } = await import('../store/campaign-store.js');
        const { campaignQueue, connectionFromUrl } = await import('../store/queue.js');
        const { FleetReader } = await import('../obs/fleet.js');
        const { setStoreSnapshot } = await import('../obs/metrics.js');
        const { startHttpConsole } = await import('../api/http-console.js');
        const store = new CampaignStore(redis, o.prefix);
        const queue = campaignQueue(connectionFromUrl(redisUrl), o.prefix);
        running.push({ close: () => queue.close() });
        const fleet = new FleetReader(store, queue);
        setStoreSnapshot(() => fleet.snapshot());
        const web = await startHttpConsole({ store, fleet, token, host: o.httpHost, port: httpPort, checks, log });
        running.push(web);
        httpAt = `${o.httpHost}:${web.port}`;
      }
      if (o.campaignLog) {
        const { followCampaignLogs } = await import('../obs/campaign-log.js');
        running.push(followCampaignLogs({ redis, prefix: o.prefix, log }));
      }
      const host = address.slice(0, address.lastIndexOf(':'));
      process.stdout.write(JSON.stringify({ listening: `${host}:${api.port}`, ...(httpAt ? { http: httpAt } : {}), prefix: o.prefix, tls: tls !== undefined }) + '\n');
      log.info({ listening: `${host}:${api.port}`, http: httpAt, prefix: o.prefix, redis: health.redactUrl(redisUrl) }, 'serve started');
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stderr.write(`lorafuota: serve: ${signal}, shutting down\n`);
      for (const r of running.reverse()) await r.close();
  });
}
