/** ChirpStack MQTT integration in (docs/protocol.md §8): subscribes to uplink events and feeds an UplinkIntake. */
import mqtt from 'mqtt';
import type { UplinkIntake } from './intake.js';

export interface MqttIntakeOptions {
  /** e.g. mqtt://127.0.0.1:1883 */
  url: string;
  /** Restrict to one application (UUID); default every application (`+`). */
  applicationId?: string;
  /** Topic prefix before `application/...` (ChirpStack's default template has none). */
  topicPrefix?: string;
  username?: string;
  password?: string;
  connectTimeoutMs?: number;
}

export interface MqttIntake {
  topic: string;
  close(): Promise<void>;
}

export function uplinkTopic(opts: Pick<MqttIntakeOptions, 'applicationId' | 'topicPrefix'>): string {
  return `${opts.topicPrefix ?? ''}application/${opts.applicationId ?? '+'}/device/+/event/up`;
}

/** Connects and subscribes; rejects with `mqtt: ...` if the broker cannot be reached within the timeout. */
export async function startMqttIntake(intake: UplinkIntake, opts: MqttIntakeOptions): Promise<MqttIntake> {
  const topic = uplinkTopic(opts);
  const timeout = opts.connectTimeoutMs ?? 5000;
  const client = mqtt.connect(opts.url, {
    username: opts.username,
    password: opts.password,
    connectTimeout: timeout,
    reconnectPeriod: 1000,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mqtt: no connection to ${opts.url} within ${timeout} ms (is the broker running?)`)), timeout);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`mqtt: cannot connect to ${opts.url}: ${err.message} (is the broker running?)`));
      });
    });
    // QoS 1: the broker re-delivers an uplink whose delivery was not acknowledged (at least once; duplicates are
    // dropped by deduplicationId after the answer is appended, see workers/uplinks.ts).
    await client.subscribeAsync(topic, { qos: 1 });
  } catch (err) {
    client.end(true);
    throw err;
  }
  client.on('message', (_t, payload) => intake.push(payload, 'mqtt'));
  // After the first connection, broker errors only cost events until mqtt.js reconnects; they must not crash the process.
  client.on('error', () => {});
  return { topic, close: async () => void (await client.endAsync()) };
}
