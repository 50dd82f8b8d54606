/**
 * A device's own notion of time: a reading that drifts against true (simulated) time and that TS003 corrects.
 * Readings are GPS milliseconds (since 1980-01-06, no leap seconds) as the device believes them, so a TS003
 * TimeCorrection in GPS seconds applies directly, also to an uptime clock that starts at 0.
 */
export class DeviceClock {
  private baseMs: number;
  private refMs: number;
  private readonly rate: number;
  /** True once an AppTimeAns (or another time source) has set the clock. */
  synced: boolean;

  /**
   * @param nowMs    true time at creation
   * @param readingMs what the device clock reads at `nowMs` (GPS ms)
   * @param driftPpm how fast the device clock runs (+ = fast), parts per million
   */
  constructor(nowMs: number, readingMs: number, driftPpm: number, synced = false) {
    if (!Number.isFinite(driftPpm) || Math.abs(driftPpm) >= 1e6) {
      throw new RangeError(`driftPpm: must be a finite number of magnitude < 1e6, got ${driftPpm}`);
    }
    this.baseMs = readingMs;
    this.refMs = nowMs;
    this.rate = 1 + driftPpm / 1e6;
    this.synced = synced;
  }

  /** The device clock reading (GPS ms as the device believes it) at true time `nowMs` (Unix ms). */
  read(nowMs: number): number {
    return this.baseMs + (nowMs - this.refMs) * this.rate;
  }

  /** Steps the clock by `deltaMs` at `nowMs` (TS003 TimeCorrection) and marks it synchronised. */
  correct(nowMs: number, deltaMs: number): void {
    this.baseMs = this.read(nowMs) + deltaMs;
    this.refMs = nowMs;
    this.synced = true;
  }

  /** Sets the reading at `nowMs` (e.g. an uptime clock restarting at boot), keeping the drift. */
  set(nowMs: number, readingMs: number, synced: boolean): void {
    this.baseMs = readingMs;
    this.refMs = nowMs;
    this.synced = synced;
  }

  /** The true time at which this clock will read `readingMs` (assuming no correction in between). */
  trueTimeOf(readingMs: number, nowMs: number): number {
    return nowMs + (readingMs - this.read(nowMs)) / this.rate;
  }
}
