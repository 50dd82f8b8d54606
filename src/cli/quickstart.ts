/**
 * `lorafuota quickstart`: the whole operator path against the simulator in one command. It writes a signing key,
 * a signed image, the simulator's provisioning and a ready campaign spec into a directory, starts `lorafuota sim`,
 * `lorafuota serve` and one `lorafuota worker` as child processes (ChirpStack HTTP integration, so no MQTT broker
 * is needed), and prints the command that submits the campaign. With --submit it also submits, follows the
 * campaign and exits with its status.
 */
import type { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

interface QuickstartFlags {
  dir: string;
  devices: string;
  loss: string;
  imageKib: string;
  redis?: string;
  submit?: boolean;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function int(field: string, v: string, lo: number, hi: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${field}: must be an integer in ${lo}..${hi}, got "${v}"`);
  return n;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Runs a lorafuota command to completion; throws with its stderr when it fails. */
async function run(args: string[]): Promise<void> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`${args.slice(0, 2).join(' ')}: exited ${code}: ${err.trim()}`);
}

/** Starts a long-running lorafuota command and resolves with its first stdout line (its start-up JSON). */
async function start(name: string, args: string[], env: NodeJS.ProcessEnv, children: ChildProcess[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const lines = createInterface({ input: child.stdout! });
  return new Promise((res, rej) => {
    child.once('exit', (code) => rej(new Error(`${name}: exited ${code} before starting: ${err.trim().split('\n').slice(-3).join(' | ')}`)));
    lines.once('line', (line) => {
      try {
        res(JSON.parse(line) as Record<string, unknown>);
      } catch {
        rej(new Error(`${name}: unexpected start-up line ${JSON.stringify(line)}`));
      }
    });
  });
}

/** Starts a process that prints nothing on stdout; resolves once it has run for `settleMs` without exiting. */
async function startQuiet(name: string, args: string[], env: NodeJS.ProcessEnv, children: ChildProcess[], settleMs = 1500): Promise<void> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(res, settleMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`${name}: exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.reverse().map(
      (c) =>
        new Promise<void>((res) => {
          if (c.exitCode !== null || c.signalCode !== null) return res();
          const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => (clearTimeout(kill), res()));
          c.kill('SIGTERM');
        }),
    ),
  );
}

interface SimDevice { devEui: string; lorawan: '1.0' | '1.1'; versions: { ts004: number }; silent: boolean }

