/**
 * A whole simulated deployment in one process, for the demo, the benchmarks and the end-to-end tests: the
 * simulated network (src/sim/assemble.ts: ChirpStack over real gRPC, a fleet running our device stack over a lossy
 * radio, the integration out over HTTP or MQTT), a signed firmware image and a campaign spec for the fleet.
 * Workers are started separately (in-process or as processes) with the same time: virtual (default) or scaled.
 */
import { createServer } from 'node:net';
import type { ScaledClock } from '../codec/clock.js';
import { versionToU32 } from '../codec/image-header.js';
import { generateKeyPair, formatPublicKeyFile, publicKeyOf } from '../image/keys.js';
import { signImage } from '../image/sign.js';
import { assembleSimulation, type SimTime } from './assemble.js';
import type { SimChirpStack } from './chirpstack-server.js';
import type { DeviceSnapshot, FleetMix } from './fleet.js';
import type { IntegrationOut } from './integration-out.js';
import type { GroupLossRecord, SimNetwork } from './network.js';
import type { VirtualTime } from './virtual-time.js';
import { Rng } from '../device/rng.js';
import type { SimulatedDevice } from './types.js';
import type { CampaignSpecInput } from '../campaign/schema.js';

export const DEVICE_CLASS = 'demo-sensor-v1';

export interface SimEnvOptions {
  devices: number;
  loss: number;
  seed: number;
  /** Virtual time in this Redis under this prefix (the workers' prefix), or scaled wall time. */
  time: SimTime;
  imageBytes?: number;
  mix?: FleetMix;
  /** 'http' (default: the worker's HTTP integration endpoint) or an MQTT broker URL. */
  mqttUrl?: string | undefined;
  httpPort?: number | undefined;
  classCMarginMs?: number;
  badFraction?: number;
  badFactor?: number;
  silentFraction?: number;
  lossModel?: 'uniform' | 'gilbert-elliott';
  uplinkIntervalMs?: number;
  log?: (msg: string) => void;
}

export interface SimEnv {
  /** Scaled time only. */
  clock?: ScaledClock;
  /** Virtual time only. */
  virtualTime?: VirtualTime;
  chirpstack: SimChirpStack;
  grpcTarget: string;
  network: SimNetwork;
  devices: (SimulatedDevice & { readonly state: DeviceSnapshot })[];
  stacks: Map<string, string>;
  applicationId: string;
  /** Campaign spec for the whole fleet (image signed, key embedded). */
  spec: CampaignSpecInput;
  image: Uint8Array;
  httpPort: number;
  out: IntegrationOut;
  /** Simulated time now. */
  now(): number;
  close(): Promise<void>;
}

/** Decoder rows (fragments) a simulated device keeps for an image of `bytes` at 239 B fragments. */
export function decoderRows(bytes: number): number {
  return Math.min(16_383, Math.max(64, Math.ceil(Math.ceil(bytes / 239) / 32) * 32));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A multicast address drawn from the seed (never 0): the radio's loss draws for multicast depend on it. */
export function mcAddrForSeed(seed: number): string {
  const rng = new Rng(seed ^ 0x3ca57);
  let a = 0;
  while (a === 0) a = (rng.int(0xffff) << 16) | rng.int(0xffff);
  return (a >>> 0).toString(16).padStart(8, '0');
}

export async function startSimEnv(o: SimEnvOptions): Promise<SimEnv> {
  // The signing key is drawn at random; the signature's bytes do not change what any device receives or decodes.
  const key = generateKeyPair('ecdsa-p256');
  const trusted = { algorithm: key.algorithm, publicKey: publicKeyOf(key) };
  const rng = new Rng(o.seed ^ 0x5eed);
  const firmware = new Uint8Array(o.imageBytes ?? 24 * 1024);
  for (let i = 0; i < firmware.length; i++) firmware[i] = rng.int(255);
  const image = signImage(firmware, { key, version: '1.1.0', deviceClass: DEVICE_CLASS });

  const httpPort = o.httpPort ?? (await freePort());
  const classCMarginMs = o.classCMarginMs ?? 2000;
  const uplinkIntervalMs = o.uplinkIntervalMs ?? 60_000;
  const sim = await assembleSimulation({
    devices: o.devices,
    seed: o.seed,
    loss: o.loss,
    model: o.lossModel ?? 'uniform',
    badFraction: o.badFraction ?? 0.1,
    badFactor: o.badFactor ?? 2,
    silentFraction: o.silentFraction ?? 0,
    mix: o.mix ?? { 'loramac-node': 1, 'lbm-v1': 1 },
    deviceClass: DEVICE_CLASS,
    firmwareVersion: versionToU32('1.0.0'),
    trustedKeys: [trusted],
    // Decoder memory sized for the image this run sends (at 239 B fragments, EU868 DR5, rounded up to 32
    // fragments, at least 64), as a device built to take images of that size: not for the largest block TS004
    // allows (16,383 rows would cost every simulated device megabytes). `--image-kib` above 74 needed this: a fixed
    // 320 rows made every device refuse the session (NotEnoughMemory).
    maxNbFrag: decoderRows(image.length),
    maxFragSize: 239,
    maxLost: decoderRows(image.length),
    uplinkIntervalMs,
    applicationName: 'lorafuota-demo',
    ...(o.mqttUrl ? { mqttUrl: o.mqttUrl } : { httpUrls: [`http://127.0.0.1:${httpPort}/`] }),
    classCMarginMs,
    // ChirpStack v4.19 as it is (docs/sim.md "Fidelity"): duplicate members refused, a gateway without GPS that
    // enforces its duty cycle, 1.0.x devices class A between sessions (a profile without supports_class_c).
    time: o.time,
    ...(o.log ? { log: o.log } : {}),
  });
  const spec: CampaignSpecInput = {
    name: `demo-${o.devices}-devices`,
    applicationId: sim.provisioning.applicationId,
    imageBase64: Buffer.from(image).toString('base64'),
    publicKeys: [formatPublicKeyFile(trusted)],
    deviceClass: DEVICE_CLASS,
    devices: sim.provisioning.devices.map((d) => ({ devEui: d.devEui, lorawan: d.lorawan })),
    multicast: { groupType: 'C', region: 'EU868', dr: 5, frequencyHz: 869_525_000, classCMarginMs, mcAddr: mcAddrForSeed(o.seed), gatewayIds: sim.provisioning.gatewayIds },
    fragmentation: { ts004Version: 1, initialRedundancyPercent: 10, maxRedundancyPercent: 250, blockAckDelay: 0, maxRepairRounds: 12 },
    timing: { uplinkIntervalS: uplinkIntervalMs / 1000, unicastRetries: 8, rebootDelayS: 30 },
  };
  return {
    ...(sim.scaledClock ? { clock: sim.scaledClock } : {}),
    ...(sim.virtualTime ? { virtualTime: sim.virtualTime } : {}),
    chirpstack: sim.chirpstack,
    grpcTarget: sim.provisioning.grpc,
    network: sim.network,
    devices: sim.devices,
    stacks: sim.stacks,
    applicationId: sim.provisioning.applicationId,
    spec,
    image,
    httpPort,
    out: sim.out,
    now: () => sim.now(),
    close: () => sim.stop(),
  };
}

/** The loss record of the campaign's group (the one with DataFragments). */
export function fragmentRecord(network: SimNetwork): GroupLossRecord | undefined {
  return network.lossRecord().find((g) => g.sent.some((f) => f.fragN !== undefined));
}
