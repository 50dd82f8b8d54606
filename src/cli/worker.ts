/**
 * `lorafuota worker`: runs a campaign worker (pipeline steps + uplink intake) until SIGINT/SIGTERM.
 * The worker runtime (src/service/worker.ts) is imported lazily, with a literal specifier, so other commands start fast.
 */
import type { Command } from 'commander';
import { CHIRPSTACK_TOKEN, refusedFlag, refuseTokenFlag, requireSecret } from './secrets.js';

interface WorkerFlags {
  redis?: string;
  prefix: string;
  chirpstack: string;
  chirpstackToken?: string;
  chirpstackTokenFile?: string;
  chirpstackTls?: boolean;
  chirpstackVersion?: string;
  mqtt?: string;
  application?: string;
  httpPort?: string;
  concurrency: string;
  lockMs: string;
  metricsPort?: string;
  metricsHost: string;
  campaignLog?: boolean;
  virtualTime?: boolean;
}

function positiveInt(field: string, v: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${field}: expected an integer 1..${max}, got "${v}"`);
  return n;
}

export function register(program: Command): void {
  const cmd = program
    .command('worker')
    .description('run a campaign worker: pipeline steps from the BullMQ queue and uplinks from the ChirpStack integration')
    .option('--redis <url>', 'Redis URL (env REDIS_URL, default redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'Redis key prefix (env LORAFUOTA_PREFIX)', process.env.LORAFUOTA_PREFIX ?? 'lf')
    .option('--chirpstack <host:port>', 'ChirpStack gRPC API (env CHIRPSTACK_API)', process.env.CHIRPSTACK_API ?? '127.0.0.1:8080')
    .option('--chirpstack-token-file <file>', 'file holding the ChirpStack API token (or env CHIRPSTACK_API_TOKEN)')
    .option('--chirpstack-tls', 'TLS to ChirpStack with the system root certificates (env CHIRPSTACK_TLS=1)')
    .option('--chirpstack-version <version>', 'ChirpStack version (4.12 writes the Class B ping-slot field as nb_k; env CHIRPSTACK_VERSION, default 4.19)')
    .option('--mqtt <url>', 'MQTT broker of the ChirpStack MQTT integration (env MQTT_URL)')
    .option('--application <id>', 'only this ChirpStack application\'s uplinks (env CHIRPSTACK_APPLICATION_ID)')
    .option('--http-port <port>', 'listen for the ChirpStack HTTP integration on this port (env HTTP_INTEGRATION_PORT)')
    .option('--concurrency <n>', 'pipeline steps run at once', '4')
    .option('--lock-ms <ms>', 'how soon a dead worker\'s step is taken over', '10000')
    .option('--metrics-port <port>', '/metrics, /healthz and /readyz on this port (env LORAFUOTA_METRICS_PORT; default off)')
    .option('--metrics-host <host>', 'address the metrics port binds to (env LORAFUOTA_METRICS_HOST)', process.env.LORAFUOTA_METRICS_HOST ?? '127.0.0.1')
    .option('--virtual-time', 'follow the virtual time of a `lorafuota sim --virtual-time` on the same Redis and prefix (simulations only; env LORAFUOTA_VIRTUAL_TIME=1)')
    .option('--campaign-log', 'also log campaign events (stages, repair rounds, device outcomes); for deployments without `serve`, on one worker only');
  refusedFlag(cmd, '--chirpstack-token')
    .action(async (o: WorkerFlags) => {
      refuseTokenFlag(o.chirpstackToken, '--chirpstack-token', CHIRPSTACK_TOKEN);
      const token = requireSecret(CHIRPSTACK_TOKEN, o.chirpstackTokenFile);
      const { parseChirpStackVersion } = await import('../chirpstack/version.js');
      const versionText = o.chirpstackVersion ?? process.env.CHIRPSTACK_VERSION;
      const chirpstackVersion = versionText !== undefined ? parseChirpStackVersion(versionText, o.chirpstackVersion !== undefined ? 'chirpstack-version' : 'CHIRPSTACK_VERSION') : undefined;
      const httpPort = o.httpPort ?? process.env.HTTP_INTEGRATION_PORT;
      const metricsPortText = o.metricsPort ?? process.env.LORAFUOTA_METRICS_PORT;
      const metricsPort = metricsPortText !== undefined ? positiveInt('metrics-port', metricsPortText, 65535) : undefined;
      const { redisUrl: defaultRedisUrl } = await import('../store/queue.js');
      const redisUrl = o.redis ?? process.env.REDIS_URL ?? defaultRedisUrl();
      // Fail fast, with one line, when Redis or ChirpStack is not there (instead of retrying forever).
      const health = await import('../obs/health.js');
      const checks = [health.redisCheck(redisUrl), health.chirpstackCheck(o.chirpstack)];
      await health.requireReady(checks);
      const mod = await import('../service/worker.js');
      const cfg = await import('../service/context.js');
      const env = cfg.configFromEnv();
      const w = await mod.startWorker({
        ...env,
        ...(o.redis ? { redisUrl: o.redis } : {}),
        prefix: o.prefix,
        chirpstackTarget: o.chirpstack,
        chirpstackToken: token,
        chirpstackTls: o.chirpstackTls ?? env.chirpstackTls ?? false,
        ...(chirpstackVersion ? { chirpstackVersion } : {}),
        mqttUrl: o.mqtt ?? process.env.MQTT_URL,
        applicationId: o.application ?? process.env.CHIRPSTACK_APPLICATION_ID,
        httpPort: httpPort !== undefined ? positiveInt('http-port', httpPort, 65535) : undefined,
        concurrency: positiveInt('concurrency', o.concurrency, 64),
        lockDurationMs: positiveInt('lock-ms', o.lockMs, 600_000),
        ...(o.virtualTime ? { virtualTime: true, clock: undefined } : {}),
      });
      let metrics: { port: number; close(): Promise<void> } | undefined;
      if (metricsPort !== undefined) {
        const { startObsServer } = await import('../obs/http.js');
        metrics = await startObsServer({ host: o.metricsHost, port: metricsPort, checks });
      }
      let campaignLog: { close(): Promise<void> } | undefined;
      if (o.campaignLog) {
        const { followCampaignLogs } = await import('../obs/campaign-log.js');
        campaignLog = followCampaignLogs({ redis: w.ctx.store.redis, prefix: o.prefix, log: w.ctx.log });
      }
      w.ctx.log.info({ prefix: o.prefix, chirpstack: o.chirpstack, ...(metrics ? { metrics: `${o.metricsHost}:${metrics.port}` } : {}) }, 'worker started');
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      w.ctx.log.info({ signal }, 'worker stopping');
      await campaignLog?.close();
      await metrics?.close();
      await w.close();
    });
}
