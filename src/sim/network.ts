/**
 * The simulated LoRaWAN network between the simulated ChirpStack (queues, groups) and the fleet:
 * Class A unicast (one queued downlink after each heard uplink), class C unicast (src/sim/class-c-unicast.ts),
 * Class C/B multicast sent the way ChirpStack v4.19 schedules it through the simulated gateways, which enforce their
 * own duty cycle (src/sim/multicast-tx.ts, src/sim/gateways.ts), radio loss per device, airtime accounting and a
 * loss record. One sorted schedule (binary heap) drives everything, so 10,000 devices need one timer.
 */
import type { Clock, ScaledClock } from '../codec/clock.js';
import { chirpstackRegionId, dataRate, frameAirtimeMs, regionDefaults, rx1DownlinkDr, type RegionName, type RegionOptions } from '../codec/region.js';
import type { SimChirpStack } from './chirpstack-server.js';
import { ClassCUnicast } from './class-c-unicast.js';
import type { SimGateway } from './gateways.js';
import { deterministicUuid, type SimUplinkEvent } from './integration-out.js';
import { MulticastTransmitter, type McLossRecord, type McSentFrame } from './multicast-tx.js';
import type { Radio } from './radio.js';
import type { SimulatedDevice } from './types.js';

/** ChirpStack's default deduplication_delay: the event time of an uplink heard without GPS time. */
export const DEDUPLICATION_DELAY_MS = 200;

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
  /** Dwell-time limit / repeater-compatible payload sizes of the simulated network (default: both off, as ChirpStack). */
  regionOptions?: RegionOptions;
  /** Sets the simulated ChirpStack's multicast_class_c_margin (its default is 5 s). */
  classCMarginMs?: number;
  /** Data rate the devices uplink at (default: the region's SF7/125 kHz DR, 5, or 3 in US915). */
  uplinkDr?: number;
  uplinkFrequencyHz?: number;
  /** Class A RX1 delay (default 1 s). */
  rx1DelayMs?: number;
}

export type SentFrame = McSentFrame;
export type GroupLossRecord = McLossRecord;

export interface AirtimeTotals {
  uplinks: number;
  uplinkMs: number;
  unicasts: number;
  unicastMs: number;
  multicasts: number;
  multicastMs: number;
}

type NewEvent = { at: number; kind: 'uplink'; devEui: string } | { at: number; kind: 'call'; run: (t: number) => void };
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

