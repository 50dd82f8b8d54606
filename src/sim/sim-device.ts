/**
 * One simulated device: the FUOTA application layer (src/device/app-layer.ts) behind the network↔device contract of
 * src/sim/types.ts, with Class A uplink timing. The device powers up at the first call the network makes.
 *
 * Uplinks: periodic ones every uplinkIntervalMs ± jitterMs, the first at a random point of the first interval (so a
 * fleet does not transmit at once) and one shortly after every reboot; besides, the device transmits as soon as a
 * queued answer becomes ready (after its BlockAckDelay / FMP delay), as LoRaMac-node's and LBM's packages request
 * an uplink for their answers. An uplink carries the first ready answer (plus other ready answers of the same port
 * that fit); a periodic uplink with nothing to say is an empty keep-alive frame on KEEPALIVE_PORT, which gives the
 * network its Class A downlink slot. A silent device never transmits.
 */
import { decodeImageHeader } from '../codec/image-header.js';
import { DeviceAppLayer, type DeviceSnapshot } from '../device/app-layer.js';
import type { TrustedKey } from '../device/image-check.js';
import type { ProfileName } from '../device/profiles.js';
import { Rng } from '../device/rng.js';
import type { MulticastFrame, SimulatedDevice, Uplink } from './types.js';

/** Application port of the empty keep-alive uplink. */
export const KEEPALIVE_PORT = 1;
/** After a reboot the device transmits within this many ms (rejoin and first uplink). */
const BOOT_UPLINK_WITHIN_MS = 10_000;

export interface FleetDeviceSpec {
  devEui: string;
  profile: ProfileName;
  versions: { ts003: 1 | 2; ts004: 1 | 2; ts005: 1 | 2 };
  lorawan: '1.0' | '1.1';
  /** GenAppKey for LoRaWAN 1.0.x, AppKey for 1.1. */
  rootKey: Uint8Array;
  uplinkIntervalMs: number;
  jitterMs: number;
  clockOffsetMs: number;
  driftPpm: number;
  /** Never answers. */
  silent?: boolean;
  deviceClass: string;
  firmwareVersion: number;
  hwVersion: number;
  /** Running firmware as a signed image (installed form) in the device's flash from power-up. */
  baseImage?: Uint8Array;
  trustedKeys: TrustedKey[];
  maxNbFrag: number;
  maxFragSize: number;
  maxLost: number;
  /** Largest uplink FRMPayload in bytes (default 51, EU868 DR0-2). */
  maxPayload?: number;
}

export class SimDevice implements SimulatedDevice {
  readonly devEui: string;
  private app: DeviceAppLayer | null = null;
  private readonly rng: Rng;
  private nextTxMs = Infinity;
  private lastBootMs = -Infinity;
  /** Uplinks sent, answers among them, keep-alives. */
  readonly counters = { uplinks: 0, answers: 0, keepAlives: 0 };

  constructor(
    readonly spec: FleetDeviceSpec,
    private readonly seed: number,
  ) {
    validateSpec(spec);
    this.devEui = spec.devEui;
    this.rng = new Rng(mixSeed(seed, spec.devEui, 1));
  }

  get state(): DeviceSnapshot {
    return this.app ? this.app.snapshot() : poweredOff(this.spec);
  }

