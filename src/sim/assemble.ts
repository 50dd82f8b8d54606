/**
 * The one place a whole simulated network is put together, for `lorafuota sim`, the demo, the tests and the
 * benches: the simulated ChirpStack gRPC server provisioned with a fleet (src/sim/fleet.ts), the radio, the
 * network, the integration output, and the time it runs on: virtual time shared with the workers through Redis
 * (src/sim/virtual-time.ts), a clock scaled from wall time for watching a campaign live, or manual time (the
 * caller runs `network.advanceTo`).
 */
import { ManualClock, ScaledClock } from '../codec/clock.js';
import type { TrustedKey } from '../device/image-check.js';
import { DEFAULT_GATEWAY_ID, SimChirpStack } from './chirpstack-server.js';
import type { ChirpStackVersion } from './multicast-scheduler.js';
import { createSimDevice, makeFleetSpecs, type DeviceSnapshot, type FleetMix } from './fleet.js';
import { IntegrationOut } from './integration-out.js';
import { SimNetwork } from './network.js';
import { Radio, type LossModelName } from './radio.js';
import type { SimulatedDevice } from './types.js';
import { EmitBuffer, VirtualTime } from './virtual-time.js';

/** Where virtual time starts: a fixed instant, so that runs of one seed agree on every time (GPS slots included). */
export const VIRTUAL_EPOCH_MS = Date.UTC(2026, 0, 1);

export type SimTime =
  /** Virtual time kept in this Redis under this deployment prefix (workers must run with virtual time too). */
  | { virtual: { redisUrl: string; prefix: string; quantumMs?: number; stallMs?: number } }
  /** Scaled wall time: `speedup` simulated seconds per wall second. */
  | { speedup: number }
  /** Time moves only when the caller runs `network.advanceTo` (tests and benches without workers). */
  | { manual: true };

export interface SimulationOptions {
  devices: number;
  seed: number;
  loss: number;
  model?: LossModelName;
  burstLength?: number;
  /** Share of devices with a worse link (default 0.1), `badFactor` times the loss (default 4). */
  badFraction?: number;
  badFactor?: number;
  /** Share of fleet devices that never transmit. */
  silentFraction?: number;
  mix?: FleetMix;
  lorawan11Fraction?: number;
  /** Gateway that serves the gRPC API (default 127.0.0.1, port 0 = any free port). */
  host?: string;
  port?: number;
  apiToken?: string;
  mqttUrl?: string | undefined;
  httpUrls?: string[];
  encoding?: 'json' | 'protobuf';
  classCMarginMs?: number;
  /** ChirpStack version modelled (default 4.19; 4.12 reads MulticastGroup field 14 as nb_k). */
  chirpstackVersion?: ChirpStackVersion;
  /** Number of gateways of the tenant (default 1), IDs from 0016c001f153a14c up, all reaching every device. */
  gateways?: number;
  /** Gateways have GNSS: uplinks carry rxInfo.timeSinceGpsEpoch (default false, as ChirpStack without GNSS). */
  gatewayGps?: boolean;
  /** Gateways enforce the regional duty cycle, refusing frames that break it (default true, as real concentrators). */
  gatewayDutyCycle?: boolean;
  /** The region config's repeater_compatible (default false). */
  repeaterCompatible?: boolean;
  /** Accept a second AddDevice/AddGateway of a member (default false: ChirpStack answers INTERNAL duplicate key). */
  acceptDuplicateMembers?: boolean;
  /** The 1.0.x device profile has supports_class_c (default false: ChirpStack v4.19 would make those devices class C at
   *  join and send their unicast items at once, while the devices listen as class A between sessions). */
  profileClassC?: boolean;
  /** Device class enabled at join (default: as ChirpStack v4.19 does, class C for 1.0.x devices of a class C profile). */
  classAtJoin?: 'CLASS_A' | 'CLASS_C';
  uplinkIntervalMs?: number;
  /** Default uplinkIntervalMs / 12. */
  jitterMs?: number;
  deviceClass: string;
  firmwareVersion: number;
  trustedKeys: TrustedKey[];
  /** Fragment decoder limits of the devices (defaults: see FleetOptions). */
  maxNbFrag?: number;
  maxFragSize?: number;
  maxLost?: number;
  /** The same limits as one object (the CLI's --max-fragments, --max-frag-size, --max-lost). */
  decoderLimits?: { maxNbFrag?: number; maxFragSize?: number; maxLost?: number };
  applicationName?: string;
  time: SimTime;
  /** Simulated start time (default: VIRTUAL_EPOCH_MS in virtual time, now in scaled time). */
  startMs?: number;
  log?: (msg: string) => void;
}

