/**
 * Wires a whole simulated network: the simulated ChirpStack gRPC server provisioned with a fleet
 * (src/sim/fleet.ts), the radio, the network driven by a scaled clock, and the integration output.
 */
import { ScaledClock } from '../codec/clock.js';
import type { TrustedKey } from '../device/image-check.js';
import { DEFAULT_GATEWAY_ID, SimChirpStack } from './chirpstack-server.js';
import type { ChirpStackVersion } from './multicast-scheduler.js';
import { createSimDevice, makeFleetSpecs } from './fleet.js';
import { IntegrationOut } from './integration-out.js';
import { SimNetwork } from './network.js';
import { Radio, type LossModelName } from './radio.js';

export interface SimulationOptions {
  devices: number;
  seed: number;
  loss: number;
  model?: LossModelName;
  burstLength?: number;
  badFraction?: number;
  /** Share of fleet devices that never transmit. */
  silentFraction?: number;
  host: string;
  port: number;
  apiToken?: string;
  mqttUrl?: string;
  httpUrls?: string[];
  encoding?: 'json' | 'protobuf';
  speedup: number;
  classCMarginMs?: number;
  /** ChirpStack version modelled (default 4.19; 4.12 reads MulticastGroup field 14 as nb_k). */
  chirpstackVersion?: ChirpStackVersion;
  /** Number of gateways of the tenant (default 1), IDs from 0016c001f153a14c up, all reaching every device. */
  gateways?: number;
  /** Gateways have GPS: uplinks carry rxInfo.timeSinceGpsEpoch (default false, as ChirpStack without GNSS). */
  gatewayGps?: boolean;
  /** The region config's repeater_compatible (default false). */
  repeaterCompatible?: boolean;
  uplinkIntervalMs?: number;
  /** Fragment-decoder limits of every simulated device (default 512 fragments of at most 64 B, 256 lost). */
  decoderLimits?: { maxNbFrag?: number; maxFragSize?: number; maxLost?: number };
  deviceClass: string;
  firmwareVersion: number;
  trustedKeys: TrustedKey[];
  /** Simulated start time (default now). */
  startMs?: number;
}

export interface Provisioning {
  grpc: string;
  apiToken: string;
  applicationId: string;
  deviceProfiles: Record<'1.0.3' | '1.1.0', string>;
  chirpstackVersion: ChirpStackVersion;
  gatewayIds: string[];
  devices: { devEui: string; lorawan: '1.0' | '1.1'; stack: string; versions: { ts003: number; ts004: number; ts005: number }; silent: boolean }[];
  speedup: number;
  seed: number;
  startMs: number;
  /** The scaled clock, as workers take it in LORAFUOTA_CLOCK to run on the simulation's time. */
  clock: { startMs: number; speedup: number; wallStartMs: number };
  /** What every simulated device's fragment decoder accepts: put maxFragments/maxFragSize in the spec's fragmentation.deviceLimits. */
  decoderLimits: { maxFragments: number; maxFragSize: number; maxLost: number };
}

export interface Simulation {
  provisioning: Provisioning;
  chirpstack: SimChirpStack;
  network: SimNetwork;
  out: IntegrationOut;
  stop(): Promise<void>;
}

export async function startSimulation(o: SimulationOptions): Promise<Simulation> {
  const gatewayIds = Array.from({ length: o.gateways ?? 1 }, (_, i) => (BigInt(`0x${DEFAULT_GATEWAY_ID}`) + BigInt(i)).toString(16).padStart(16, '0'));
  const chirpstack = new SimChirpStack({
    ...(o.apiToken ? { apiToken: o.apiToken } : {}),
    ...(o.chirpstackVersion ? { version: o.chirpstackVersion } : {}),
    ...(o.repeaterCompatible !== undefined ? { repeaterCompatible: o.repeaterCompatible } : {}),
    gateways: gatewayIds.map((gatewayId) => ({ gatewayId, region: 'EU868' as const, gps: o.gatewayGps ?? false })),
  });
  const applicationId = chirpstack.createApplication('lorafuota-sim');
  const deviceProfiles = {
    '1.0.3': chirpstack.createDeviceProfile({ name: 'sim-1.0.3-class-c', macVersion: '1.0.3', supportsClassB: true, supportsClassC: true }),
    '1.1.0': chirpstack.createDeviceProfile({ name: 'sim-1.1-class-c', macVersion: '1.1.0', supportsClassB: true, supportsClassC: true }),
  };
  const specs = makeFleetSpecs({
    count: o.devices,
    seed: o.seed,
    deviceClass: o.deviceClass,
    firmwareVersion: o.firmwareVersion,
    trustedKeys: o.trustedKeys,
    silentFraction: o.silentFraction ?? 0,
    ...(o.uplinkIntervalMs !== undefined ? { uplinkIntervalMs: o.uplinkIntervalMs } : {}),
    ...o.decoderLimits,
  });
  const joinKey = (eui: string) => eui.padStart(32, '0');
  for (const s of specs) {
    const root = Buffer.from(s.rootKey).toString('hex');
    chirpstack.createDevice({
      devEui: s.devEui,
      applicationId,
      deviceProfileId: s.lorawan === '1.1' ? deviceProfiles['1.1.0'] : deviceProfiles['1.0.3'],
      // 1.0.x: join key in nwk_key, GenAppKey separately (docs/protocol.md §6); 1.1: AppKey is the root.
      keys: s.lorawan === '1.1' ? { nwkKey: joinKey(s.devEui), appKey: root, genAppKey: '' } : { nwkKey: joinKey(s.devEui), appKey: '', genAppKey: root },
      classEnabled: 'CLASS_C',
    });
  }
  const port = await chirpstack.listen(o.host, o.port);
  const out = new IntegrationOut({ ...(o.mqttUrl ? { mqttUrl: o.mqttUrl } : {}), httpUrls: o.httpUrls ?? [], encoding: o.encoding ?? 'json' });
  try {
    await out.start();
  } catch (err) {
    chirpstack.stop();
    throw err;
  }
  const startMs = o.startMs ?? Date.now();
  const clock = new ScaledClock(startMs, o.speedup);
  const radio = new Radio({ seed: o.seed, loss: o.loss, model: o.model ?? 'uniform', ...(o.burstLength ? { burstLength: o.burstLength } : {}), badFraction: o.badFraction ?? 0.1 });
  const network = new SimNetwork({
    clock,
    devices: specs.map((s) => createSimDevice(s, o.seed)),
    chirpstack,
    radio,
    out,
    ...(o.classCMarginMs !== undefined ? { classCMarginMs: o.classCMarginMs } : {}),
  });
  network.start();
  const provisioning: Provisioning = {
    grpc: `${o.host}:${port}`,
    apiToken: chirpstack.apiToken,
    applicationId,
    deviceProfiles,
    chirpstackVersion: chirpstack.version,
    gatewayIds,
    devices: specs.map((s) => ({ devEui: s.devEui, lorawan: s.lorawan, stack: s.profile, versions: s.versions, silent: !!s.silent })),
    speedup: o.speedup,
    seed: o.seed,
    startMs,
    clock: clock.toJSON(),
    decoderLimits: { maxFragments: specs[0]?.maxNbFrag ?? 512, maxFragSize: specs[0]?.maxFragSize ?? 64, maxLost: specs[0]?.maxLost ?? 256 },
  };
  return {
    provisioning,
    chirpstack,
    network,
    out,
    stop: async () => {
      network.close();
      chirpstack.stop();
      await out.close();
    },
  };
}
