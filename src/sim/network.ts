/**
 * The simulated LoRaWAN network between the simulated ChirpStack (queues, groups) and the fleet:
 * Class A unicast (one queued downlink after each heard uplink), Class C/B multicast transmitted at scheduled
 * times (spaced by time on air, the class C margin and the gateway's duty cycle), radio loss per device, airtime
 * accounting and a loss record. One sorted schedule (binary heap) drives everything, so 10,000 devices need one timer.
 */
import type { Clock, ScaledClock } from '../codec/clock.js';
import { encodeDownlinkFrame } from '../codec/lorawan-frame.js';
import { dataRate, dutyCycleOffTimeMs, frameAirtimeMs, subBandFor, type RegionName } from '../codec/region.js';
import type { SimChirpStack, SimMulticastGroup } from './chirpstack-server.js';
import { deterministicUuid, unixMsToGpsMs, type SimUplinkEvent } from './integration-out.js';
import type { Radio } from './radio.js';
import type { MulticastFrame, SimulatedDevice } from './types.js';

export interface NetworkOptions {
  /** Where simulated time starts: a ScaledClock to run in scaled wall time (start()), or any clock read once here
   *  when the network is driven in virtual time with advanceTo(). */
  clock: Clock;
  devices: SimulatedDevice[];
  chirpstack: SimChirpStack;
  radio: Radio;
  /** Where heard uplinks go (IntegrationOut or a test sink). */
  out?: { emit(ev: SimUplinkEvent): void };
  region?: RegionName;
  /** Minimum gap between two class C multicast transmissions of a group (ChirpStack's default is 5 s). */
  classCMarginMs?: number;
  /** Data rate the devices uplink at (default 5 in EU868, 3 in US915). */
  uplinkDr?: number;
  uplinkFrequencyHz?: number;
  /** Class A RX1 delay (default 1 s). */
  rx1DelayMs?: number;
  gatewayId?: string;
}

export interface SentFrame {
  fCnt: number;
  fPort: number;
  /** TS004 DataFragment index N when the payload is one (CID 0x08), else undefined. */
  fragN?: number;
  atMs: number;
  airtimeMs: number;
}

export interface GroupLossRecord {
  groupId: string;
  mcAddr: number;
  sent: SentFrame[];
  /** f_cnt of items discarded at send time (larger than the DR's maximum payload). */
  discarded: number[];
  /** Per member device, the f_cnt values it heard (ascending). */
  received: Record<string, number[]>;
}

export interface AirtimeTotals {
  uplinks: number;
  uplinkMs: number;
  unicasts: number;
  unicastMs: number;
  multicasts: number;
  multicastMs: number;
}

type NewEvent = { at: number; kind: 'uplink'; devEui: string } | { at: number; kind: 'multicast'; groupId: string };
type Event = NewEvent & { seq: number };

