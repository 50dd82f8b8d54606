import type { Command } from 'commander';

function fail(field: string, reason: string): never {
  throw new Error(`${field}: ${reason}`);
}

function num(field: string, v: string, lo: number, hi: number, integer = false): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < lo || n > hi || (integer && !Number.isInteger(n))) {
    fail(field, `must be ${integer ? 'an integer' : 'a number'} in ${lo}..${hi}, got "${v}"`);
  }
  return n;
}

function hostPort(v: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m) fail('--grpc', `expected HOST:PORT, got "${v}"`);
  return { host: m[1]!, port: num('--grpc', m[2]!, 0, 65535, true) };
}

interface SimCliOptions {
  devices: string;
  loss: string;
  seed: string;
  grpc: string;
  mqtt?: string;
  httpIntegration?: string[];
  speedup?: string;
  virtualTime?: boolean;
  redis?: string;
  prefix: string;
  quantum?: string;
  model: string;
  burst?: string;
  bad: string;
  silent: string;
  protobuf?: boolean;
  classCMargin?: string;
  chirpstackVersion: string;
  gateways: string;
  gatewayGps?: boolean;
  repeaterCompatible?: boolean;
  uplinkInterval?: string;
  apiToken?: string;
  deviceClass: string;
  firmwareVersion: string;
  pubkey?: string[];
  maxFragSize?: string;
  maxFragments?: string;
  maxLost?: string;
}

async function runSim(o: SimCliOptions): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const { versionToU32 } = await import('../codec/image-header.js');
  const { parsePublicKeyFile } = await import('../image/keys.js');
  const { startSimulation } = await import('../sim/runner.js');
  const model = o.model;
  if (model !== 'uniform' && model !== 'gilbert-elliott') fail('--model', `must be uniform or gilbert-elliott, got "${model}"`);
  const { host, port } = hostPort(o.grpc);
  const chirpstackVersion = o.chirpstackVersion;
  if (chirpstackVersion !== '4.12' && chirpstackVersion !== '4.19') fail('--chirpstack-version', `must be 4.12 or 4.19, got "${chirpstackVersion}"`);
  if (o.virtualTime && o.speedup !== undefined) fail('--speedup', 'cannot be combined with --virtual-time');
  if (!o.virtualTime && (o.quantum !== undefined)) fail('--quantum', 'needs --virtual-time');
  const time = o.virtualTime
    ? {
        virtual: {
          redisUrl: o.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
          prefix: o.prefix,
          ...(o.quantum !== undefined ? { quantumMs: num('--quantum', o.quantum, 1, 3_600_000) } : {}),
        },
      }
    : { speedup: num('--speedup', o.speedup ?? '400', 1e-3, 1e6) };
  let firmwareVersion: number;
  try {
    firmwareVersion = versionToU32(o.firmwareVersion);
  } catch {
    fail('--firmware-version', `expected X.Y.Z, got "${o.firmwareVersion}"`);
  }
  const trustedKeys = await Promise.all(
    (o.pubkey ?? []).map(async (p) => {
      const text = await readFile(p, 'utf8').catch(() => fail('--pubkey', `cannot read ${p}`));
      return parsePublicKeyFile(text, '--pubkey');
    }),
  );
  const sim = await startSimulation({
    devices: num('--devices', o.devices, 0, 100_000, true),
    seed: num('--seed', o.seed, -(2 ** 31), 2 ** 31 - 1, true),
    loss: num('--loss', o.loss, 0, 1),
    model,
    ...(o.burst !== undefined ? { burstLength: num('--burst', o.burst, 1, 1e6) } : {}),
    badFraction: num('--bad', o.bad, 0, 1),
    silentFraction: num('--silent', o.silent, 0, 1),
    host,
    port,
    applicationName: 'lorafuota-sim',
    ...(o.apiToken ? { apiToken: o.apiToken } : {}),
    ...(o.mqtt ? { mqttUrl: o.mqtt } : {}),
    httpUrls: (o.httpIntegration ?? []).flatMap((u) => u.split(',')).filter(Boolean),
    encoding: o.protobuf ? 'protobuf' : 'json',
    time,
    log: (msg: string) => process.stderr.write(`lorafuota sim: ${msg}\n`),
    ...(o.classCMargin !== undefined ? { classCMarginMs: num('--class-c-margin', o.classCMargin, 0, 3_600_000) } : {}),
    chirpstackVersion,
    gateways: num('--gateways', o.gateways, 1, 64, true),
    gatewayGps: !!o.gatewayGps,
    repeaterCompatible: !!o.repeaterCompatible,
    ...(o.uplinkInterval !== undefined ? { uplinkIntervalMs: num('--uplink-interval', o.uplinkInterval, 1, 86_400) * 1000 } : {}),
    decoderLimits: {
      ...(o.maxFragments !== undefined ? { maxNbFrag: num('--max-fragments', o.maxFragments, 1, 16_383, true) } : {}),
      ...(o.maxFragSize !== undefined ? { maxFragSize: num('--max-frag-size', o.maxFragSize, 1, 250, true) } : {}),
      ...(o.maxLost !== undefined ? { maxLost: num('--max-lost', o.maxLost, 1, 16_383, true) } : {}),
    },
    deviceClass: o.deviceClass,
    firmwareVersion,
    trustedKeys,
  });
  // The signal handlers go in before the provisioning line: whoever reads that line may stop us at once.
  const stopped = new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  process.stdout.write(JSON.stringify(sim.provisioning) + '\n');
  await stopped;
  await sim.stop();
  process.stderr.write(
    JSON.stringify({ simTimeMs: sim.now(), ...(sim.virtualTime ? { virtualTime: sim.virtualTime.stats } : {}), uplinks: sim.network.uplinkStats, airtime: sim.network.airtime(), integration: sim.out.stats }) + '\n',
  );
}

