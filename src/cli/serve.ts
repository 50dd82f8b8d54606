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
    .option('--prefix <prefix>', 'Redis key prefix of the store (env LORAFUOTA_PREFIX)', process.env.LORAFUOTA_PREFIX ?? 'lf');
  refusedFlag(cmd, '--token').action(async (o: ServeFlags) => {
    const token = serverToken(o);
    const address = checkListen(o.listen);
    const tls = tlsFiles(o);
    const { startApiServer } = await import('../api/grpc-server.js');
    const api = await startApiServer({ address, token, prefix: o.prefix, ...(o.redis ? { redisUrl: o.redis } : {}), ...(tls ? { tls } : {}) });
    // Hook for the pipeline: start workers here (e.g. `--workers N`) and add them to `running`.
    const running: { close(): Promise<void> }[] = [api];
    const host = address.slice(0, address.lastIndexOf(':'));
    process.stdout.write(JSON.stringify({ listening: `${host}:${api.port}`, prefix: o.prefix, tls: tls !== undefined }) + '\n');
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stderr.write(`lorafuota: serve: ${signal}, shutting down\n`);
    for (const r of running.reverse()) await r.close();
  });
}