/** Min-heap of events by (at, seq). */
class Schedule {
  private readonly heap: Event[] = [];
  private seq = 0;
  get size(): number {
    return this.heap.length;
  }
  peek(): Event | undefined {
    return this.heap[0];
  }
  push(e: NewEvent): void {
    const h = this.heap;
    h.push({ ...e, seq: this.seq++ } as Event);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function hexKey(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export class SimNetwork {
  readonly region: RegionName;
  readonly classCMarginMs: number;
  private readonly devices = new Map<string, SimulatedDevice>();
  private readonly schedule = new Schedule();
  private readonly groupFreeAt = new Map<string, number>();
  /** The one live uplink event of each device; older heap entries for it are stale and skipped. */
  private readonly uplinkAt = new Map<string, number>();
  private readonly groupScheduled = new Set<string>();
  private readonly bandFreeAt = new Map<string, number>();
  private readonly record = new Map<string, GroupLossRecord>();
  private readonly totals: AirtimeTotals = { uplinks: 0, uplinkMs: 0, unicasts: 0, unicastMs: 0, multicasts: 0, multicastMs: 0 };
  /** Heard uplinks, and uplinks lost on the radio or from silent devices. */
  readonly uplinkStats = { heard: 0, lost: 0 };
  private nowMs: number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: NetworkOptions) {
    this.region = opts.region ?? 'EU868';
    this.classCMarginMs = opts.classCMarginMs ?? 1000;
    if (!(this.classCMarginMs >= 0)) throw new RangeError(`classCMarginMs: must be >= 0, got ${opts.classCMarginMs}`);
    this.nowMs = opts.clock.now();
    for (const d of opts.devices) {
      if (!opts.chirpstack.devices.has(d.devEui)) throw new RangeError(`devices: ${d.devEui} is not provisioned in the simulated ChirpStack`);
      this.devices.set(d.devEui, d);
      this.scheduleUplink(d, this.nowMs);
    }
    const onEnqueue = (groupId: string) => this.scheduleMulticast(groupId, this.currentMs());
    opts.chirpstack.onMulticastEnqueue.add(onEnqueue);
    this.unsubscribe = () => opts.chirpstack.onMulticastEnqueue.delete(onEnqueue);
  }

  /** Simulated time the network has processed up to. */
  get time(): number {
    return this.nowMs;
  }

  /** When the next event is due (simulated ms), Infinity when nothing is scheduled. */
  nextEventAt(): number {
    for (let e = this.schedule.peek(); e; e = this.schedule.peek()) {
      if (e.kind === 'multicast' || this.uplinkAt.get(e.devEui) === e.at) return e.at;
      this.schedule.pop(); // a stale uplink entry: the device was rescheduled earlier
    }
    return Infinity;
  }

  /** Drives the network in scaled real time until stop() (needs a ScaledClock). */
  start(): void {
    if (!('wallDelay' in this.opts.clock)) throw new Error('start: the network needs a ScaledClock to run in scaled real time');
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Stops and detaches from the simulated ChirpStack. */
  close(): void {
    this.stop();
    this.unsubscribe();
  }

  /** Processes every event scheduled at or before `simMs`, in time order (virtual time; tests and benches). */
  advanceTo(simMs: number): void {
    for (let e = this.schedule.peek(); e && e.at <= simMs; e = this.schedule.peek()) {
      this.schedule.pop();
      this.nowMs = Math.max(this.nowMs, e.at);
      if (e.kind === 'uplink') {
        if (this.uplinkAt.get(e.devEui) !== e.at) continue;
        this.uplinkAt.delete(e.devEui);
        this.uplink(e.devEui, e.at);
      } else this.transmitMulticast(e.groupId, e.at);
    }
    this.nowMs = Math.max(this.nowMs, simMs);
  }

  airtime(): AirtimeTotals {
    return { ...this.totals };
  }

  /** Per multicast group: what was sent (f_cnt, fragment N) and which device heard which f_cnt. */
  lossRecord(): GroupLossRecord[] {
    return [...this.record.values()].map((r) => ({
      ...r,
      sent: [...r.sent],
      discarded: [...r.discarded],
      received: Object.fromEntries(Object.entries(r.received).map(([k, v]) => [k, [...v]])),
    }));
  }

  private currentMs(): number {
    return this.running ? Math.max(this.nowMs, this.opts.clock.now()) : this.nowMs;
  }

  private get scaled(): ScaledClock {
    return this.opts.clock as ScaledClock;
  }

  private arm(): void {
    if (!this.running) return;
    const next = this.schedule.peek();
    if (!next) return;
    if (this.timer && next.at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next.at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.advanceTo(this.opts.clock.now());
      this.arm();
    }, this.scaled.wallDelay(next.at - this.opts.clock.now()));
  }

  private push(e: NewEvent): void {
    this.schedule.push(e);
    if (this.running && e.at < this.timerAt) this.arm();
  }

  /** (Re)schedules the device's next uplink; called after each uplink and after each frame it receives, since an
   *  answer it then owes may make it transmit sooner. */
  private scheduleUplink(d: SimulatedDevice, afterMs: number): void {
    const next = d.nextUplinkAt(afterMs);
    if (!Number.isFinite(next)) return;
    const at = Math.max(next, afterMs + 1);
    const cur = this.uplinkAt.get(d.devEui);
    if (cur !== undefined && cur <= at) return;
    this.uplinkAt.set(d.devEui, at);
    this.push({ at, kind: 'uplink', devEui: d.devEui });
  }

  private scheduleMulticast(groupId: string, notBefore: number): void {
    if (this.groupScheduled.has(groupId)) return;
    this.groupScheduled.add(groupId);
    this.push({ at: Math.max(notBefore, this.groupFreeAt.get(groupId) ?? -Infinity), kind: 'multicast', groupId });
  }

  private uplink(devEui: string, at: number): void {
    const d = this.devices.get(devEui)!;
    const up = d.transmit(at);
    if (up) {
      const rec = this.opts.chirpstack.devices.get(devEui)!;
      const fCnt = rec.fCntUp++;
      const dr = this.opts.uplinkDr ?? (this.region === 'US915' ? 3 : 5);
      const toa = frameAirtimeMs(this.region, dr, up.data.length, 'uplink');
      this.totals.uplinks++;
      this.totals.uplinkMs += toa;
      if (this.opts.radio.uplinkLost(devEui, fCnt)) this.uplinkStats.lost++;
      else {
        this.uplinkStats.heard++;
        this.emitUplink(rec, fCnt, up.fPort, up.data, dr, at + toa);
        this.classADownlink(d, at + toa);
      }
    }
    this.scheduleUplink(d, at);
  }

  private emitUplink(rec: NonNullable<ReturnType<SimChirpStack['devices']['get']>>, fCnt: number, fPort: number, data: Uint8Array, dr: number, atMs: number): void {
    if (!this.opts.out) return;
    const rate = dataRate(this.region, dr);
    const app = this.opts.chirpstack.applications.get(rec.applicationId);
    const profile = this.opts.chirpstack.profiles.get(rec.deviceProfileId);
    const loss = this.opts.radio.deviceLoss(rec.devEui);
    this.opts.out.emit({
      applicationId: rec.applicationId,
      applicationName: app?.name ?? '',
      tenantId: '00000000-0000-0000-0000-000000000000',
      deviceProfileId: rec.deviceProfileId,
      deviceProfileName: profile?.name ?? '',
      deviceName: rec.name,
      devEui: rec.devEui,
      devAddr: rec.devAddr,
      dr,
      fCnt,
      fPort,
      data,
      timeMs: Math.round(atMs),
      frequencyHz: this.opts.uplinkFrequencyHz ?? (this.region === 'US915' ? 902_300_000 : 868_100_000),
      sf: rate.sf ?? 7,
      bwHz: rate.bwHz ?? 125000,
      gatewayId: this.opts.gatewayId ?? '0016c001f153a14c',
      rssi: Math.round(-60 - 60 * loss),
      snr: Math.round((10 - 20 * loss) * 10) / 10,
      deduplicationId: deterministicUuid(this.opts.radio.cfg.seed, rec.devEui, fCnt),
      regionConfigId: this.region.toLowerCase(),
    });
  }

  private classADownlink(d: SimulatedDevice, uplinkEndMs: number): void {
    const item = this.opts.chirpstack.popDownlink(d.devEui);
    if (!item) return;
    const rx1 = uplinkEndMs + (this.opts.rx1DelayMs ?? 1000);
    const dr = this.opts.uplinkDr ?? (this.region === 'US915' ? 3 : 5);
    const dlDr = this.region === 'US915' ? 10 + Math.min(dr, 3) : dr;
    const toa = frameAirtimeMs(this.region, dlDr, item.data.length, 'downlink');
    this.totals.unicasts++;
    this.totals.unicastMs += toa;
    if (!this.opts.radio.downlinkLost(d.devEui, 'unicast', item.fCnt)) {
      d.receiveUnicast(item.fPort, item.data, rx1 + toa);
      this.scheduleUplink(d, rx1 + toa);
    }
  }

  private transmitMulticast(groupId: string, at: number): void {
    this.groupScheduled.delete(groupId);
    const g = this.opts.chirpstack.groups.get(groupId);
    if (!g || g.queue.length === 0) return;
    const band = subBandFor(this.region, g.frequencyHz);
    const start = this.slotStart(g, Math.max(at, this.bandFreeAt.get(band.name) ?? -Infinity));
    if (start > at) {
      this.scheduleMulticast(groupId, start);
      return;
    }
    const item = this.opts.chirpstack.popMulticast(groupId)!;
    const rec = this.groupRecord(g);
    if (item.data.length > dataRate(this.region, g.dr, 'downlink').maxAppPayload) {
      rec.discarded.push(item.fCnt);
      if (g.queue.length > 0) this.scheduleMulticast(groupId, at);
      return;
    }
    const toa = frameAirtimeMs(this.region, g.dr, item.data.length, 'downlink');
    const enc = encodeDownlinkFrame({ devAddr: g.mcAddr, fCnt: item.fCnt, fPort: item.fPort, payload: item.data, appSKey: hexKey(g.mcAppSKey), nwkSKey: hexKey(g.mcNwkSKey) });
    const frame: MulticastFrame = { mcAddr: g.mcAddr, fCnt: item.fCnt, fPort: item.fPort, ...enc };
    const sent: SentFrame = { fCnt: item.fCnt, fPort: item.fPort, atMs: at, airtimeMs: toa };
    if (item.data[0] === 0x08 && item.data.length >= 3) sent.fragN = (item.data[1]! | (item.data[2]! << 8)) & 0x3fff;
    rec.sent.push(sent);
    this.totals.multicasts++;
    this.totals.multicastMs += toa;
    const stream = g.mcAddr.toString(16);
    for (const devEui of g.devices) {
      const heard = (rec.received[devEui] ??= []);
      const d = this.devices.get(devEui);
      if (!d || this.opts.radio.downlinkLost(devEui, stream, item.fCnt)) continue;
      heard.push(item.fCnt);
      d.receiveMulticast(frame, at + toa);
      this.scheduleUplink(d, at + toa);
    }
    this.bandFreeAt.set(band.name, at + toa + dutyCycleOffTimeMs(toa, band.dutyCycle));
    this.groupFreeAt.set(groupId, at + Math.max(toa, g.groupType === 'CLASS_C' ? this.classCMarginMs : 0));
    if (g.queue.length > 0) this.scheduleMulticast(groupId, at);
  }

  /** Class B items go out at the group's next ping slot (every 2^periodicity s in GPS time); class C at once. */
  private slotStart(g: SimMulticastGroup, at: number): number {
    if (g.groupType !== 'CLASS_B') return at;
    const period = 1000 * 2 ** (g.pingSlotPeriodicity ?? 0);
    const gps = unixMsToGpsMs(at);
    return at + ((period - (gps % period)) % period);
  }

  private groupRecord(g: SimMulticastGroup): GroupLossRecord {
    let r = this.record.get(g.id);
    if (!r) {
      r = { groupId: g.id, mcAddr: g.mcAddr, sent: [], discarded: [], received: {} };
      this.record.set(g.id, r);
    }
    return r;
  }
}
