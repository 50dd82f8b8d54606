/**
 * Class C unicast as ChirpStack v4.19.0 sends it: a device enabled for class C (a LoRaWAN 1.0.x device whose
 * profile supports class C is class C from its join, `chirpstack/src/uplink/join.rs`) gets its queued downlinks
 * without waiting for an uplink, through the gateway that heard its last uplink (no uplink yet: no gateway, the
 * item waits), on RX2 parameters, one item per `class_c_lock_duration` (5 s, `chirpstack/src/config.rs`). A gateway
 * TX ack error leaves the item queued (`downlink/tx_ack.rs` only logs it), so it is tried again after the lock.
 */
import { frameAirtimeMs, regionDefaults, type RegionName } from '../codec/region.js';
import type { SimChirpStack } from './chirpstack-server.js';
import type { Radio } from './radio.js';
import type { SimulatedDevice } from './types.js';

/** network.scheduler.class_c_lock_duration default. */
export const CLASS_C_LOCK_MS = 5000;

/** RX2 of the region (ChirpStack's shipped region configs use the RP002 defaults). */
export function rx2Of(region: RegionName): { frequencyHz: number; dr: number } {
  return regionDefaults(region).rx2;
}

export interface ClassCHost {
  chirpstack: SimChirpStack;
  radio: Radio;
  devices: ReadonlyMap<string, SimulatedDevice>;
  at(at: number, fn: (t: number) => void): void;
  delivered(d: SimulatedDevice, endMs: number): void;
  airtime(ms: number): void;
}

export class ClassCUnicast {
  private readonly pending = new Set<string>();
  private readonly lockedUntil = new Map<string, number>();
  readonly stats = { sent: 0, rejected: 0 };

  constructor(private readonly host: ClassCHost) {}

  /** Something was queued for the device, or it just uplinked (it may now have a gateway). */
  poke(devEui: string, nowMs: number): void {
    const rec = this.host.chirpstack.devices.get(devEui);
    if (!rec || rec.classEnabled !== 'CLASS_C' || rec.queue.length === 0 || rec.lastGateways.length === 0) return;
    if (this.pending.has(devEui)) return;
    this.pending.add(devEui);
    this.host.at(Math.max(nowMs, this.lockedUntil.get(devEui) ?? -Infinity), (t) => this.send(devEui, t));
  }

  private send(devEui: string, t: number): void {
    this.pending.delete(devEui);
    const cs = this.host.chirpstack;
    const rec = cs.devices.get(devEui);
    if (!rec || rec.queue.length === 0) return;
    const gw = cs.gateways.get(rec.lastGateways[0]!);
    const d = this.host.devices.get(devEui);
    this.lockedUntil.set(devEui, t + CLASS_C_LOCK_MS);
    if (!gw || !gw.up || !d) {
      this.poke(devEui, t);
      return;
    }
    const item = rec.queue[0]!;
    const rx2 = rx2Of(gw.region);
    const toa = frameAirtimeMs(gw.region, rx2.dr, item.data.length, 'downlink');
    if (gw.transmit(rx2.frequencyHz, t, toa) !== 'OK') {
      this.stats.rejected++;
      this.poke(devEui, t);
      return;
    }
    rec.queue.shift();
    this.stats.sent++;
    this.host.airtime(toa);
    if (gw.reach(devEui) && !this.host.radio.downlinkLost(devEui, 'unicast', item.fCnt)) {
      d.receiveUnicast(item.fPort, item.data, t + toa);
      this.host.delivered(d, t + toa);
    }
    this.poke(devEui, t);
  }
}
