/**
 * Simulated gateways: each one is a concentrator with its own duty-cycle budget per sub-band, which it enforces
 * itself (a frame that would break it is rejected with TX ack DUTY_CYCLE_OVERLOAD, as a packet forwarder or
 * Concentratord with duty-cycle enforcement does; ChirpStack v4.19 applies no duty cycle to multicast and deletes
 * the item on any TX ack, see `chirpstack/src/downlink/tx_ack.rs`). A gateway reaches a set of devices (all by
 * default), may or may not have GPS (uplink `rxInfo.timeSinceGpsEpoch`), and is online while it sends stats:
 * ChirpStack only schedules to gateways seen within 2 x stats interval (`get_schedulable_queue_items`, postgres).
 */
import { dutyCycleOffTimeMs, subBandFor, type RegionName } from '../codec/region.js';

export type TxAckStatus = 'OK' | 'DUTY_CYCLE_OVERLOAD' | 'TOO_LATE';

export interface SimGatewayConfig {
  gatewayId: string;
  tenantId: string;
  /** Region config id ChirpStack reads from the gateway (e.g. "eu868"). */
  region: RegionName;
  /** Devices this gateway reaches (hears and is heard by); undefined = every device. */
  reaches?: ReadonlySet<string>;
  /** Has a GNSS receiver: uplinks carry rxInfo.timeSinceGpsEpoch. Default false. */
  gps?: boolean;
  /** Enforce the regional duty cycle per sub-band (default true, as real EU868 gateways). */
  enforceDutyCycle?: boolean;
}

/** ChirpStack's default gateway stats interval (gateway.stats_interval_secs): 30 s. */
export const STATS_INTERVAL_MS = 30_000;

export class SimGateway {
  readonly gatewayId: string;
  readonly tenantId: string;
  readonly region: RegionName;
  readonly gps: boolean;
  private readonly reaches: ReadonlySet<string> | undefined;
  private readonly enforce: boolean;
  private readonly bandFreeAt = new Map<string, number>();
  /** When the gateway went silent (no more stats), or undefined while it is up. */
  private offlineSinceMs: number | undefined;
  /** Frames sent and frames rejected for duty cycle. */
  readonly stats = { sent: 0, rejected: 0, airtimeMs: 0 };

  constructor(cfg: SimGatewayConfig) {
    const id = cfg.gatewayId.toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(id)) throw new RangeError(`gatewayId: expected 16 hex digits, got "${cfg.gatewayId}"`);
    this.gatewayId = id;
    this.tenantId = cfg.tenantId;
    this.region = cfg.region;
    this.gps = cfg.gps ?? false;
    this.reaches = cfg.reaches;
    this.enforce = cfg.enforceDutyCycle ?? true;
  }

  reach(devEui: string): boolean {
    return !this.reaches || this.reaches.has(devEui);
  }

  setOnline(online: boolean, nowMs: number): void {
    if (online) this.offlineSinceMs = undefined;
    else this.offlineSinceMs ??= nowMs;
  }

  /** ChirpStack's check: last_seen_at within 2 x stats interval of now. */
  seenRecently(nowMs: number): boolean {
    return this.offlineSinceMs === undefined || nowMs - this.offlineSinceMs <= 2 * STATS_INTERVAL_MS;
  }

  /** Whether the gateway is up and transmits at all. */
  get up(): boolean {
    return this.offlineSinceMs === undefined;
  }

  /**
   * Asks the concentrator to transmit `airtimeMs` on `frequencyHz` starting at `atMs`: 'OK' and the budget is
   * spent, or 'DUTY_CYCLE_OVERLOAD' (sub-band still in its off time) and nothing is sent.
   */
  transmit(frequencyHz: number, atMs: number, airtimeMs: number): TxAckStatus {
    const band = subBandFor(this.region, frequencyHz);
    if (this.enforce && atMs < (this.bandFreeAt.get(band.name) ?? -Infinity)) {
      this.stats.rejected++;
      return 'DUTY_CYCLE_OVERLOAD';
    }
    this.bandFreeAt.set(band.name, atMs + airtimeMs + dutyCycleOffTimeMs(airtimeMs, band.dutyCycle));
    this.stats.sent++;
    this.stats.airtimeMs += airtimeMs;
    return 'OK';
  }
}
