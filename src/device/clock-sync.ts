/**
 * TS003 application-layer clock synchronisation, device side (port 202). Sends AppTimeReq at boot, periodically and
 * when forced; applies AppTimeAns only when its token matches (TS003-2.0.0 §3.2; docs/protocol.md §2), then advances the token.
 */
import type { AnyCommand } from '../codec/frame.js';
import { unixMsToGps } from '../codec/gpstime.js';
import type { DeviceClock } from './device-clock.js';
import type { HandlerContext, ReplyOptions } from './handler-context.js';
import type { DeviceProfile } from './profiles.js';

export const TS003_PACKAGE_ID = 1;
const APP_TIME_TAG = 'AppTimeReq';
const I32_MAX = 0x7fffffff;
const I32_MIN = -0x80000000;
/** Default resync period when the server never sets one: 128 × 2^10 s ≈ 36 h. */
const DEFAULT_PERIOD_EXPONENT = 10;

/** Queues an unsolicited uplink command at `nowMs`; false when the answer queue refused it (full). */
export type Enqueue = (nowMs: number, make: (txMs: number) => AnyCommand, opts?: ReplyOptions) => boolean | void;

export class ClockSync {
  private tokenReq = 0;
  private forcedLeft = 0;
  private requestQueued = false;
  private periodMs = periodMsOf(DEFAULT_PERIOD_EXPONENT);
  private nextSyncAt = Infinity;

  constructor(
    private readonly profile: DeviceProfile,
    private readonly version: 1 | 2,
    readonly clock: DeviceClock,
    private readonly enqueue: Enqueue,
    private readonly cancel: (tag: string) => void,
  ) {}

  /** Device GPS time in whole seconds (modulo 2^32) by its own clock. */
  gpsNow(nowMs: number): number {
    return Math.floor(this.clock.read(nowMs) / 1000) >>> 0;
  }

  /** The true time at which the device's clock reaches GPS second `gps`. */
  trueTimeOfGps(gps: number, nowMs: number): number {
    return this.clock.trueTimeOf(gps * 1000, nowMs);
  }

  /** Device clock minus true GPS time at `nowMs`, ms. */
  offsetMs(nowMs: number): number {
    return this.clock.read(nowMs) - gpsMs(nowMs);
  }

  get token(): number {
    return this.tokenReq;
  }

  /** At boot/join: ask for the time on the first uplink and plan the periodic resync. */
  boot(nowMs: number): void {
    this.forcedLeft = 0;
    this.requestQueued = false;
    this.requestTime(nowMs);
    this.nextSyncAt = nowMs + this.periodMs;
  }

  /** Periodic resync: queues an AppTimeReq when the period has elapsed. */
  poll(nowMs: number): void {
    if (nowMs < this.nextSyncAt) return;
    this.requestTime(nowMs);
    this.nextSyncAt = nowMs + this.periodMs;
  }

  handle(cmd: AnyCommand, ctx: HandlerContext): void {
    switch (cmd.type) {
      case 'PackageVersionReq':
        ctx.reply(() => ({ type: 'PackageVersionAns', packageIdentifier: TS003_PACKAGE_ID, packageVersion: this.version }));
        return;
      case 'AppTimeAns':
        this.onAppTimeAns(cmd.timeCorrection, cmd.tokenAns, ctx.nowMs);
        return;
      case 'DeviceAppTimePeriodicityReq': {
        const notSupported = this.profile.periodicityNotSupported;
        if (!notSupported) {
          this.periodMs = periodMsOf(cmd.period);
          this.nextSyncAt = ctx.nowMs + this.periodMs;
        }
        ctx.reply((txMs) => ({ type: 'DeviceAppTimePeriodicityAns', notSupported, time: this.gpsNow(txMs) }));
        return;
      }
      case 'ForceDeviceResyncReq':
      case 'ForceDeviceResyncCmd':
        this.forcedLeft = cmd.nbTransmissions;
        if (this.forcedLeft > 0) this.requestTime(ctx.nowMs);
        return;
      default:
        return;
    }
  }

  private onAppTimeAns(timeCorrection: number, tokenAns: number, nowMs: number): void {
    if (tokenAns !== this.tokenReq) return;
    this.tokenReq = (this.tokenReq + 1) & 0x0f;
    this.forcedLeft = 0;
    this.cancel(APP_TIME_TAG);
    this.requestQueued = false;
    if (this.version === 2 && (timeCorrection === I32_MAX || timeCorrection === I32_MIN)) {
      this.requestTime(nowMs);
      return;
    }
    this.clock.correct(nowMs, timeCorrection * 1000);
  }

  private requestTime(nowMs: number): void {
    if (this.requestQueued) return;
    this.requestQueued = true;
    const queued = this.enqueue(
      nowMs,
      (txMs) => ({
        type: 'AppTimeReq',
        deviceTime: this.gpsNow(txMs),
        ansRequired: this.profile.appTimeAnsRequired && this.forcedLeft === 0,
        tokenReq: this.tokenReq,
      }),
      {
        tag: APP_TIME_TAG,
        onSent: (txMs) => {
          this.requestQueued = false;
          if (this.forcedLeft > 0 && --this.forcedLeft > 0) this.requestTime(txMs + 1);
        },
      },
    );
    // A full answer queue refused it: ask again at the next occasion instead of waiting for an answer forever.
    if (queued === false) this.requestQueued = false;
  }
}

function periodMsOf(exponent: number): number {
  return 128 * 2 ** exponent * 1000;
}

/** True GPS time in ms of a Unix time in ms. */
export function gpsMs(unixMs: number): number {
  const whole = Math.floor(unixMs / 1000);
  return unixMsToGps(unixMs) * 1000 + (unixMs - whole * 1000);
}