  /** The application layer, powering the device up at `nowMs` if needed. */
  appLayer(nowMs: number): DeviceAppLayer {
    if (!this.app) {
      const s = this.spec;
      this.app = new DeviceAppLayer({
        profile: s.profile,
        versions: s.versions,
        lorawan: s.lorawan,
        rootKey: s.rootKey,
        deviceClass: s.deviceClass,
        firmwareVersion: s.firmwareVersion,
        hwVersion: s.hwVersion,
        ...(s.baseImage ? { baseImage: s.baseImage } : {}),
        trustedKeys: s.trustedKeys,
        limits: { maxNbFrag: s.maxNbFrag, maxFragSize: s.maxFragSize, maxLost: s.maxLost },
        ...(s.maxPayload !== undefined ? { maxPayload: s.maxPayload } : {}),
        clockOffsetMs: s.clockOffsetMs,
        driftPpm: s.driftPpm,
        seed: mixSeed(this.seed, s.devEui, 2),
        nowMs,
      });
      this.lastBootMs = nowMs;
      this.nextTxMs = nowMs + this.rng.int(s.uplinkIntervalMs);
    }
    this.app.advance(nowMs);
    if (this.app.bootedAtMs !== this.lastBootMs) {
      this.lastBootMs = this.app.bootedAtMs;
      this.nextTxMs = this.lastBootMs + this.rng.int(BOOT_UPLINK_WITHIN_MS);
    }
    return this.app;
  }

  receiveUnicast(fPort: number, data: Uint8Array, nowMs: number): void {
    this.appLayer(nowMs).receiveUnicast(fPort, data, nowMs);
  }

  receiveMulticast(frame: MulticastFrame, nowMs: number): void {
    this.appLayer(nowMs).receiveMulticast(frame, nowMs);
  }

  nextUplinkAt(nowMs: number): number {
    if (this.spec.silent) return Infinity;
    // A programmed reboot wakes the device at its time; the uplink after the boot is scheduled then.
    // (Power the device up first: that draws its first transmit time.)
    // An answer that becomes ready makes the device transmit then (as LoRaMac-node and LBM do), not at its next
    // periodic uplink.
    const app = this.appLayer(nowMs);
    return Math.min(this.nextTxMs, app.rebootAtMs ?? Infinity, app.nextAnswerAt());
  }

  transmit(nowMs: number): Uplink | null {
    if (this.spec.silent) return null;
    const app = this.appLayer(nowMs);
    const periodic = nowMs >= this.nextTxMs;
    if (!periodic && app.nextAnswerAt() > nowMs) return null;
    if (periodic) {
      const { uplinkIntervalMs, jitterMs } = this.spec;
      this.nextTxMs = nowMs + Math.max(1, uplinkIntervalMs + this.rng.symmetric(jitterMs));
    }
    this.counters.uplinks++;
    const answer = app.takeUplink(nowMs);
    if (answer) {
      this.counters.answers++;
      return answer;
    }
    this.counters.keepAlives++;
    return { fPort: KEEPALIVE_PORT, data: new Uint8Array(0) };
  }
}

/** A 32-bit seed from the fleet seed, the DevEUI and a stream number (FNV-1a), independent of fleet order. */
export function mixSeed(seed: number, devEui: string, stream: number): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  const text = `${devEui}/${stream}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function validateSpec(s: FleetDeviceSpec): void {
  if (!/^[0-9a-f]{16}$/.test(s.devEui)) throw new RangeError(`devEui: must be 16 lower-case hex digits, got '${s.devEui}'`);
  if (!(s.uplinkIntervalMs > 0)) throw new RangeError(`uplinkIntervalMs: must be > 0, got ${s.uplinkIntervalMs}`);
  if (!(s.jitterMs >= 0 && s.jitterMs < s.uplinkIntervalMs)) {
    throw new RangeError(`jitterMs: must be in [0, uplinkIntervalMs), got ${s.jitterMs}`);
  }
}

function poweredOff(s: FleetDeviceSpec): DeviceSnapshot {
  return {
    profile: s.profile,
    runningVersion: s.baseImage ? decodeImageHeader(s.baseImage).firmwareVersion : s.firmwareVersion >>> 0,
    imageStatus: 0,
    imageReason: null,
    reboots: 0,
    rebootAtMs: null,
    clockOffsetMs: s.clockOffsetMs,
    clockSynced: false,
    groups: [],
    frag: null,
    pendingAnswers: 0,
    decoderBytes: 0,
  };
}
