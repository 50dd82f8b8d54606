/**
 * `lorafuota serve`: runs the gRPC campaign API until SIGINT/SIGTERM.
 */
import type { Command } from 'commander';

interface ServeFlags {
  listen: string;
  token?: string;
  redis?: string;
  prefix: string;
}

function checkListen(v: string): string {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new Error(`listen: expected HOST:PORT, got "${v}"`);
  return v;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the gRPC campaign API (lorafuota.v1.CampaignService) until SIGINT/SIGTERM')
    .option('--listen <host:port>', 'address to bind (port 0 picks a free one)', '127.0.0.1:50051')
    .option('--token <token>', 'bearer token clients must send (env LORAFUOTA_API_TOKEN)')
    .option('--redis <url>', 'Redis URL (env REDIS_URL, default redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'Redis key prefix of the store', 'lf')
    .action(async (o: ServeFlags) => {
      const token = o.token ?? process.env.LORAFUOTA_API_TOKEN;
      if (!token) throw new Error('token: required (--token or LORAFUOTA_API_TOKEN)');
      const address = checkListen(o.listen);
      const { startApiServer } = await import('../api/grpc-server.js');
      const api = await startApiServer({ address, token, prefix: o.prefix, ...(o.redis ? { redisUrl: o.redis } : {}) });
      // Hook for the pipeline: start workers here (e.g. `--workers N`) and add them to `running`.
      const running: { close(): Promise<void> }[] = [api];
      const host = address.slice(0, address.lastIndexOf(':'));
      process.stdout.write(JSON.stringify({ listening: `${host}:${api.port}`, prefix: o.prefix }) + '\n');
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stderr.write(`lorafuota: serve: ${signal}, shutting down\n`);
      for (const r of running.reverse()) await r.close();
    });
}
