/**
 * What every command's help shows beyond its options: examples, required options marked, and commander's own
 * errors in the `lorafuota: <what>: <why>` form used by every other error.
 */
import type { Command } from 'commander';

/** Examples per command path ("campaign submit"), shown after the options. */
export const EXAMPLES: Record<string, string[]> = {
  '': ['lorafuota image keygen --out release', 'lorafuota sim --grpc 127.0.0.1:0 --devices 20 > sim.json', 'lorafuota <command> --help'],
  fec: ['lorafuota fec encode app.bin --frag-size 48 --redundancy 25%'],
  'fec encode': [
    'lorafuota fec encode app.bin --frag-size 48 --redundancy 25%',
    'lorafuota fec encode app.bin --frag-size 239 --redundancy 40 --ts004 2 > fragments.hex',
  ],
  'fec decode': ['lorafuota fec decode --nb-frag 417 --frag-size 48 --padding 16 -o out.bin < fragments.hex'],
  'fec vectors': ['lorafuota fec vectors --out vectors/'],
  keys: ['lorafuota keys multicast --lorawan 1.0 --root-key 000102030405060708090a0b0c0d0e0f --mc-key 0102030405060708090a0b0c0d0e0f10 --mc-addr 01ab23cd'],
  'keys multicast': [
    'lorafuota keys multicast --lorawan 1.0 --root-key 000102030405060708090a0b0c0d0e0f --mc-key 0102030405060708090a0b0c0d0e0f10 --mc-addr 01ab23cd',
  ],
  'keys mic': [
    'lorafuota keys mic --root-key 000102030405060708090a0b0c0d0e0f --session-cnt 0 --frag-index 0 --descriptor 00000000 --data 0102030405060708090a0b0c0d0e0f1011121314',
  ],
  uplink: ['lorafuota uplink decode 01022c4100 --port 201'],
  'uplink decode': ['lorafuota uplink decode 01022c4100 --port 201', 'lorafuota uplink decode AQIsQQA= --port 201'],
  image: ['lorafuota image keygen --out release', 'lorafuota image sign app.bin --key release.key --version 1.2.3 --device-class soil-sensor-v2 -o app.img'],
  'image keygen': ['lorafuota image keygen --out release            # writes release.key (keep secret) and release.pub'],
  'image apply': ['lorafuota image apply app.img --pubkey release.pub --base running.bin -o firmware.bin'],
  'image sign': ['lorafuota image sign app.bin --key release.key --version 1.2.3 --device-class soil-sensor-v2 -o app.img'],
  'image verify': ['lorafuota image verify app.img --pubkey release.pub --device-class soil-sensor-v2'],
  'image inspect': ['lorafuota image inspect app.img'],
  sim: [
    'lorafuota sim --grpc 127.0.0.1:0 --devices 20 --mqtt mqtt://127.0.0.1:1883 --pubkey release.pub > sim.json',
    'lorafuota sim --devices 100 --loss 0.2 --model gilbert-elliott --burst 4 --uplink-interval 30',
    'lorafuota sim --max-fragments 1024 --max-frag-size 239      # devices that take 239-byte fragments',
  ],
  quickstart: [
    'lorafuota quickstart                      # then paste the command it prints, in another shell',
    'lorafuota quickstart --devices 50 --loss 0.2 --submit',
  ],
  campaign: ['lorafuota campaign submit examples/class-c-eu868.json --image app.img --pubkey release.pub --watch', 'lorafuota campaign list'],
  'campaign submit': [
    'LORAFUOTA_API_TOKEN=secret lorafuota campaign submit examples/class-c-eu868.json --image app.img --pubkey release.pub --watch',
    'lorafuota campaign submit spec.json --image app.img --pubkey release.pub --client-token soil-eu-1.2.3 --api fuota:50051 --token secret',
  ],
  'campaign status': ['lorafuota campaign status 9b0c1d2e-0000-4000-8000-000000000000 --devices'],
  'campaign watch': ['lorafuota campaign watch 9b0c1d2e-0000-4000-8000-000000000000'],
  'campaign cancel': ['lorafuota campaign cancel 9b0c1d2e-0000-4000-8000-000000000000'],
  'campaign list': ['lorafuota campaign list --json'],
  serve: ['LORAFUOTA_API_TOKEN=$(openssl rand -hex 16) lorafuota serve --listen 127.0.0.1:50051 --prefix lf'],
  worker: [
    'CHIRPSTACK_API_TOKEN=... lorafuota worker --chirpstack chirpstack:8080 --mqtt mqtt://mosquitto:1883',
    'CHIRPSTACK_API_TOKEN=... lorafuota worker --chirpstack chirpstack:8080 --http-port 8091 --metrics-port 9464',
  ],
};