/** `lorafuota sim`: runs the simulated ChirpStack + LoRaWAN network + fleet alone until interrupted. */
export function register(program: Command): void {
  program
    .command('sim')
    .description('run a simulated ChirpStack v4 (gRPC) with a simulated LoRaWAN network and fleet; prints the provisioning as JSON')
    .option('--devices <n>', 'fleet size', '100')
    .option('--loss <p>', 'downlink loss probability of a typical device, 0..1', '0.1')
    .option('--seed <s>', 'seed that makes the run repeatable', '1')
    .option('--grpc <host:port>', 'where the ChirpStack gRPC API listens (port 0 = any free port)', '127.0.0.1:8080')
    .option('--mqtt <url>', 'publish uplink events to this MQTT broker (ChirpStack MQTT integration)')
    .option('--http-integration <url...>', 'POST uplink events to these URLs with ?event=up (ChirpStack HTTP integration)')
    .option('--protobuf', 'encode integration events as protobuf instead of JSON')
    .option('--speedup <x>', 'run on wall time: simulated seconds per wall second (default 400)')
    .option('--virtual-time', 'run on virtual time shared through Redis with workers started with --virtual-time')
    .option('--redis <url>', 'Redis of the deployment, for --virtual-time (env REDIS_URL, default redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'key prefix of the deployment, for --virtual-time (env LORAFUOTA_PREFIX)', process.env.LORAFUOTA_PREFIX ?? 'lf')
    .option('--quantum <ms>', 'virtual time: network events run in windows of this many ms (default: 1/15 of the uplink interval, within 5000..20000)')
    .option('--model <name>', 'loss model: uniform or gilbert-elliott', 'uniform')
    .option('--burst <frames>', 'mean loss-burst length for gilbert-elliott')
    .option('--bad <fraction>', 'share of devices with a 4x worse link', '0.1')
    .option('--silent <fraction>', 'share of devices that never transmit', '0')
    .option('--class-c-margin <ms>', "ChirpStack's multicast_class_c_margin: gap between class C multicast rows (default 5000)")
    .option('--chirpstack-version <v>', 'ChirpStack version modelled: 4.19, or 4.12 (MulticastGroup field 14 is class_b_ping_slot_nb_k)', '4.19')
    .option('--gateways <n>', 'gateways of the tenant, each reaching every device with its own duty-cycle budget', '1')
    .option('--gateway-gps', 'gateways have GPS: uplinks carry rxInfo.timeSinceGpsEpoch')
    .option('--repeater-compatible', "region config repeater_compatible = true (max payload 222 at the fast data rates)")
    .option('--uplink-interval <s>', 'seconds between a device\'s periodic uplinks, 1..86400 (default 60)')
    .option('--max-fragments <n>', 'largest block the simulated devices accept, in fragments (default 512); more is answered NotEnoughMemory')
    .option('--max-frag-size <bytes>', 'largest fragment the simulated devices accept (default 64); put the same in the spec\'s fragmentation.deviceLimits')
    .option('--max-lost <n>', 'most lost uncoded fragments the simulated devices can recover (default 256)')
    .option('--api-token <token>', 'API token the gRPC server accepts (default: random, printed)')
    .option('--device-class <name>', 'device class the simulated firmware reports', 'sim-sensor')
    .option('--firmware-version <X.Y.Z>', 'firmware version the devices run', '1.0.0')
    .option('--pubkey <file...>', 'public key files the devices trust for images')
    .action((opts: SimCliOptions) => runSim(opts));
}
