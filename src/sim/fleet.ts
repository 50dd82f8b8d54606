/**
 * The simulated fleet: device specs drawn deterministically from a seed, and the factory that turns a spec into a
 * `SimulatedDevice` running our device stack (src/sim/sim-device.ts).
 */
import type { DeviceSnapshot } from '../device/app-layer.js';
import type { TrustedKey } from '../device/image-check.js';
import { Rng } from '../device/rng.js';
import { SimDevice, type FleetDeviceSpec } from './sim-device.js';
import type { SimulatedDevice } from './types.js';

export { KEEPALIVE_PORT, type FleetDeviceSpec } from './sim-device.js';
export type { DeviceSnapshot } from '../device/app-layer.js';

/** Firmware stacks in a fleet, by weight: LoRaMac-node (v1 packages), LBM with v1 packages, LBM with v2 packages. */
export interface FleetMix {
  'loramac-node'?: number;
  'lbm-v1'?: number;
  'lbm-v2'?: number;
}

export interface FleetOptions {
  count: number;
  seed: number;
  deviceClass: string;
  firmwareVersion: number;
  trustedKeys: TrustedKey[];
  /** Default: equal thirds. */
  mix?: FleetMix;
  /** Share of devices that never transmit (default 0). */
  silentFraction?: number;
  /** Share of LoRaWAN 1.1 devices (root key = AppKey); the rest are 1.0.x with a GenAppKey (default 0). */
  lorawan11Fraction?: number;
  /** Default 60 s ± 5 s. */
  uplinkIntervalMs?: number;
  jitterMs?: number;
  /** Clock error before sync: uniform in ±maxClockOffsetMs (default 120 s); drift uniform in ±maxDriftPpm (default 20). */
  maxClockOffsetMs?: number;
  maxDriftPpm?: number;
  /** Fragment decoder limits (default 512 fragments of ≤ 64 B, 256 lost). */
  maxNbFrag?: number;
  maxFragSize?: number;
  maxLost?: number;
  hwVersion?: number;
  /**
   * Base firmware every device runs from power-up, as a signed image (installed form, e.g. from signImage); its
   * version replaces firmwareVersion. Needed for delta campaigns.
   */
  baseImage?: Uint8Array;
  maxPayload?: number;
  /** First DevEUI; device i gets devEuiBase + i (default 0x70b3d57ed0000000). */
  devEuiBase?: bigint;
}

const STACKS = ['loramac-node', 'lbm-v1', 'lbm-v2'] as const;

export function makeFleetSpecs(opts: FleetOptions): FleetDeviceSpec[] {
  const { count, seed } = opts;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count: must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed: must be an integer, got ${seed}`);
  const silentFraction = fraction('silentFraction', opts.silentFraction ?? 0);
  const lorawan11Fraction = fraction('lorawan11Fraction', opts.lorawan11Fraction ?? 0);
  const mix = opts.mix ?? { 'loramac-node': 1, 'lbm-v1': 1, 'lbm-v2': 1 };
  const weights = STACKS.map((s) => {
    const w = mix[s] ?? 0;
    if (!(w >= 0)) throw new RangeError(`mix.${s}: must be a weight >= 0, got ${w}`);
    return w;
  });
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError('mix: at least one weight must be > 0');
  const base = opts.devEuiBase ?? 0x70b3d57ed0000000n;
  const maxOffset = opts.maxClockOffsetMs ?? 120_000;
  const maxDrift = opts.maxDriftPpm ?? 20;
  const rng = new Rng(seed);
  const specs: FleetDeviceSpec[] = [];
  for (let i = 0; i < count; i++) {
    let pick = rng.next() * total;
    let stack: (typeof STACKS)[number] = STACKS[STACKS.length - 1]!;
    for (let k = 0; k < STACKS.length; k++) {
      if ((pick -= weights[k]!) < 0) {
        stack = STACKS[k]!;
        break;
      }
    }
    const v = stack === 'lbm-v2' ? 2 : 1;
    const rootKey = new Uint8Array(16);
    for (let b = 0; b < 16; b++) rootKey[b] = rng.int(255);
    const spec: FleetDeviceSpec = {
      devEui: (base + BigInt(i)).toString(16).padStart(16, '0'),
      profile: stack === 'loramac-node' ? 'loramac-node' : 'lbm',
      versions: { ts003: v, ts004: v, ts005: v },
      lorawan: rng.next() < lorawan11Fraction ? '1.1' : '1.0',
      rootKey,
      uplinkIntervalMs: opts.uplinkIntervalMs ?? 60_000,
      jitterMs: opts.jitterMs ?? 5_000,
      clockOffsetMs: Math.round((rng.next() * 2 - 1) * maxOffset),
      driftPpm: (rng.next() * 2 - 1) * maxDrift,
      deviceClass: opts.deviceClass,
      firmwareVersion: opts.firmwareVersion,
      hwVersion: opts.hwVersion ?? 1,
      ...(opts.baseImage ? { baseImage: opts.baseImage } : {}),
      trustedKeys: opts.trustedKeys,
      maxNbFrag: opts.maxNbFrag ?? 512,
      maxFragSize: opts.maxFragSize ?? 64,
      maxLost: opts.maxLost ?? 256,
      ...(opts.maxPayload !== undefined ? { maxPayload: opts.maxPayload } : {}),
    };
    if (rng.next() < silentFraction) spec.silent = true;
    specs.push(spec);
  }
  return specs;
}

/** A simulated device for `spec`; the same (spec, seed) always behaves the same. */
export function createSimDevice(spec: FleetDeviceSpec, seed: number): SimulatedDevice & { readonly state: DeviceSnapshot } {
  return new SimDevice(spec, seed);
}

function fraction(name: string, v: number): number {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name}: must be in [0, 1], got ${v}`);
  return v;
}
