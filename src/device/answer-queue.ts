/**
 * Answers waiting for the device's next Class A uplink. Each answer becomes ready at its own time (the random
 * BlockAckDelay / FMP delays real devices use) and is encoded only when it leaves, so time-dependent fields
 * (DeviceTime, TimeToStart, seconds to reboot) are computed for the uplink that actually carries them.
 * The queue is bounded like a device's RAM: per received frame and in total; answers past a bound are dropped
 * and counted, and an answer whose encoding fails is dropped instead of failing the uplink.
 */
export interface PendingAnswer {
  readonly fPort: number;
  readonly readyAt: number;
  /** Label used to cancel answers not yet sent (e.g. LBM's FragDataBlockReceivedReq repeats). */
  readonly tag?: string;
  /** Encodes the command (CID included) as of the transmit time; must not change device state. */
  build(nowMs: number): Uint8Array;
  /** Called once the answer is in a frame that leaves. */
  onSent?(nowMs: number): void;
}

export interface OutgoingFrame {
  fPort: number;
  data: Uint8Array;
}

export interface AnswerQueueLimits {
  /** Answers waiting at once (a device's RAM); more are dropped. Default 32. */
  maxQueued?: number;
  /** Answers queued for one received frame (after `openFrame`); more are dropped. Default 16. */
  maxPerFrame?: number;
}

export const DEFAULT_MAX_QUEUED = 32;
export const DEFAULT_MAX_PER_FRAME = 16;

export class AnswerQueue {
  private items: PendingAnswer[] = [];
  private readonly maxQueued: number;
  private readonly maxPerFrame: number;
  private inFrame = 0;
  private frameOpen = false;
  /** Answers refused because a bound was reached, or dropped because they could not be encoded. */
  dropped = 0;

  constructor(limits: AnswerQueueLimits = {}) {
    this.maxQueued = limits.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.maxPerFrame = limits.maxPerFrame ?? DEFAULT_MAX_PER_FRAME;
  }

  get length(): number {
    return this.items.length;
  }

  /** Runs the handlers of one received frame: the answers they queue count against `maxPerFrame`. */
  forFrame(run: () => void): void {
    this.inFrame = 0;
    this.frameOpen = true;
    try {
      run();
    } finally {
      this.frameOpen = false;
    }
  }

  /** Queues an answer; false (and counted in `dropped`) when the device or frame bound is reached. */
  push(answer: PendingAnswer): boolean {
    if (this.items.length >= this.maxQueued || (this.frameOpen && this.inFrame >= this.maxPerFrame)) {
      this.dropped++;
      return false;
    }
    if (this.frameOpen) this.inFrame++;
    this.items.push(answer);
    return true;
  }

  /** Earliest time at which an answer is ready, or Infinity. */
  nextReadyAt(): number {
    let t = Infinity;
    for (const a of this.items) if (a.readyAt < t) t = a.readyAt;
    return t;
  }

  /** Drops answers with this tag that become ready after `readyAfterMs` (-Infinity: all); returns how many. */
  cancel(tag: string, readyAfterMs: number): number {
    const before = this.items.length;
    this.items = this.items.filter((a) => !(a.tag === tag && a.readyAt > readyAfterMs));
    return before - this.items.length;
  }

  clear(): void {
    this.items = [];
  }

  /**
   * Takes the frame for an uplink at `nowMs`: the earliest ready answer plus the later ready answers of the same
   * port that still fit `capFor(fPort)` bytes, in queue order. An answer that alone exceeds the cap leaves as an
   * empty frame on its port (LoRaMac-node does this when an answer is too long for the data rate).
   */
  takeFrame(nowMs: number, capFor: (fPort: number) => number): OutgoingFrame | null {
    let first = -1;
    for (let i = 0; i < this.items.length; i++) {
      const a = this.items[i]!;
      if (a.readyAt <= nowMs && (first < 0 || a.readyAt < this.items[first]!.readyAt)) first = i;
    }
    if (first < 0) return null;
    const fPort = this.items[first]!.fPort;
    const cap = capFor(fPort);
    const parts: Uint8Array[] = [];
    let size = 0;
    const taken = new Set<number>();
    const failed = new Set<number>();
    const tryTake = (i: number): void => {
      let bytes: Uint8Array;
      try {
        bytes = this.items[i]!.build(nowMs);
      } catch {
        // A field that no longer fits its encoding (a handler bug): the answer is lost, never the uplink.
        failed.add(i);
        this.dropped++;
        return;
      }
      if (size + bytes.length > cap) return;
      parts.push(bytes);
      size += bytes.length;
      taken.add(i);
    };
    tryTake(first);
    if (failed.size > 0 && taken.size === 0) {
      this.items.splice(first, 1);
      return this.takeFrame(nowMs, capFor);
    }
    if (taken.size === 0) {
      this.items.splice(first, 1);
      return { fPort, data: new Uint8Array(0) };
    }
    for (let i = 0; i < this.items.length; i++) {
      const a = this.items[i]!;
      if (i !== first && a.fPort === fPort && a.readyAt <= nowMs) tryTake(i);
    }
    const sent = this.items.filter((_, i) => taken.has(i));
    this.items = this.items.filter((_, i) => !taken.has(i) && !failed.has(i));
    for (const a of sent) a.onSent?.(nowMs);
    const data = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    return { fPort, data };
  }
}
