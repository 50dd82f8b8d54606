/**
 * Time source shared by the service, the device reference and the simulator. Milliseconds since the Unix epoch.
 * Production uses wall time. Simulations use virtual time (a clock that only moves when told to, see
 * src/sim/virtual-time.ts), or a clock scaled from wall time for watching a campaign live.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that stands still until `set`: virtual time, moved by whoever drives the simulation. */
export class ManualClock implements Clock {
  constructor(private ms: number) {
    if (!Number.isFinite(ms)) throw new RangeError(`startMs: must be a finite number, got ${ms}`);
  }
  now(): number {
    return this.ms;
  }
  /** Moves the clock to `ms`; it never goes back. */
  set(ms: number): void {
    if (ms > this.ms) this.ms = ms;
  }
}

/** A clock that runs `speedup` times faster than wall time, starting at `startMs` (simulated) when wall time is `wallStartMs`. */
export class ScaledClock implements Clock {
  constructor(
    readonly startMs: number,
    readonly speedup: number,
    readonly wallStartMs: number = Date.now(),
  ) {
    if (!(speedup > 0)) throw new RangeError(`speedup: must be > 0, got ${speedup}`);
  }
  now(): number {
    return this.startMs + (Date.now() - this.wallStartMs) * this.speedup;
  }
  /** Wall-clock milliseconds that correspond to `simMs` of simulated time. */
  wallDelay(simMs: number): number {
    return Math.max(0, simMs / this.speedup);
  }
  toJSON(): { startMs: number; speedup: number; wallStartMs: number } {
    return { startMs: this.startMs, speedup: this.speedup, wallStartMs: this.wallStartMs };
  }
}
