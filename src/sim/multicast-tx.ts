/**
 * Sends ChirpStack's multicast queue rows through the simulated gateways, as ChirpStack v4.19.0 does
 * (`chirpstack/src/downlink/multicast.rs` handle_schedule_queue_item, `storage/multicast.rs`
 * get_schedulable_queue_items, `downlink/tx_ack.rs`):
 * - the scheduler runs every `interval` and picks rows whose scheduler_run_after has passed and whose gateway was
 *   seen within 2 x stats interval (or that have expired), locking them for `scheduler_lock_duration`;
 * - an expired row (expires_at passed) or one larger than the gateway region's max payload for the group's DR is
 *   deleted with only a log line;
 * - otherwise the gateway gets the frame (send now for DELAY, at emit_at_time_since_gps_epoch for GPS_TIME and
 *   class B); it enforces its duty cycle itself and answers a TX ack; on ANY ack, OK or error, the row is deleted;
 *   an offline gateway never acks, so the row comes back when the lock expires.
 * A device hears a frame when a gateway that transmitted it reaches it and the radio does not lose it; a second
 * copy of the same f_cnt (from another gateway) is ignored, as the device's frame counter check would.
 */
import { encodeDownlinkFrame } from '../codec/lorawan-frame.js';
import { frameAirtimeMs } from '../codec/region.js';
import type { SimChirpStack, SimMulticastGroup } from './chirpstack-server.js';
import type { TxAckStatus } from './gateways.js';
import { gpsMsToUnixMs, type McQueueRow } from './multicast-scheduler.js';
import type { Radio } from './radio.js';
import { chirpstackMaxDlPayload } from './region-config.js';
import type { MulticastFrame, SimulatedDevice } from './types.js';

/** Time from the scheduler handing a frame to the gateway to ChirpStack handling its TX ack. */
export const TX_ACK_LATENCY_MS = 50;

export interface McSentFrame {
  fCnt: number;
  fPort: number;
  /** TS004 DataFragment index N when the payload is one (CID 0x08), else undefined. */
  fragN?: number;
  atMs: number;
  airtimeMs: number;
  gatewayId: string;
}

export interface McLossRecord {
  groupId: string;
  mcAddr: number;
  sent: McSentFrame[];
  /** f_cnt of items discarded at send time (larger than the DR's maximum payload). */
  discarded: number[];
  /** f_cnt of items discarded at send time because expires_at had passed. */
  expired: number[];
  /** Frames a gateway refused (TX ack error), per gateway. */
  rejected: { fCnt: number; gatewayId: string; status: TxAckStatus; atMs: number }[];
  /** Per member device, the f_cnt values it heard (ascending). */
  received: Record<string, number[]>;
}

export interface McTxHost {
  chirpstack: SimChirpStack;
  radio: Radio;
  devices: ReadonlyMap<string, SimulatedDevice>;
  /** Runs `fn` at simulated time `at` (in order with the network's other events). */
  at(at: number, fn: (t: number) => void): void;
  /** A device received a frame ending at `endMs` (it may owe an answer sooner). */
  delivered(d: SimulatedDevice, endMs: number): void;
  airtime(ms: number): void;
}

