/**
 * Time source shared by the service, the device reference and the simulator. Milliseconds since the Unix epoch.
 * Production uses wall time; the simulator and the demo use a scaled clock so an hours-long campaign runs in seconds.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

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
