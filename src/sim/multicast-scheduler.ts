/**
 * ChirpStack's multicast queue logic, as the simulated server applies it. Read from ChirpStack v4.19.0:
 * - `chirpstack/src/storage/multicast.rs` `enqueue()`: one queue item per gateway, all with the group's f_cnt;
 *   class C: `scheduler_run_after` = latest queued item's `scheduler_run_after` + `multicast_class_c_margin` (or now
 *   when the queue is empty); GPS_TIME adds one more margin and sets `emit_at_time_since_gps_epoch` (all gateways
 *   at the same instant); DELAY adds one margin per further gateway; class B: next ping slot of the McAddr after the
 *   latest queued emit time (or now + `multicast_class_b_margin`), run 2 scheduler intervals before it.
 * - `chirpstack/src/downlink/multicast.rs` `enqueue()` / `get_minimum_gateway_set()`: the group's own gateways, or
 *   when it has none, the fewest gateways that heard the members' last uplinks (empty set: nothing is stored).
 * - `chirpstack/src/downlink/classb.rs`: ping offset = AES128(key 0, beacon time LE32 | DevAddr LE32)[0..2] LE
 *   mod ping period; slot = beacon start + 2.12 s + 30 ms x (offset + n x period).
 * - `chirpstack/src/config.rs`: scheduler interval 1 s, scheduler lock 2 s, both margins 5 s.
 * v4.12 differs in one input: the group's field 14 is `class_b_ping_slot_nb_k` (2^k slots per beacon) instead of
 * `class_b_ping_slot_periodicity` (2^(7-p) slots); see `pingNbOf`.
 */
import { createCipheriv } from 'node:crypto';
import { gpsToUnixMs, unixMsToGpsMs } from '../codec/gpstime.js';

export type ChirpStackVersion = '4.12' | '4.19';
export const CHIRPSTACK_VERSIONS: readonly ChirpStackVersion[] = ['4.12', '4.19'];

export interface SchedulerConfig {
  /** network.scheduler.multicast_class_c_margin (default 5 s). */
  classCMarginMs: number;
  /** network.scheduler.multicast_class_b_margin (default 5 s). */
  classBMarginMs: number;
  /** network.scheduler.interval (default 1 s). */
  intervalMs: number;
  /** network.scheduler.scheduler_lock_duration (default 2 s). */
  lockMs: number;
}

export const DEFAULT_SCHEDULER: SchedulerConfig = { classCMarginMs: 5000, classBMarginMs: 5000, intervalMs: 1000, lockMs: 2000 };

/** One row of ChirpStack's multicast_group_queue_item table. */
export interface McQueueRow {
  id: string;
  createdSeq: number;
  gatewayId: string;
  fCnt: number;
  fPort: number;
  data: Uint8Array;
  /** Unix ms when the scheduler may pick the row up. */
  schedulerRunAfterMs: number;
  /** GPS ms the gateway must emit at (GPS_TIME / class B), or undefined (send immediately). */
  emitAtGpsMs?: number;
  expiresAtMs?: number;
}

export interface GroupScheduling {
  groupType: 'CLASS_B' | 'CLASS_C';
  schedulingType: 'DELAY' | 'GPS_TIME';
  mcAddr: number;
  /** Slots per beacon period (see pingNbOf). */
  pingNb: number;
}

/** Ping slots per beacon period from the wire value of MulticastGroup field 14, per ChirpStack version. */
export function pingNbOf(version: ChirpStackVersion, field14: number): number {
  if (!Number.isInteger(field14) || field14 < 0 || field14 > 7) throw new RangeError(`class_b ping slot field 14: expected 0..7, got ${field14}`);
  return version === '4.12' ? 1 << field14 : 1 << (7 - field14);
}

const BEACON_PERIOD_MS = 128_000;
const BEACON_RESERVED_MS = 2120;
const SLOT_LEN_MS = 30;
const PING_PERIOD_BASE = 1 << 12;

/** Ping offset (in slots) of a DevAddr / McAddr for the beacon starting at `beaconGpsS` (LoRaWAN 1.0.4 §13.2). */
export function pingOffset(beaconGpsS: number, addr: number, pingNb: number): number {
  if (!(pingNb > 0)) throw new RangeError(`pingNb: must be > 0, got ${pingNb}`);
  const block = Buffer.alloc(16);
  block.writeUInt32LE(beaconGpsS % 2 ** 32, 0);
  block.writeUInt32LE(addr >>> 0, 4);
  const c = createCipheriv('aes-128-ecb', Buffer.alloc(16), null);
  c.setAutoPadding(false);
  const rand = Buffer.concat([c.update(block), c.final()]);
  return (rand[0]! + rand[1]! * 256) % (PING_PERIOD_BASE / pingNb);
}

