/**
 * A small seeded PRNG (mulberry32) for the device reference and the simulator. Deterministic: the same seed gives
 * the same draws, so a simulated fleet replays exactly. One 32-bit word of state per device.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed: must be an integer, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, max] (inclusive). */
  int(max: number): number {
    return Math.floor(this.next() * (Math.floor(max) + 1));
  }

  /** A uniform integer in [-span, +span]. */
  symmetric(span: number): number {
    return this.int(2 * span) - Math.floor(span);
  }
}
