/**
 * Entry point of a campaign worker process (configuration from the environment, see configFromEnv in
 * src/service/context.ts): `node dist/workers/campaign-worker.js`. `lorafuota worker` is the same with flags.
 */
import { CAMPAIGN_QUEUE } from '../src/store/queue.js';
import { configFromEnv } from '../src/service/context.js';
import { startWorker } from '../src/service/worker.js';

const env = process.env;
const w = await startWorker({
  ...configFromEnv(env),
  mqttUrl: env.MQTT_URL,
  applicationId: env.CHIRPSTACK_APPLICATION_ID,
  httpPort: env.HTTP_INTEGRATION_PORT ? Number(env.HTTP_INTEGRATION_PORT) : undefined,
  ...(env.LORAFUOTA_LOCK_MS ? { lockDurationMs: Number(env.LORAFUOTA_LOCK_MS) } : {}),
});
w.ctx.log.info({ queue: CAMPAIGN_QUEUE }, 'worker started');
const stop = async () => {
  await w.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
