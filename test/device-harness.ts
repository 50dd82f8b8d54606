// Server-side helpers for the device-stack tests: build downlinks with the codecs, collect the device's uplinks.
import { DEFAULT_PORTS, decodeCommands, encodeCommands, packageForPort, type AnyCommand, type PackageName } from '../src/codec/frame.js';
import { encryptMcKey, mcKEKey, mcRootKey, mcSessionKeys } from '../src/codec/keys.js';
import { encodeDownlinkFrame } from '../src/codec/lorawan-frame.js';
import { unixMsToGps } from '../src/codec/gpstime.js';
import { DeviceAppLayer, type AppLayerOptions, type PackageVersions } from '../src/device/app-layer.js';
import { publicKeyOf, type SigningKey } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import type { MulticastFrame } from '../src/sim/types.js';

export const T0 = Date.UTC(2025, 6, 14); // 2025-07-14T00:00:00Z, GPS 1436486418
export const gpsAt = (ms: number): number => unixMsToGps(ms);
export const ROOT_KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
export const MC_KEY = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
export const MC_ADDR = 0x01ab23cd;
export const SIGNING_KEY: SigningKey = { algorithm: 'ed25519', privateKey: new Uint8Array(32).fill(7) };
export const TRUSTED = [{ algorithm: 'ed25519' as const, publicKey: publicKeyOf(SIGNING_KEY) }];
export const DEVICE_CLASS = 'sensor-x';
export const V1_0_0 = 0x01000000;
export const V1_1_0 = 0x01010000;

export interface Stack {
  profile: 'loramac-node' | 'lbm';
  v: 1 | 2;
}
export const STACKS: Stack[] = [
  { profile: 'loramac-node', v: 1 },
  { profile: 'lbm', v: 1 },
  { profile: 'lbm', v: 2 },
];

export function versionsOf(v: 1 | 2): PackageVersions {
  return { ts003: v, ts004: v, ts005: v };
}

export function makeDevice(stack: Stack, over: Partial<AppLayerOptions> = {}): DeviceAppLayer {
  return new DeviceAppLayer({
    profile: stack.profile,
    versions: versionsOf(stack.v),
    lorawan: '1.0',
    rootKey: ROOT_KEY,
    deviceClass: DEVICE_CLASS,
    firmwareVersion: V1_0_0,
    hwVersion: 0xabcd,
    trustedKeys: TRUSTED,
    limits: { maxNbFrag: 64, maxFragSize: 64, maxLost: 32 },
    maxPayload: 51,
    clockOffsetMs: 0,
    driftPpm: 0,
    seed: 42,
    nowMs: T0,
    ...over,
  });
}

export function signedImage(version = V1_1_0, size = 900): Uint8Array {
  const firmware = Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);
  return signImage(firmware, { key: SIGNING_KEY, version, deviceClass: DEVICE_CLASS });
}

export function send(dev: DeviceAppLayer, v: 1 | 2, pkg: PackageName, cmds: AnyCommand[], nowMs: number): void {
  dev.receiveUnicast(DEFAULT_PORTS[pkg], encodeCommands(pkg, 'downlink', cmds, versionsOf(v)), nowMs);
}

export interface Heard {
  atMs: number;
  fPort: number;
  data: Uint8Array;
  commands: AnyCommand[];
}

/** Every uplink the device sends when it transmits as soon as an answer is ready, from `fromMs` to `untilMs`. */
export function collect(dev: DeviceAppLayer, v: 1 | 2, fromMs: number, untilMs: number): Heard[] {
  const out: Heard[] = [];
  for (;;) {
    const t = Math.max(fromMs, dev.nextAnswerAt());
    if (!(t <= untilMs)) return out;
    const up = dev.takeUplink(t);
    if (!up) return out;
    const pkg = packageForPort(up.fPort)!;
    const d = decodeCommands(pkg, 'uplink', up.data, versionsOf(v));
    if (d.error || d.unknownCid) throw new Error(`undecodable uplink on ${up.fPort}: ${Buffer.from(up.data).toString('hex')}`);
    out.push({ atMs: t, fPort: up.fPort, data: up.data, commands: d.commands });
    fromMs = t;
  }
}

export const only = (heard: Heard[]): AnyCommand => {
  if (heard.length !== 1 || heard[0]!.commands.length !== 1) throw new Error(`expected one answer, got ${JSON.stringify(heard.map((h) => h.commands))}`);
  return heard[0]!.commands[0]!;
};

export function groupSetup(rootKey: Uint8Array, lorawan: '1.0' | '1.1', mcGroupId = 0, mcAddr = MC_ADDR): AnyCommand {
  const mcKeyEncrypted = encryptMcKey(mcKEKey(mcRootKey(rootKey, lorawan)), MC_KEY);
  return { type: 'McGroupSetupReq', mcGroupId, mcAddr, mcKeyEncrypted, minMcFCnt: 0, maxMcFCnt: 0xffffffff };
}

/** The multicast frame the network sends for `payload` on the group built from MC_KEY / MC_ADDR. */
export function mcFrame(fCnt: number, fPort: number, payload: Uint8Array, mcAddr = MC_ADDR): MulticastFrame {
  const { mcAppSKey, mcNwkSKey } = mcSessionKeys(MC_KEY, mcAddr);
  const f = encodeDownlinkFrame({ devAddr: mcAddr, fCnt, fPort, payload, appSKey: mcAppSKey, nwkSKey: mcNwkSKey });
  return { mcAddr, fCnt, fPort, frmPayload: f.frmPayload, mic: f.mic, phyPayload: f.phyPayload };
}
