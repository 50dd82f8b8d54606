/**
 * Virtual time for a simulation: the simulated network and the campaign workers (in this process or others) share
 * one clock that moves only when nothing is runnable at the current instant, then jumps to the next thing due.
 * The outcome of a simulation then depends on its seed alone, not on how fast the machine is.
 *
 * The time keeper (this class, running beside the network) owns the clock, kept in Redis under the deployment
 * prefix (`<prefix>:vt:clock`, see src/store/queue.ts). A worker in virtual mode reads it at the start of each job,
 * and schedules a later step as a BullMQ job whose delay never ends by wall clock, with the virtual instant it is
 * due at in its data; the time keeper promotes it when virtual time gets there. Uplinks: the time keeper counts the
 * integration events it sends, the workers count those they have fully handled (`<prefix>:vt:handled`).
 *
 * The loop: settle (no job waiting or active, no job in a wall-clock back-off, every uplink handled) -> promote the
 * jobs due now -> settle -> ... When nothing is due now, move to the next instant: the earliest due job, or the
 * end of the fixed window (a multiple of `quantumMs`) holding the next network event. All network events up to
 * there run at once; the uplinks they produce go out in rounds in which each device appears at most once (so
 * a device's answers reach the answer stream in their order), and the workers take each round in before the next.
 * Window edges are a function of virtual times only, so a run is repeatable.
 */
import type { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { ManualClock } from '../codec/clock.js';
import { campaignQueue, connectionFromUrl, VIRTUAL_DELAY_MS, virtualTimeKeys } from '../store/queue.js';
import type { SimUplinkEvent } from './integration-out.js';
import type { SimNetwork } from './network.js';

/** Holds the uplinks the network produces during a window until the time keeper sends them. */
/** Wall time after which the queue is looked at again even if no job ran (ms). */
const REFRESH_MS = 250;

export class EmitBuffer {
  private events: SimUplinkEvent[] = [];
  emit(ev: SimUplinkEvent): void {
    this.events.push(ev);
  }
  take(): SimUplinkEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }
}

export interface UplinkOut {
  emit(ev: SimUplinkEvent): void;
  /** Resolves when what was emitted has left (HTTP answered, MQTT written). */
  flush?(): Promise<void>;
  /** Sends that failed for good (e.g. the worker's endpoint is gone): they will never be handled. */
  readonly stats?: { failed: number };
}

export interface VirtualTimeOptions {
  network: SimNetwork;
  clock: ManualClock;
  buffer: EmitBuffer;
  out: UplinkOut;
  redisUrl: string;
  prefix: string;
  /** Network events are run in windows of this much virtual time (default 5000 ms). */
  quantumMs?: number;
  /** Wall time to wait for uplinks that make no progress before counting them lost (a killed worker; default 5 s). */
  stallMs?: number;
  log?: (msg: string) => void;
}

interface QueueState {
  /** Jobs waiting or active, or failed and waiting for their back-off (wall clock). */
  busy: boolean;
  /** Any job at all. */
  jobs: number;
  /** Jobs waiting for a virtual instant. */
  timed: { job: Job; due: number }[];
}

export class VirtualTime {
  readonly stats = { windows: 0, emitted: 0, rounds: 0, promoted: 0, lost: 0, stalls: 0 };
  /** Wall milliseconds spent waiting for jobs, for uplinks to be handled, and running the network. */
  readonly wallMs = { jobs: 0, uplinks: 0, network: 0 };
  private readonly keys: ReturnType<typeof virtualTimeKeys>;
  private readonly quantum: number;
  private readonly stallMs: number;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly queue: Queue;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Value the handled counter reaches once every event sent so far is handled. */
  private expected = 0;
  private dirty = false;
  private failedSeen = 0;
  /** Highest handled count a worker published. */
  private handledSeen = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(private readonly o: VirtualTimeOptions) {
    this.quantum = o.quantumMs ?? 5000;
    if (!(this.quantum > 0)) throw new RangeError(`quantumMs: must be > 0, got ${o.quantumMs}`);
    this.stallMs = o.stallMs ?? 5000;
    this.keys = virtualTimeKeys(o.prefix);
    this.redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
    this.sub = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
    this.queue = campaignQueue(connectionFromUrl(o.redisUrl), o.prefix);
    this.queue.on('error', (e) => o.log?.(`virtual time: queue connection: ${e.message}`));
    this.redis.on('error', () => undefined);
    this.sub.on('error', () => undefined);
  }

  /** Current virtual time (ms since the epoch). */
  get now(): number {
    return this.o.clock.now();
  }

  /** Publishes the clock and starts moving it. Resolves once workers can read it; the clock is published again
   *  before each promotion, the only moment a worker reads it. */
  async start(): Promise<void> {
    // Workers publish the handled count with each signal: no need to read it back then.
    this.sub.on('message', (_ch: string, msg: string) => {
      const n = Number(msg);
      if (n > this.handledSeen) this.handledSeen = n;
      this.kick();
    });
    await this.sub.subscribe(this.keys.wake);
    await this.redis.set(this.keys.clock, String(this.now));
    this.expected = Number((await this.redis.get(this.keys.handled)) ?? 0);
    this.failedSeen = this.o.out.stats?.failed ?? 0;
    this.running = true;
    this.loop = this.run().catch((e: unknown) => {
      this.failure = e as Error;
      this.o.log?.(`virtual time stopped: ${(e as Error).message}`);
    });
  }

  /** The error that stopped the clock, if one did. */
  get error(): Error | undefined {
    return this.failure;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    this.loop = undefined;
    await this.queue.close().catch(() => undefined);
    this.sub.disconnect();
    this.redis.disconnect();
  }