/** The first ping slot of `addr` strictly after `afterGpsMs` (GPS ms), as ChirpStack's get_next_ping_slot_after. */
export function nextPingSlotAfter(afterGpsMs: number, addr: number, pingNb: number): number {
  const period = PING_PERIOD_BASE / pingNb;
  let beaconMs = Math.floor(afterGpsMs / 1000 / 128) * BEACON_PERIOD_MS;
  for (;;) {
    const off = pingOffset(beaconMs / 1000, addr, pingNb);
    for (let n = 0; n < pingNb; n++) {
      const slot = beaconMs + BEACON_RESERVED_MS + SLOT_LEN_MS * (off + n * period);
      if (slot > afterGpsMs) return slot;
    }
    beaconMs += BEACON_PERIOD_MS;
  }
}

export function gpsMsToUnixMs(gpsMs: number): number {
  const s = Math.floor(gpsMs / 1000);
  return gpsToUnixMs(s) + (gpsMs - s * 1000);
}

/**
 * The rows ChirpStack's enqueue() inserts for one item sent through `gatewayIds` (empty: none, the silent loss).
 * `queue` is the group's current rows.
 */
export function planEnqueue(
  g: GroupScheduling,
  queue: readonly McQueueRow[],
  gatewayIds: readonly string[],
  nowMs: number,
  cfg: SchedulerConfig,
): Omit<McQueueRow, 'id' | 'createdSeq' | 'fCnt' | 'fPort' | 'data' | 'expiresAtMs'>[] {
  const out: Omit<McQueueRow, 'id' | 'createdSeq' | 'fCnt' | 'fPort' | 'data' | 'expiresAtMs'>[] = [];
  if (g.groupType === 'CLASS_B') {
    const emits = queue.map((q) => q.emitAtGpsMs).filter((v): v is number => v !== undefined);
    const after = emits.length > 0 ? Math.max(...emits) : unixMsToGpsMs(nowMs + cfg.classBMarginMs);
    const emit = nextPingSlotAfter(after, g.mcAddr, g.pingNb);
    const runAfter = gpsMsToUnixMs(emit) - 2 * cfg.intervalMs;
    for (const gatewayId of gatewayIds) out.push({ gatewayId, schedulerRunAfterMs: runAfter, emitAtGpsMs: emit });
    return out;
  }
  let runAfter = queue.length > 0 ? Math.max(...queue.map((q) => q.schedulerRunAfterMs)) + cfg.classCMarginMs : nowMs;
  let emit: number | undefined;
  if (g.schedulingType === 'GPS_TIME') {
    runAfter += cfg.classCMarginMs;
    // ChirpStack keeps whole milliseconds of GPS time.
    emit = Math.floor(unixMsToGpsMs(runAfter));
  }
  for (const gatewayId of gatewayIds) {
    out.push(emit === undefined ? { gatewayId, schedulerRunAfterMs: runAfter } : { gatewayId, schedulerRunAfterMs: runAfter, emitAtGpsMs: emit });
    if (g.schedulingType === 'DELAY') runAfter += cfg.classCMarginMs;
  }
  return out;
}

/**
 * The gateways a group without its own gateways is sent through: ChirpStack builds a minimum spanning tree over
 * gateways (joined to each other at weight -999) and devices (joined to each gateway that heard them at weight
 * 1 / devices that gateway heard). Every device thus hangs off the gateway that heard the most member devices among
 * those that heard it; the set of those gateways is the answer. Ties go to the lower gateway ID here (ChirpStack's
 * order is that of a hash map).
 */
export function minimumGatewaySet(history: ReadonlyMap<string, readonly string[]>): string[] {
  const count = new Map<string, number>();
  for (const gws of history.values()) for (const gw of new Set(gws)) count.set(gw, (count.get(gw) ?? 0) + 1);
  const chosen = new Set<string>();
  for (const gws of history.values()) {
    let best: string | undefined;
    for (const gw of [...new Set(gws)].sort()) if (best === undefined || count.get(gw)! > count.get(best)!) best = gw;
    if (best !== undefined) chosen.add(best);
  }
  return [...chosen].sort();
}
