/**
 * Uplinks leave the simulator as ChirpStack would send them (docs/protocol.md §8): `integration.UplinkEvent`
 * as proto3 JSON or protobuf, published to MQTT on application/<app>/device/<deveui>/event/up and/or POSTed to
 * HTTP integration URLs with `?event=up`. Times are simulated time.
 */
import mqtt from 'mqtt';
import { createHash } from 'node:crypto';
import { commonPb, durationPb, gwPb, integrationPb, timestampFromMs } from '../chirpstack/pb.js';
import { unixMsToGpsMs } from '../codec/gpstime.js';

export interface SimUplinkEvent {
  applicationId: string;
  applicationName: string;
  tenantId: string;
  deviceProfileId: string;
  deviceProfileName: string;
  deviceName: string;
  devEui: string;
  devAddr: number;
  dr: number;
  fCnt: number;
  fPort: number;
  data: Uint8Array;
  /** Simulated receive time, ms since the Unix epoch. */
  timeMs: number;
  frequencyHz: number;
  sf: number;
  bwHz: number;
  gatewayId: string;
  /** The gateway has GPS: rxInfo carries timeSinceGpsEpoch (default true). Without, ChirpStack sends none. */
  gpsTime?: boolean;
  rssi: number;
  snr: number;
  /** Seed-derived so a run is repeatable. */
  deduplicationId: string;
  regionConfigId: string;
}

/** GPS time of reception, as a GNSS gateway reports it (rxInfo.timeSinceGpsEpoch). */
export { unixMsToGpsMs };