  private kick(): void {
    this.dirty = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits for a worker's signal (or `ms` of wall time, for what sends none: stalled jobs, back-offs). */
  private pause(ms: number): Promise<void> {
    if (this.dirty || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    // The queue is looked at again only when jobs may have changed it: after jobs ran (promotions), when it was
    // idle, and every REFRESH_MS of wall time (a campaign submitted from outside). Uplinks do not touch it.
    let st: QueueState | undefined;
    let published = NaN;
    let lookedAt = 0;
    while (this.running) {
      const t0 = performance.now();
      // (Uplinks with answers were taken in when their window was sent; keep-alives have no effect to wait for.)
      if (!st || Date.now() - lookedAt > REFRESH_MS) {
        st = await this.settle();
        lookedAt = Date.now();
      }
      this.wallMs.jobs += performance.now() - t0;
      if (!this.running) break;
      const now = this.now;
      const due = st.timed.filter((t) => t.due <= now);
      if (due.length) {
        if (published !== now) {
          await this.redis.set(this.keys.clock, String(now));
          published = now;
        }
        // Jobs due at one instant all run at it.
        for (const t of due) await t.job.promote().catch(() => undefined);
        this.stats.promoted += due.length;
        st = undefined;
        continue;
      }
      // Without any job, no campaign runs: hold the clock rather than spin the fleet's keep-alives.
      if (st.jobs === 0) {
        await this.pause(100);
        st = undefined;
        continue;
      }
      const tJob = st.timed.length ? st.timed[0]!.due : Infinity;
      const tNet = this.o.network.nextEventAt();
      if (!Number.isFinite(tJob) && !Number.isFinite(tNet)) {
        await this.pause(100);
        st = undefined;
        continue;
      }
      const end = tJob <= tNet ? tJob : Math.min(tJob, (Math.floor(tNet / this.quantum) + 1) * this.quantum);
      const t1 = performance.now();
      this.o.network.advanceTo(end);
      this.o.clock.set(end);
      this.stats.windows++;
      const t2 = performance.now();
      this.wallMs.network += t2 - t1;
      await this.sendWindow();
      this.wallMs.uplinks += performance.now() - t2;
    }
  }

  /** Sends the window's uplinks in rounds (each device at most once per round), each taken in before the next. */
  private async sendWindow(): Promise<void> {
    const evs = this.o.buffer.take();
    for (let i = 0; i < evs.length; ) {
      const seen = new Set<string>();
      let j = i;
      // Empty keep-alives carry nothing to order: only a device's second answer starts a new round.
      for (; j < evs.length; j++) {
        const ev = evs[j]!;
        if (ev.data.length === 0) continue;
        if (seen.has(ev.devEui)) break;
        seen.add(ev.devEui);
      }
      for (let k = i; k < j; k++) this.o.out.emit(evs[k]!);
      this.expected += j - i;
      this.stats.emitted += j - i;
      this.stats.rounds++;
      // A window of nothing but empty keep-alives changes nothing in Redis: they are counted, and waited for with
      // whatever comes next.
      let answers = false;
      for (let k = i; k < j && !answers; k++) answers = evs[k]!.data.length > 0;
      if (answers) {
        await this.o.out.flush?.();
        await this.uplinksHandled();
      }
      i = j;
    }
  }

  /** Waits until the workers have handled every uplink sent, or counts the missing ones lost after a stall. */
  private async uplinksHandled(): Promise<void> {
    let last = -1;
    let since = Date.now();
    while (this.running) {
      this.dirty = false;
      // Sends that failed for good (an endpoint gone) will never be handled.
      const failed = this.o.out.stats?.failed ?? 0;
      if (failed > this.failedSeen) {
        this.expected -= failed - this.failedSeen;
        this.stats.lost += failed - this.failedSeen;
        this.failedSeen = failed;
      }
      if (this.handledSeen >= this.expected) return;
      const handled = Number((await this.redis.get(this.keys.handled)) ?? 0);
      if (handled > this.handledSeen) this.handledSeen = handled;
      if (handled >= this.expected) return;
      if (handled !== last) {
        last = handled;
        since = Date.now();
      } else if (Date.now() - since > this.stallMs) {
        const missing = this.expected - handled;
        this.o.log?.(`virtual time: ${missing} uplink(s) not handled after ${this.stallMs} ms (a worker gone?); counted lost`);
        this.stats.lost += missing;
        this.stats.stalls++;
        this.expected = handled;
        return;
      }
      await this.pause(50);
    }
  }

  /** Waits until no job is runnable and every uplink is handled; returns the jobs waiting for a virtual instant. */
  private async settle(): Promise<QueueState> {
    for (;;) {
      await this.uplinksHandled();
      this.dirty = false;
      const st = await this.queueState();
      if (!st.busy || !this.running) return st;
      await this.pause(50);
    }
  }

  private async queueState(): Promise<QueueState> {
    const [counts, delayed] = await Promise.all([this.queue.getJobCounts('active', 'wait', 'prioritized', 'paused'), this.queue.getDelayed()]);
    const runnable = (counts.active ?? 0) + (counts.wait ?? 0) + (counts.prioritized ?? 0) + (counts.paused ?? 0);
    const timed: QueueState['timed'] = [];
    let backoff = 0;
    for (const job of delayed) {
      if (!job) continue;
      const due = (job.data as { due?: unknown }).due;
      // A job in a wall-clock back-off after a failure runs by wall time: the clock waits for it.
      if (typeof due === 'number' && job.delay >= VIRTUAL_DELAY_MS / 2 && job.attemptsMade === 0) timed.push({ job, due });
      else backoff++;
    }
    timed.sort((a, b) => a.due - b.due);
    return { busy: runnable + backoff > 0, jobs: runnable + backoff + timed.length, timed };
  }
}