export class SimNetwork {
  readonly region: RegionName;
  private readonly devices = new Map<string, SimulatedDevice>();
  private readonly schedule = new Schedule();
  private readonly mcTx: MulticastTransmitter;
  private readonly classC: ClassCUnicast;
  /** The one live uplink event of each device; older heap entries for it are stale and skipped. */
  private readonly uplinkAt = new Map<string, number>();
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
    opts.chirpstack.dwellTime = opts.regionOptions?.dwellTime ?? false;
    if (opts.classCMarginMs !== undefined) {
      if (!(opts.classCMarginMs >= 0)) throw new RangeError(`classCMarginMs: must be >= 0, got ${opts.classCMarginMs}`);
      opts.chirpstack.scheduler.classCMarginMs = opts.classCMarginMs;
    }
    this.nowMs = opts.clock.now();
    opts.chirpstack.now = () => this.currentMs();
    const host = {
      chirpstack: opts.chirpstack,
      radio: opts.radio,
      devices: this.devices,
      at: (at: number, run: (t: number) => void) => this.push({ at, kind: 'call', run }),
      delivered: (d: SimulatedDevice, endMs: number) => this.scheduleUplink(d, endMs),
    };
    this.mcTx = new MulticastTransmitter({
      ...host,
      airtime: (ms) => {
        this.totals.multicasts++;
        this.totals.multicastMs += ms;
      },
    });
    this.classC = new ClassCUnicast({
      ...host,
      airtime: (ms) => {
        this.totals.unicasts++;
        this.totals.unicastMs += ms;
      },
    });
    for (const d of opts.devices) {
      if (!opts.chirpstack.devices.has(d.devEui)) throw new RangeError(`devices: ${d.devEui} is not provisioned in the simulated ChirpStack`);
      this.devices.set(d.devEui, d);
      this.scheduleUplink(d, this.nowMs);
    }
    const onEnqueue = (groupId: string) => this.mcTx.onEnqueue(groupId, this.currentMs());
    const onDeviceEnqueue = (devEui: string) => this.classC.poke(devEui, this.currentMs());
    opts.chirpstack.onMulticastEnqueue.add(onEnqueue);
    opts.chirpstack.onDeviceEnqueue.add(onDeviceEnqueue);
    this.unsubscribe = () => {
      opts.chirpstack.onMulticastEnqueue.delete(onEnqueue);
      opts.chirpstack.onDeviceEnqueue.delete(onDeviceEnqueue);
    };
  }

  /** multicast_class_c_margin of the simulated ChirpStack. */
  get classCMarginMs(): number {
    return this.opts.chirpstack.scheduler.classCMarginMs;
  }

  /** Simulated time the network has processed up to. */
  get time(): number {
    return this.nowMs;
  }

  /** When the next event is due (simulated ms), Infinity when nothing is scheduled. */
  nextEventAt(): number {
    for (let e = this.schedule.peek(); e; e = this.schedule.peek()) {
      if (e.kind !== 'uplink' || this.uplinkAt.get(e.devEui) === e.at) return e.at;
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
      } else e.run(e.at);
    }
    this.nowMs = Math.max(this.nowMs, simMs);
  }

  airtime(): AirtimeTotals {
    return { ...this.totals };
  }

  /** Per multicast group: what was sent (f_cnt, fragment N, gateway), refused, discarded, and who heard what. */
  lossRecord(): GroupLossRecord[] {
    return this.mcTx.records();
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

  private uplink(devEui: string, at: number): void {
    const d = this.devices.get(devEui)!;
    const up = d.transmit(at);
    if (up) {
      const rec = this.opts.chirpstack.devices.get(devEui)!;
      const fCnt = rec.fCntUp++;
      const dr = this.opts.uplinkDr ?? regionDefaults(this.region).uplink.dr;
      const toa = frameAirtimeMs(this.region, dr, up.data.length, 'uplink', this.opts.regionOptions);
      this.totals.uplinks++;
      this.totals.uplinkMs += toa;
      // Heard by every gateway that is up and reaches the device; ChirpStack keeps them as the device's history.
      const hearing: SimGateway[] = [];
      for (const g of this.opts.chirpstack.gateways.values()) if (g.up && g.reach(devEui)) hearing.push(g);
      if (hearing.length === 0 || this.opts.radio.uplinkLost(devEui, fCnt)) this.uplinkStats.lost++;
      else {
        this.uplinkStats.heard++;
        const known = rec.lastGateways;
        if (known.length !== hearing.length || hearing.some((g, i) => known[i] !== g.gatewayId)) rec.lastGateways = hearing.map((g) => g.gatewayId);
        rec.lastSeenAtMs = at + toa;
        this.emitUplink(rec, fCnt, up.fPort, up.data, dr, at + toa, hearing[0]!);
        this.classADownlink(d, at + toa);
        this.classC.poke(devEui, at + toa);
      }
    }
    this.scheduleUplink(d, at);
  }

  private emitUplink(rec: NonNullable<ReturnType<SimChirpStack['devices']['get']>>, fCnt: number, fPort: number, data: Uint8Array, dr: number, atMs: number, gw: { gatewayId: string; gps: boolean }): void {
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
      // With a GNSS gateway the time is the gateway's; without, it is the network server's after de-duplication.
      timeMs: Math.round(gw.gps ? atMs : atMs + DEDUPLICATION_DELAY_MS),
      gpsTime: gw.gps,
      frequencyHz: this.opts.uplinkFrequencyHz ?? regionDefaults(this.region).uplink.frequencyHz,
      sf: rate.sf ?? 7,
      bwHz: rate.bwHz ?? 125000,
      gatewayId: gw.gatewayId,
      rssi: Math.round(-60 - 60 * loss),
      snr: Math.round((10 - 20 * loss) * 10) / 10,
      deduplicationId: deterministicUuid(this.opts.radio.cfg.seed, rec.devEui, fCnt),
      regionConfigId: chirpstackRegionId(this.region),
    });
  }

  private classADownlink(d: SimulatedDevice, uplinkEndMs: number): void {
    const item = this.opts.chirpstack.popDownlink(d.devEui);
    if (!item) return;
    const rx1 = uplinkEndMs + (this.opts.rx1DelayMs ?? 1000);
    const dr = this.opts.uplinkDr ?? regionDefaults(this.region).uplink.dr;
    const dlDr = rx1DownlinkDr(this.region, dr, 0, this.opts.regionOptions);
    const toa = frameAirtimeMs(this.region, dlDr, item.data.length, 'downlink', this.opts.regionOptions);
    this.totals.unicasts++;
    this.totals.unicastMs += toa;
    if (!this.opts.radio.downlinkLost(d.devEui, 'unicast', item.fCnt)) {
      d.receiveUnicast(item.fPort, item.data, rx1 + toa);
      this.scheduleUplink(d, rx1 + toa);
    }
  }
}