export async function quickstart(o: QuickstartFlags): Promise<number> {
  const dir = resolve(o.dir);
  const devices = int('--devices', o.devices, 1, 1000);
  const imageBytes = int('--image-kib', o.imageKib, 1, 30) * 1024;
  await mkdir(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  if (!existsSync(f('release.key'))) await run(['image', 'keygen', '--out', f('release')]);
  await writeFile(f('app.bin'), randomBytes(imageBytes));
  await run(['image', 'sign', f('app.bin'), '--key', f('release.key'), '--version', '1.1.0', '--device-class', 'sim-sensor', '-o', f('app.img')]);

  const children: ChildProcess[] = [];
  const stop = () => stopAll(children);
  try {
    const integrationPort = await freePort();
    // Virtual time: the simulator and the worker share a clock in Redis under this prefix, so the result does not
    // depend on how busy the machine is.
    const prefix = `qs-${randomBytes(4).toString('hex')}`;
    const redisEnv = o.redis ? { REDIS_URL: o.redis } : {};
    const sim = (await start('sim', [
      'sim', '--devices', String(devices), '--loss', o.loss, '--bad', '0', '--grpc', '127.0.0.1:0', '--virtual-time', '--prefix', prefix,
      '--http-integration', `http://127.0.0.1:${integrationPort}`, '--pubkey', f('release.pub'),
    ], redisEnv, children)) as {
      grpc: string;
      apiToken: string;
      applicationId: string;
      clock: unknown;
      devices: SimDevice[];
      decoderLimits?: { maxFragments: number; maxFragSize: number };
    };
    await writeFile(f('sim.json'), JSON.stringify(sim, null, 2) + '\n');

    // The simulated devices take at most 512 fragments of 64 bytes (sim.json's decoderLimits): 48-byte fragments fit
    // a 20 KiB image, and the planner warns at submission if an image needs more.
    const limits = sim.decoderLimits ?? { maxFragments: 512, maxFragSize: 64 };
    const fleet = sim.devices.filter((d) => d.versions.ts004 === 1 && !d.silent);
    const spec = {
      name: 'quick start',
      applicationId: sim.applicationId,
      imageBase64: '',
      publicKeys: [],
      deviceClass: 'sim-sensor',
      devices: fleet.map((d) => ({ devEui: d.devEui, lorawan: d.lorawan })),
      multicast: { classCMarginMs: 5000 },
      fragmentation: { fragSize: 48, ts004Version: 1, deviceLimits: { maxFragments: limits.maxFragments, maxFragSize: limits.maxFragSize } },
    };
    await writeFile(f('spec.json'), JSON.stringify(spec, null, 2) + '\n');

    const apiToken = randomBytes(12).toString('hex');
    const api = await start('serve', ['serve', '--listen', '127.0.0.1:0', '--http-port', '0', '--prefix', prefix], { ...redisEnv, LORAFUOTA_API_TOKEN: apiToken }, children);
    // Only ever for a simulation: the worker follows the simulator's virtual time.
    await startQuiet('worker', ['worker', '--virtual-time', '--prefix', prefix, '--chirpstack', sim.grpc, '--http-port', String(integrationPort)], {
      ...redisEnv,
      CHIRPSTACK_API_TOKEN: sim.apiToken,
      LOG_LEVEL: 'warn',
    }, children);

    const submitArgs = ['campaign', 'submit', f('spec.json'), '--image', f('app.img'), '--pubkey', f('release.pub'), '--api', String(api.listening), '--watch'];
    // Inside the checkout `npx lorafuota` always works; elsewhere the bin must be on the PATH (npm link / install -g).
    const inCheckout = existsSync(join(process.cwd(), 'package.json')) && /"name":\s*"lorafuota"/.test(readFileSync(join(process.cwd(), 'package.json'), 'utf8'));
    const next = `LORAFUOTA_API_TOKEN=${apiToken} ${inCheckout ? 'npx lorafuota' : 'lorafuota'} ${submitArgs.join(' ')}`;
    process.stdout.write(
      JSON.stringify({ dir, api: api.listening, console: `http://${String(api.http)}/`, apiToken, prefix, devices: fleet.length, sim: f('sim.json'), spec: f('spec.json') }) + '\n',
    );
    if (o.submit) {
      const watch = spawn(process.execPath, [MAIN, ...submitArgs], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, LORAFUOTA_API_TOKEN: apiToken } });
      return await new Promise<number>((r) => watch.once('exit', (code) => r(code ?? 1)));
    }
    process.stderr.write(`simulator, API and worker running (Ctrl-C stops them). Next, in another shell:\n\n  ${next}\n\n`);
    await new Promise<void>((r) => {
      process.once('SIGINT', r);
      process.once('SIGTERM', r);
    });
    return 0;
  } finally {
    await stop();
  }
}

export function register(program: Command): void {
  program
    .command('quickstart')
    .description('start the simulator, the API and a worker with a signed image and a ready campaign spec; prints the command to submit it')
    .option('--dir <dir>', 'where the key, image, sim.json and spec.json are written', '.quickstart')
    .option('--devices <n>', 'simulated fleet size (TS004 v1 devices go into the spec)', '20')
    .option('--loss <p>', 'downlink loss probability of every device, 0..1', '0.05')
    .option('--image-kib <k>', 'firmware size in KiB, 1..30 (sent in 48-byte fragments; the simulated devices take at most 512)', '20')
    .option('--redis <url>', 'Redis URL (env REDIS_URL, default redis://127.0.0.1:6379)')
    .option('--submit', 'also submit the campaign, follow it and exit with its status (0 = every device updated)')
    .action(async (o: QuickstartFlags) => {
      process.exitCode = await quickstart(o);
    });
}