/** A UUID-shaped id that is a pure function of its inputs. */
export function deterministicUuid(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function durationString(ms: number): string {
  const s = Math.floor(ms / 1000);
  const frac = Math.round(ms - s * 1000);
  return frac === 0 ? `${s}s` : `${s}.${String(frac).padStart(3, '0')}s`;
}

/** proto3 JSON mapping, defaults included in the integration message, gw.* messages without defaults. */
export function uplinkEventJson(ev: SimUplinkEvent): string {
  return JSON.stringify({
    deduplicationId: ev.deduplicationId,
    time: new Date(ev.timeMs).toISOString(),
    deviceInfo: {
      tenantId: ev.tenantId,
      tenantName: 'sim',
      applicationId: ev.applicationId,
      applicationName: ev.applicationName,
      deviceProfileId: ev.deviceProfileId,
      deviceProfileName: ev.deviceProfileName,
      deviceName: ev.deviceName,
      devEui: ev.devEui,
      deviceClassEnabled: 'CLASS_C',
      tags: {},
    },
    devAddr: ev.devAddr.toString(16).padStart(8, '0'),
    adr: false,
    dr: ev.dr,
    fCnt: ev.fCnt,
    fPort: ev.fPort,
    confirmed: false,
    data: Buffer.from(ev.data).toString('base64'),
    rxInfo: [
      {
        gatewayId: ev.gatewayId,
        uplinkId: ev.fCnt,
        nsTime: new Date(ev.timeMs).toISOString(),
        ...(ev.gpsTime === false ? {} : { timeSinceGpsEpoch: durationString(unixMsToGpsMs(ev.timeMs)) }),
        rssi: ev.rssi,
        snr: ev.snr,
        context: 'AAAAAA==',
        crcStatus: 'CRC_OK',
      },
    ],
    txInfo: { frequency: ev.frequencyHz, modulation: { lora: { bandwidth: ev.bwHz, spreadingFactor: ev.sf, codeRate: 'CR_4_5' } } },
    regionConfigId: ev.regionConfigId,
  });
}

export function uplinkEventProtobuf(ev: SimUplinkEvent): Uint8Array {
  const info = new integrationPb.DeviceInfo();
  info.setTenantId(ev.tenantId);
  info.setTenantName('sim');
  info.setApplicationId(ev.applicationId);
  info.setApplicationName(ev.applicationName);
  info.setDeviceProfileId(ev.deviceProfileId);
  info.setDeviceProfileName(ev.deviceProfileName);
  info.setDeviceName(ev.deviceName);
  info.setDevEui(ev.devEui);
  info.setDeviceClassEnabled(commonPb.DeviceClass.CLASS_C);
  const rx = new gwPb.UplinkRxInfo();
  rx.setGatewayId(ev.gatewayId);
  rx.setUplinkId(ev.fCnt);
  rx.setNsTime(timestampFromMs(ev.timeMs));
  if (ev.gpsTime !== false) {
    const gps = unixMsToGpsMs(ev.timeMs);
    const d = new durationPb.Duration();
    d.setSeconds(Math.floor(gps / 1000));
    d.setNanos(Math.round((gps - Math.floor(gps / 1000) * 1000) * 1e6));
    rx.setTimeSinceGpsEpoch(d);
  }
  rx.setRssi(ev.rssi);
  rx.setSnr(ev.snr);
  rx.setCrcStatus(gwPb.CRCStatus.CRC_OK);
  const lora = new gwPb.LoraModulationInfo();
  lora.setBandwidth(ev.bwHz);
  lora.setSpreadingFactor(ev.sf);
  lora.setCodeRate(gwPb.CodeRate.CR_4_5);
  const mod = new gwPb.Modulation();
  mod.setLora(lora);
  const tx = new gwPb.UplinkTxInfo();
  tx.setFrequency(ev.frequencyHz);
  tx.setModulation(mod);
  const up = new integrationPb.UplinkEvent();
  up.setDeduplicationId(ev.deduplicationId);
  up.setTime(timestampFromMs(ev.timeMs));
  up.setDeviceInfo(info);
  up.setDevAddr(ev.devAddr.toString(16).padStart(8, '0'));
  up.setDr(ev.dr);
  up.setFCnt(ev.fCnt);
  up.setFPort(ev.fPort);
  up.setData(ev.data);
  up.setRxInfoList([rx]);
  up.setTxInfo(tx);
  up.setRegionConfigId(ev.regionConfigId);
  return up.serializeBinary();
}

export interface IntegrationOutOptions {
  mqttUrl?: string;
  /** Every URL receives every event (ChirpStack allows a comma-separated list). */
  httpUrls?: string[];
  encoding?: 'json' | 'protobuf';
  topicPrefix?: string;
}

export class IntegrationOut {
  readonly stats = { published: 0, posted: 0, failed: 0 };
  private client: mqtt.MqttClient | undefined;
  private readonly pending = new Set<Promise<void>>();
  /** Resolves when the most recent MQTT publish was written (publishes go out in order). */
  private lastPublish: Promise<void> = Promise.resolve();

  constructor(private readonly opts: IntegrationOutOptions) {}

  /** Connects to the MQTT broker if one is configured; rejects `mqtt: ...` when unreachable. */
  async start(timeoutMs = 5000): Promise<void> {
    if (!this.opts.mqttUrl) return;
    const client = mqtt.connect(this.opts.mqttUrl, { connectTimeout: timeoutMs, reconnectPeriod: 1000 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end(true);
        reject(new Error(`mqtt: no connection to ${this.opts.mqttUrl} within ${timeoutMs} ms (is the broker running?)`));
      }, timeoutMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (err) => {
        clearTimeout(timer);
        client.end(true);
        reject(new Error(`mqtt: cannot connect to ${this.opts.mqttUrl}: ${err.message} (is the broker running?)`));
      });
    });
    client.on('error', () => void this.stats.failed++);
    // Thousands of devices publish faster than the socket drains; every waiting publish holds a 'drain' listener.
    client.stream.setMaxListeners(0);
    this.client = client;
  }

  topicFor(ev: Pick<SimUplinkEvent, 'applicationId' | 'devEui'>): string {
    return `${this.opts.topicPrefix ?? ''}application/${ev.applicationId}/device/${ev.devEui}/event/up`;
  }

  emit(ev: SimUplinkEvent): void {
    const json = (this.opts.encoding ?? 'json') === 'json';
    const body = json ? Buffer.from(uplinkEventJson(ev)) : Buffer.from(uplinkEventProtobuf(ev));
    if (this.client) {
      const client = this.client;
      this.lastPublish = new Promise<void>((resolve) =>
        client.publish(this.topicFor(ev), body, { qos: 0 }, (err) => {
          if (err) this.stats.failed++;
          else this.stats.published++;
          resolve();
        }),
      );
    }
    for (const url of this.opts.httpUrls ?? []) {
      const target = new URL(url);
      target.searchParams.set('event', 'up');
      const p = fetch(target, {
        method: 'POST',
        headers: { 'content-type': json ? 'application/json' : 'application/octet-stream' },
        body,
        signal: AbortSignal.timeout(5000),
      }).then(
        (r) => {
          if (r.ok) this.stats.posted++;
          else this.stats.failed++;
          void r.body?.cancel();
        },
        () => void this.stats.failed++,
      );
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }
  }

  /** Waits for HTTP posts in flight and for queued MQTT publishes to be written. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending, this.lastPublish]);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.client?.endAsync();
    this.client = undefined;
  }
}