export interface ProvisionedDevice {
  devEui: string;
  lorawan: '1.0' | '1.1';
  stack: string;
  versions: { ts003: number; ts004: number; ts005: number };
  silent: boolean;
}

export interface Provisioning {
  grpc: string;
  apiToken: string;
  applicationId: string;
  deviceProfiles: Record<'1.0.3' | '1.1.0', string>;
  chirpstackVersion: ChirpStackVersion;
  gatewayIds: string[];
  /** What every simulated device's fragment decoder accepts: give maxFragments/maxFragSize to the spec's
   *  fragmentation.deviceLimits so that the planner warns about an image too large for them. */
  decoderLimits: { maxFragments: number; maxFragSize: number; maxLost: number };
  devices: ProvisionedDevice[];
  seed: number;
  startMs: number;
  /** Scaled time only: simulated seconds per wall second, and the clock workers take in LORAFUOTA_CLOCK. */
  speedup?: number;
  clock?: { startMs: number; speedup: number; wallStartMs: number };
  /** Virtual time only: the Redis prefix whose clock workers with LORAFUOTA_VIRTUAL_TIME=1 follow. */
  virtualTime?: { prefix: string };
}

export interface Simulation {
  provisioning: Provisioning;
  chirpstack: SimChirpStack;
  network: SimNetwork;
  out: IntegrationOut;
  devices: (SimulatedDevice & { readonly state: DeviceSnapshot })[];
  /** Stack of each device: loramac-node, lbm-v1 or lbm-v2. */
  stacks: Map<string, string>;
  /** Present in virtual time. */
  virtualTime?: VirtualTime;
  /** Present in scaled time. */
  scaledClock?: ScaledClock;
  /** Simulated time now. */
  now(): number;
  stop(): Promise<void>;
}

