/**
 * A whole simulated deployment in one process, for the demo, the benchmarks and the end-to-end tests: the
 * simulated ChirpStack (real gRPC), a fleet running our device stack over a lossy radio, the integration
 * (HTTP or MQTT) and a signed firmware image. Workers are started separately (in-process or as processes).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { ScaledClock } from '../src/codec/clock.js';
import { versionToU32 } from '../src/codec/image-header.js';
import { generateKeyPair, formatPublicKeyFile, publicKeyOf } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import { DEFAULT_GATEWAY_ID, SimChirpStack } from '../src/sim/chirpstack-server.js';
import { createSimDevice, makeFleetSpecs, type DeviceSnapshot, type FleetMix } from '../src/sim/fleet.js';
import { IntegrationOut } from '../src/sim/integration-out.js';
import { SimNetwork, type GroupLossRecord } from '../src/sim/network.js';
import { Radio } from '../src/sim/radio.js';
import { Rng } from '../src/device/rng.js';
import type { SimulatedDevice } from '../src/sim/types.js';
import type { CampaignSpecInput } from '../src/campaign/schema.js';

export const DEVICE_CLASS = 'demo-sensor-v1';

export interface SimEnvOptions {
  devices: number;
  loss: number;
  seed: number;
  speedup: number;
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
}

export interface SimEnv {
  clock: ScaledClock;
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
  close(): Promise<void>;
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

export async function startSimEnv(o: SimEnvOptions): Promise<SimEnv> {
  const clock = new ScaledClock(Date.now(), o.speedup);
  const key = generateKeyPair('ecdsa-p256');
  const trusted = { algorithm: key.algorithm, publicKey: publicKeyOf(key) };
  const rng = new Rng(o.seed ^ 0x5eed);
  const firmware = new Uint8Array(o.imageBytes ?? 24 * 1024);
  for (let i = 0; i < firmware.length; i++) firmware[i] = rng.int(255);
  const image = signImage(firmware, { key, version: '1.1.0', deviceClass: DEVICE_CLASS });

  // Kinder than ChirpStack v4.19 where the service does not cope yet (docs/sim.md "Fidelity"): duplicate members
  // are accepted (a restarted step adds them again) and the gateway does not enforce its duty cycle (the service
  // enqueues ahead, and ChirpStack spaces queued items by the class C margin only).
  const chirpstack = new SimChirpStack({
    acceptDuplicateMembers: true,
    gateways: [{ gatewayId: DEFAULT_GATEWAY_ID, region: 'EU868', enforceDutyCycle: false, gps: true }],
  });
  const port = await chirpstack.listen('127.0.0.1', 0);
  const applicationId = chirpstack.createApplication('lorafuota-demo');
  const profileId = chirpstack.createDeviceProfile({ name: 'fuota-class-c', macVersion: '1.0.3', supportsClassC: true });
  const profile11 = chirpstack.createDeviceProfile({ name: 'fuota-class-c-1.1', macVersion: '1.1.0', supportsClassC: true });
  const specs = makeFleetSpecs({
    count: o.devices,
    seed: o.seed,
    deviceClass: DEVICE_CLASS,
    firmwareVersion: versionToU32('1.0.0'),
    trustedKeys: [trusted],
    mix: o.mix ?? { 'loramac-node': 1, 'lbm-v1': 1 },
    silentFraction: o.silentFraction ?? 0,
    // Decoder memory sized for the demo's images (up to 64 KiB at 239 B fragments, EU868 DR5), not for the largest block.
    maxNbFrag: 320,
    maxFragSize: 239,
    maxLost: 320,
    ...(o.uplinkIntervalMs ? { uplinkIntervalMs: o.uplinkIntervalMs, jitterMs: Math.round(o.uplinkIntervalMs / 12) } : {}),
  });
  const stacks = new Map<string, string>();
  for (const s of specs) {
    const root = Buffer.from(s.rootKey).toString('hex');
    chirpstack.createDevice({
      devEui: s.devEui,
      applicationId,
      deviceProfileId: s.lorawan === '1.1' ? profile11 : profileId,
      classEnabled: 'CLASS_A',
      // 1.0.x: the join key lives in nwk_key and the multicast root is the GenAppKey (docs/protocol.md §6).
      keys: s.lorawan === '1.1' ? { nwkKey: randomBytes(16).toString('hex'), appKey: root, genAppKey: '' } : { nwkKey: randomBytes(16).toString('hex'), appKey: '', genAppKey: root },
    });
    stacks.set(s.devEui, s.profile === 'loramac-node' ? 'loramac-node' : `lbm-v${s.versions.ts004}`);
  }
  const devices = specs.map((s) => createSimDevice(s, o.seed));
  const httpPort = o.httpPort ?? (await freePort());
  const out = new IntegrationOut(o.mqttUrl ? { mqttUrl: o.mqttUrl } : { httpUrls: [`http://127.0.0.1:${httpPort}/`] });
  await out.start();
  const radio = new Radio({
    seed: o.seed,
    loss: o.loss,
    model: o.lossModel ?? 'uniform',
    badFraction: o.badFraction ?? 0.1,
    badFactor: o.badFactor ?? 2,
    silentFraction: 0,
  });
  const classCMarginMs = o.classCMarginMs ?? 2000;
  const network = new SimNetwork({ clock, devices, chirpstack, radio, out, classCMarginMs });
  network.start();
  const spec: CampaignSpecInput = {
    name: `demo-${o.devices}-devices`,
    applicationId,
    imageBase64: Buffer.from(image).toString('base64'),
    publicKeys: [formatPublicKeyFile(trusted)],
    deviceClass: DEVICE_CLASS,
    devices: specs.map((s) => ({ devEui: s.devEui, lorawan: s.lorawan })),
    multicast: { groupType: 'C', region: 'EU868', dr: 5, frequencyHz: 869_525_000, classCMarginMs },
    fragmentation: { ts004Version: 1, initialRedundancyPercent: 10, maxRedundancyPercent: 250, blockAckDelay: 0, maxRepairRounds: 12 },
    timing: { uplinkIntervalS: (o.uplinkIntervalMs ?? 60_000) / 1000, unicastRetries: 8, rebootDelayS: 30 },
  };
  return {
    clock,
    chirpstack,
    grpcTarget: `127.0.0.1:${port}`,
    network,
    devices,
    stacks,
    applicationId,
    spec,
    image,
    httpPort,
    out,
    async close() {
      network.close();
      await out.close?.();
      chirpstack.stop();
    },
  };
}

/** The loss record of the campaign's group (the one with DataFragments). */
export function fragmentRecord(network: SimNetwork): GroupLossRecord | undefined {
  return network.lossRecord().find((g) => g.sent.some((f) => f.fragN !== undefined));
}