/** Options that are required but checked at run time (they can come from the environment). */
const REQUIRED_OR_ENV: Record<string, Record<string, string>> = {
  serve: { '--token': 'LORAFUOTA_API_TOKEN' },
  worker: { '--chirpstack-token': 'CHIRPSTACK_API_TOKEN' },
  'campaign submit': { '--token': 'LORAFUOTA_API_TOKEN' },
  'campaign status': { '--token': 'LORAFUOTA_API_TOKEN' },
  'campaign watch': { '--token': 'LORAFUOTA_API_TOKEN' },
  'campaign cancel': { '--token': 'LORAFUOTA_API_TOKEN' },
  'campaign list': { '--token': 'LORAFUOTA_API_TOKEN' },
};

/** Every command under `root` with its path ("" for the root), depth first, in registration order. */
export function walk(root: Command, path = ''): { path: string; cmd: Command }[] {
  return [{ path, cmd: root }, ...root.commands.flatMap((c) => walk(c, path ? `${path} ${c.name()}` : c.name()))];
}

/**
 * Commander's messages ("error: unknown option '--x'") rewritten as `lorafuota: --x: unknown option`, so that
 * every error the CLI prints starts the same way and names the field first.
 */
export function formatCommanderError(message: string): string {
  const m = message.replace(/^error: /, '').trimEnd();
  const rules: [RegExp, (r: RegExpExecArray) => string][] = [
    [/^unknown option '([^']+)'(.*)$/s, (r) => `${r[1]}: unknown option${r[2]}`],
    [/^required option '(\S+)[^']*' not specified$/, (r) => `${r[1]}: required option not specified`],
    [/^option '(\S+)[^']*' argument missing$/, (r) => `${r[1]}: argument missing`],
    [/^missing required argument '([^']+)'$/, (r) => `${r[1]}: missing required argument`],
    [/^unknown command '([^']+)'(.*)$/s, (r) => `${r[1]}: unknown command${r[2]}`],
    [/^too many arguments(?: for '([^']+)')?\. (.*)$/s, (r) => `${r[1] ?? 'arguments'}: too many arguments (${r[2]})`],
    [/^option '(\S+)[^']*' argument '([^']*)' is invalid\.(.*)$/s, (r) => `${r[1]}: "${r[2]}" is invalid.${r[3]}`],
  ];
  for (const [re, f] of rules) {
    const r = re.exec(m);
    if (r) return `lorafuota: ${f(r)}\n`;
  }
  return `lorafuota: ${m}\n`;
}

/** Marks required options, appends examples and routes commander's errors through `formatCommanderError`. */
export function finishHelp(program: Command): void {
  for (const { path, cmd } of walk(program)) {
    cmd.configureHelp({ helpWidth: 110, sortSubcommands: false });
    cmd.configureOutput({ outputError: (str, write) => write(formatCommanderError(str)) });
    for (const opt of cmd.options) {
      if (opt.mandatory && !opt.description.startsWith('(required)')) opt.description = `(required) ${opt.description}`;
      const env = REQUIRED_OR_ENV[path]?.[opt.long ?? ''];
      if (env && !opt.description.startsWith('(required')) {
        opt.description = opt.description.includes(`env ${env}`) ? `(required) ${opt.description}` : `(required, or env ${env}) ${opt.description}`;
      }
    }
    const examples = EXAMPLES[path];
    if (examples?.length) cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  }
}