export async function assembleSimulation(o: SimulationOptions): Promise<Simulation> {
  const gatewayIds = Array.from({ length: o.gateways ?? 1 }, (_, i) => (BigInt(`0x${DEFAULT_GATEWAY_ID}`) + BigInt(i)).toString(16).padStart(16, '0'));
  const chirpstack = new SimChirpStack({
    ...(o.apiToken ? { apiToken: o.apiToken } : {}),
    ...(o.chirpstackVersion ? { version: o.chirpstackVersion } : {}),
    ...(o.repeaterCompatible !== undefined ? { repeaterCompatible: o.repeaterCompatible } : {}),
    ...(o.acceptDuplicateMembers ? { acceptDuplicateMembers: true } : {}),
    gateways: gatewayIds.map((gatewayId) => ({ gatewayId, region: 'EU868' as const, gps: o.gatewayGps ?? false, enforceDutyCycle: o.gatewayDutyCycle ?? true })),
  });
  const applicationId = chirpstack.createApplication(o.applicationName ?? 'lorafuota-sim');
  const deviceProfiles = {
    '1.0.3': chirpstack.createDeviceProfile({ name: 'sim-1.0.3', macVersion: '1.0.3', supportsClassB: true, supportsClassC: o.profileClassC ?? false }),
    '1.1.0': chirpstack.createDeviceProfile({ name: 'sim-1.1-class-b-c', macVersion: '1.1.0', supportsClassB: true, supportsClassC: true }),
  };
  const interval = o.uplinkIntervalMs ?? 60_000;
  const specs = makeFleetSpecs({
    count: o.devices,
    seed: o.seed,
    deviceClass: o.deviceClass,
    firmwareVersion: o.firmwareVersion,
    trustedKeys: o.trustedKeys,
    silentFraction: o.silentFraction ?? 0,
    uplinkIntervalMs: interval,
    jitterMs: o.jitterMs ?? Math.round(interval / 12),
    ...(o.mix ? { mix: o.mix } : {}),
    ...(o.lorawan11Fraction !== undefined ? { lorawan11Fraction: o.lorawan11Fraction } : {}),
    ...(o.maxNbFrag !== undefined ? { maxNbFrag: o.maxNbFrag } : {}),
    ...(o.maxFragSize !== undefined ? { maxFragSize: o.maxFragSize } : {}),
    ...(o.maxLost !== undefined ? { maxLost: o.maxLost } : {}),
    ...o.decoderLimits,
  });
  // The join key is not used by the simulation; a fixed function of the DevEUI keeps runs identical.
  const joinKey = (eui: string) => eui.padStart(32, '0');
  const stacks = new Map<string, string>();
  for (const s of specs) {
    const root = Buffer.from(s.rootKey).toString('hex');
    chirpstack.createDevice({
      devEui: s.devEui,
      applicationId,
      deviceProfileId: s.lorawan === '1.1' ? deviceProfiles['1.1.0'] : deviceProfiles['1.0.3'],
      // 1.0.x: the join key lives in nwk_key and the multicast root is the GenAppKey; 1.1: the AppKey is the root.
      keys: s.lorawan === '1.1' ? { nwkKey: joinKey(s.devEui), appKey: root, genAppKey: '' } : { nwkKey: joinKey(s.devEui), appKey: '', genAppKey: root },
      ...(o.classAtJoin ? { classEnabled: o.classAtJoin } : {}),
    });
    stacks.set(s.devEui, s.profile === 'loramac-node' ? 'loramac-node' : `lbm-v${s.versions.ts004}`);
  }
  const host = o.host ?? '127.0.0.1';
  const port = await chirpstack.listen(host, o.port ?? 0);
  const out = new IntegrationOut({ ...(o.mqttUrl ? { mqttUrl: o.mqttUrl } : {}), httpUrls: o.httpUrls ?? [], encoding: o.encoding ?? 'json' });
  try {
    await out.start();
  } catch (err) {
    chirpstack.stop();
    throw err;
  }
  const virtual = 'virtual' in o.time ? o.time.virtual : undefined;
  const speedup = 'speedup' in o.time ? o.time.speedup : undefined;
  const startMs = o.startMs ?? (speedup === undefined ? VIRTUAL_EPOCH_MS : Date.now());
  const clock = speedup === undefined ? new ManualClock(startMs) : new ScaledClock(startMs, speedup);
  const buffer = virtual ? new EmitBuffer() : undefined;
  const radio = new Radio({
    seed: o.seed,
    loss: o.loss,
    model: o.model ?? 'uniform',
    ...(o.burstLength ? { burstLength: o.burstLength } : {}),
    badFraction: o.badFraction ?? 0.1,
    ...(o.badFactor !== undefined ? { badFactor: o.badFactor } : {}),
  });
  const devices = specs.map((s) => createSimDevice(s, o.seed));
  const network = new SimNetwork({
    clock,
    devices,
    chirpstack,
    radio,
    out: buffer ?? out,
    ...(o.classCMarginMs !== undefined ? { classCMarginMs: o.classCMarginMs } : {}),
  });
  let virtualTime: VirtualTime | undefined;
  if (virtual) {
    virtualTime = new VirtualTime({
      network,
      clock: clock as ManualClock,
      buffer: buffer!,
      out,
      redisUrl: virtual.redisUrl,
      prefix: virtual.prefix,
      // Windows of 1/15 uplink interval (5 s at least, 20 s at most): the service learns of an answer within a
      // fraction of the time the device takes to uplink again, and a fleet on long intervals needs fewer windows.
      quantumMs: virtual.quantumMs ?? Math.min(20_000, Math.max(5000, Math.round(interval / 15))),
      ...(virtual.stallMs !== undefined ? { stallMs: virtual.stallMs } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    await virtualTime.start();
  } else if (speedup !== undefined) network.start();
  const scaled = clock instanceof ScaledClock ? clock : undefined;
  const provisioning: Provisioning = {
    grpc: `${host}:${port}`,
    apiToken: chirpstack.apiToken,
    applicationId,
    deviceProfiles,
    chirpstackVersion: chirpstack.version,
    gatewayIds,
    decoderLimits: { maxFragments: specs[0]?.maxNbFrag ?? 512, maxFragSize: specs[0]?.maxFragSize ?? 64, maxLost: specs[0]?.maxLost ?? 256 },
    devices: specs.map((s) => ({ devEui: s.devEui, lorawan: s.lorawan, stack: stacks.get(s.devEui)!, versions: s.versions, silent: !!s.silent })),
    seed: o.seed,
    startMs,
    ...(scaled ? { speedup: scaled.speedup, clock: scaled.toJSON() } : {}),
    ...(virtual ? { virtualTime: { prefix: virtual.prefix } } : {}),
  };
  let stopped = false;
  return {
    provisioning,
    chirpstack,
    network,
    out,
    devices,
    stacks,
    ...(virtualTime ? { virtualTime } : {}),
    ...(scaled ? { scaledClock: scaled } : {}),
    now: () => (virtualTime ? virtualTime.now : network.time),
    async stop() {
      if (stopped) return;
      stopped = true;
      await virtualTime?.stop();
      network.close();
      chirpstack.stop();
      await out.close();
    },
  };
}