function hexKey(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export class MulticastTransmitter {
  private readonly scheduled = new Set<string>();
  private readonly record = new Map<string, McLossRecord>();

  constructor(private readonly host: McTxHost) {}

  /** Schedules the scheduler pick-up of every row of the group not scheduled yet. */
  onEnqueue(groupId: string, nowMs: number): void {
    const g = this.host.chirpstack.groups.get(groupId);
    if (!g) return;
    this.groupRecord(g);
    for (const row of g.queue) {
      if (this.scheduled.has(row.id)) continue;
      this.scheduled.add(row.id);
      this.host.at(Math.max(nowMs, this.nextTick(row.schedulerRunAfterMs)), (t) => this.run(groupId, row, t));
    }
  }

  records(): McLossRecord[] {
    return [...this.record.values()].map((r) => ({
      ...r,
      sent: [...r.sent],
      discarded: [...r.discarded],
      expired: [...r.expired],
      rejected: [...r.rejected],
      received: Object.fromEntries(Object.entries(r.received).map(([k, v]) => [k, [...v]])),
    }));
  }

  /** The first scheduler run at or after `ms` (runs on the `interval` grid). */
  private nextTick(ms: number): number {
    const iv = this.host.chirpstack.scheduler.intervalMs;
    return iv > 0 ? Math.ceil(ms / iv) * iv : ms;
  }

  private run(groupId: string, row: McQueueRow, t: number): void {
    const cs = this.host.chirpstack;
    const g = cs.groups.get(groupId);
    if (!g || !g.queue.includes(row)) {
      this.scheduled.delete(row.id);
      return;
    }
    const gw = cs.gateways.get(row.gatewayId);
    const expired = row.expiresAtMs !== undefined && t > row.expiresAtMs;
    const retry = (at: number) => this.host.at(this.nextTick(at), (t2) => this.run(groupId, row, t2));
    if (!gw || (!gw.seenRecently(t) && !expired)) {
      // Not schedulable (unknown gateway / not seen recently): the row waits.
      retry(t + cs.scheduler.intervalMs);
      return;
    }
    row.schedulerRunAfterMs = t + cs.scheduler.lockMs;
    const rec = this.groupRecord(g);
    if (expired) {
      cs.log.push(`multicast group ${g.id}: discarding queue item f_cnt ${row.fCnt} because it has expired`);
      rec.expired.push(row.fCnt);
      this.drop(g, row);
      return;
    }
    const max = chirpstackMaxDlPayload(gw.region, g.dr, cs.repeaterCompatible, cs.dwellTime);
    if (row.data.length > max) {
      cs.log.push(`multicast group ${g.id}: discarding queue item f_cnt ${row.fCnt} because it exceeds max. payload size (dr ${g.dr}, max ${max}, size ${row.data.length})`);
      rec.discarded.push(row.fCnt);
      this.drop(g, row);
      return;
    }
    if (!gw.up) {
      // The frame goes out to a gateway that is gone: no TX ack, the row is picked again after the lock.
      retry(row.schedulerRunAfterMs);
      return;
    }
    const txAt = row.emitAtGpsMs !== undefined ? gpsMsToUnixMs(row.emitAtGpsMs) : t;
    const toa = frameAirtimeMs(gw.region, g.dr, row.data.length, 'downlink');
    const status: TxAckStatus = txAt < t ? 'TOO_LATE' : gw.transmit(g.frequencyHz, txAt, toa);
    if (status === 'OK') {
      const sent: McSentFrame = { fCnt: row.fCnt, fPort: row.fPort, atMs: txAt, airtimeMs: toa, gatewayId: gw.gatewayId };
      if (row.data[0] === 0x08 && row.data.length >= 3) sent.fragN = (row.data[1]! | (row.data[2]! << 8)) & 0x3fff;
      rec.sent.push(sent);
      this.host.airtime(toa);
      this.host.at(txAt, () => this.deliver(g, row, gw.gatewayId, txAt, toa));
    } else {
      cs.log.push(`gateway ${gw.gatewayId}: TX ack ${status} for multicast group ${g.id} f_cnt ${row.fCnt}`);
      rec.rejected.push({ fCnt: row.fCnt, gatewayId: gw.gatewayId, status, atMs: txAt });
    }
    // The TX ack (OK or not) deletes the row.
    this.host.at(t + TX_ACK_LATENCY_MS, () => this.drop(g, row));
  }

  private drop(g: SimMulticastGroup, row: McQueueRow): void {
    this.host.chirpstack.deleteQueueRow(g.id, row.id);
    this.scheduled.delete(row.id);
  }

  private deliver(g: SimMulticastGroup, row: McQueueRow, gatewayId: string, txAt: number, toa: number): void {
    const cs = this.host.chirpstack;
    const gw = cs.gateways.get(gatewayId)!;
    const rec = this.groupRecord(g);
    const enc = encodeDownlinkFrame({ devAddr: g.mcAddr, fCnt: row.fCnt, fPort: row.fPort, payload: row.data, appSKey: hexKey(g.mcAppSKey), nwkSKey: hexKey(g.mcNwkSKey) });
    const frame: MulticastFrame = { mcAddr: g.mcAddr, fCnt: row.fCnt, fPort: row.fPort, ...enc };
    // Loss draws per gateway: the first gateway keeps the single-gateway stream, others get their own.
    const gwIndex = [...cs.gateways.keys()].indexOf(gatewayId);
    const stream = gwIndex <= 0 ? g.mcAddr.toString(16) : `${g.mcAddr.toString(16)}@${gatewayId}`;
    for (const devEui of g.devices) {
      const heard = (rec.received[devEui] ??= []);
      const d = this.host.devices.get(devEui);
      const last = heard.length > 0 ? heard[heard.length - 1]! : -1;
      if (!d || !gw.reach(devEui) || (row.fCnt <= last && heard.includes(row.fCnt))) continue;
      if (this.host.radio.downlinkLost(devEui, stream, row.fCnt)) continue;
      if (row.fCnt > last) heard.push(row.fCnt);
      else heard.splice(heard.findIndex((x) => x > row.fCnt), 0, row.fCnt);
      d.receiveMulticast(frame, txAt + toa);
      this.host.delivered(d, txAt + toa);
    }
  }

  private groupRecord(g: SimMulticastGroup): McLossRecord {
    let r = this.record.get(g.id);
    if (!r) {
      r = { groupId: g.id, mcAddr: g.mcAddr, sent: [], discarded: [], expired: [], rejected: [], received: {} };
      for (const devEui of g.devices) r.received[devEui] = [];
      this.record.set(g.id, r);
    }
    return r;
  }
}
