// `npm run gen`: writes the generated reference files from the code they describe:
//   schema/campaign.schema.json  JSON Schema of the campaign spec (zod's z.toJSONSchema over src/campaign/schema.ts)
//   docs/campaign-spec.md        a table of every spec field, from that JSON Schema
//   docs/cli.md                  the --help of every `lorafuota` command
// test/docs-generated.test.ts regenerates them in memory and fails when a committed copy is stale.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CampaignSpecSchema } from '../src/campaign/schema.js';
import { buildProgram } from '../src/cli/program.js';
import { walk } from '../src/cli/help.js';

type Json = { [k: string]: unknown };

export function campaignJsonSchema(): Json {
  const s = z.toJSONSchema(CampaignSpecSchema, { io: 'input' }) as Json;
  return {
    $schema: s.$schema,
    $id: 'https://github.com/lorafuota/lorafuota/schema/campaign.schema.json',
    title: 'lorafuota campaign spec',
    description: 'What `lorafuota campaign submit`, the gRPC API (spec_json) and a BullMQ `submit` job take. Generated from src/campaign/schema.ts by `npm run gen`.',
    ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema')),
  };
}

export const campaignJsonSchemaText = (): string => JSON.stringify(campaignJsonSchema(), null, 2) + '\n';

/** What each field means. A field of the schema missing here fails test/docs-generated.test.ts. */
export const FIELD_DOCS: Record<string, string> = {
  clientToken: 'idempotency: a second submission with the same token returns the first campaign',
  name: 'shown in `campaign list`, the console and the logs',
  applicationId: 'ChirpStack application of the devices and of the multicast group',
  imageBase64: 'the signed image (`lorafuota image sign`); `campaign submit --image` fills it',
  publicKeys: 'trusted signing keys as written by `lorafuota image keygen` (`BASE.pub` contents); `--pubkey` fills it',
  deviceClass: "must match the image's device class",
  devices: 'the fleet; no DevEUI twice, and none already in an active campaign',
  'devices[].devEui': 'stored lower-case',
  'devices[].lorawan': 'LoRaWAN version: `1.0` takes GenAppKey as the multicast root key, `1.1` AppKey',
  multicast: 'the multicast group and session',
  'multicast.groupType': 'Class C or Class B session',
  'multicast.region': 'RP002-1.0.4 region; `dr` and `frequencyHz` default to EU868 values, so set both for another region',
  'multicast.dwellTime': "the network's 400 ms dwell-time limit (AS923, AU915; ChirpStack `dwell_time_400ms`)",
  'multicast.repeaterCompatible': 'repeater-compatible payload sizes (ChirpStack `repeater_compatible`)',
  'multicast.dr': 'data rate of the session (must exist in the region)',
  'multicast.frequencyHz': 'session frequency (must fall in a sub-band of the region)',
  'multicast.mcGroupId': 'McGroupID used on the devices',
  'multicast.mcAddr': 'McAddr as ChirpStack shows it (big-endian hex); random non-zero when absent',
  'multicast.classBPeriodicity': 'Class B ping-slot periodicity: one slot every 2^p s',
  'multicast.gatewayIds': 'gateways added to the ChirpStack multicast group (16 hex digits each)',
  'multicast.byRegion': "multicast parameters (dr, frequencyHz, dwellTime, repeaterCompatible, classBPeriodicity, gatewayIds, gatewayCount) of the groups of devices whose profile is in another region than multicast.region; an unlisted region uses its Class C default channel and DR",
  deltas: 'signed delta images of the same firmware, one per base version (up to 8): devices reporting that version get its delta, the others imageBase64 (docs/delta.md)',
  'deltas[].imageBase64': 'a signed delta image, base64',
  currentVersion: 'version the fleet runs now (X.Y.Z), when known: an older image is refused at submission unless allowDowngrade',
  allowDowngrade: 'send an image older than currentVersion, or than the version a device reports (otherwise the device ends DowngradeRefused)',
  'multicast.gatewayCount': 'gateways that carry the broadcast, for pacing when `gatewayIds` is empty (pacing uses the larger)',
  'multicast.classCMarginMs': "ChirpStack's `multicast_class_c_margin`: least spacing between two multicast frames, ms",
  fragmentation: 'TS004 fragmentation session',
  'fragmentation.fragSize': 'bytes per fragment; the largest the DR (and `deviceLimits.maxFragSize`) allows when absent',
  'fragmentation.fragIndex': 'TS004 FragIndex',
  'fragmentation.ts004Version': 'parity rule of the broadcast; devices reporting the other TS004 version are refused',
  'fragmentation.initialRedundancyPercent': 'coded fragments in the first broadcast, % of M (rounded up)',
  'fragmentation.maxRedundancyPercent': 'cap on all coded fragments (initial + repair), % of M; M + coded <= 16383',
  'fragmentation.blockAckDelay': 'devices answer a status request within 2^(BlockAckDelay+4) s',
  'fragmentation.descriptor': 'FragSessionSetupReq Descriptor, 4 bytes in wire order',
  'fragmentation.maxRepairRounds': 'repair rounds after the first broadcast',
  'fragmentation.deviceLimits': "the devices' fragment-decoder limits, when known: the planner keeps within them and warns",
  'fragmentation.deviceLimits.maxFragments': 'largest M the devices accept; a bigger image is answered NotEnoughMemory',
  'fragmentation.deviceLimits.maxFragSize': 'largest fragment the devices accept',
  ports: 'FPorts of the packages',
  'ports.ts003': 'TS003 clock synchronisation',
  'ports.ts004': 'TS004 fragmentation',
  'ports.ts005': 'TS005 multicast set-up',
  'ports.ts006': 'TS006 firmware management',
  timing: 'device timing',
  'timing.uplinkIntervalS': 'how often devices uplink, s (Class A: one downlink per uplink); sets answer time-outs and pacing',
  'timing.unicastRetries': 're-sends of an unanswered unicast request before the device ends Timeout',
  'timing.rebootDelayS': 'DevRebootCountdownReq countdown, s',
};

interface Row { path: string; type: string; def: string; required: boolean }

function typeOf(s: Json): string {
  const range = (lo: unknown, hi: unknown) => (lo !== undefined || hi !== undefined ? ` ${lo ?? ''}..${hi ?? ''}` : '');
  if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (Array.isArray(s.anyOf)) return (s.anyOf as Json[]).map((a) => (a.const !== undefined ? `\`${JSON.stringify(a.const)}\`` : typeOf(a))).join(' \\| ');
  switch (s.type) {
    case 'string':
      return s.pattern ? `hex string \`${String(s.pattern)}\`` : `string${range(s.minLength, s.maxLength)}`;
    case 'integer':
    case 'number':
      return `${String(s.type)}${range(s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${String(s.exclusiveMinimum)}` : undefined), s.maximum)}`;
    case 'array':
      return `array of ${typeOf(s.items as Json)}${s.minItems !== undefined ? `, at least ${String(s.minItems)}` : ''}`;
    default:
      return String(s.type ?? '');
  }
}

/** Defaults zod fills in that the input-side JSON Schema cannot show (defaults behind a transform). */
function parsedDefault(path: string): unknown {
  const minimal = { name: 'x', applicationId: 'x', imageBase64: 'x', publicKeys: ['x'], deviceClass: 'x', devices: [{ devEui: '0'.repeat(16) }] };
  if (path.split('.')[0]! in minimal) return undefined;
  let v: unknown = CampaignSpecSchema.parse(minimal);
  for (const k of path.replace(/\[\]/g, '.0').split('.')) v = v === undefined || v === null ? undefined : (v as Record<string, unknown>)[k];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : v;
}

function rows(s: Json, prefix = '', required: string[] = []): Row[] {
  const out: Row[] = [];
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Json>)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const req = required.includes(k);
    const filled = v.default ?? parsedDefault(path);
    const def = filled === undefined ? '' : `\`${JSON.stringify(filled)}\``;
    out.push({ path, type: v.type === 'object' ? 'object' : typeOf(v), def, required: req });
    if (v.type === 'object') out.push(...rows(v, path, (v.required ?? []) as string[]));
    if (v.type === 'array' && (v.items as Json).type === 'object') {
      const it = v.items as Json;
      out.push(...rows(it, `${path}[]`, (it.required ?? []) as string[]));
    }
  }
  return out;
}

export function specRows(): Row[] {
  const s = campaignJsonSchema();
  return rows(s, '', (s.required ?? []) as string[]);
}

export function campaignSpecMarkdown(): string {
  const body = specRows()
    .map((r) => `| \`${r.path}\` | ${r.type} | ${r.required ? '**required**' : r.def || '—'} | ${FIELD_DOCS[r.path] ?? ''} |`)
    .join('\n');
  return `<!-- Generated by \`npm run gen\` from src/campaign/schema.ts; do not edit by hand. -->
# Campaign spec

A campaign is submitted as one JSON object, the same for \`lorafuota campaign submit\`, the gRPC API (\`spec_json\`)
and a BullMQ \`submit\` job. Its JSON Schema is [schema/campaign.schema.json](../schema/campaign.schema.json) (point
an editor at it for completion); ready specs are in [examples/](../examples/). Unknown fields are refused, so a
misspelt option is an error rather than a silent default; a validation error names every bad field as
\`path: reason\`, and nothing is stored until the whole spec validates. Beyond the schema, a submission fails when
the image does not verify against \`publicKeys\` and \`deviceClass\`, when the planner refuses the geometry (for
example a \`fragSize\` larger than the DR allows), or when a device is already in another active campaign (the
error names that campaign).

| Field | Type / range | Default | Meaning |
|---|---|---|---|
${body}
`;
}

/** The help of one command, as printed by `lorafuota … --help`, without touching process.stdout. */
function helpOf(cmd: import('commander').Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s), getOutHelpWidth: () => 110, getErrHelpWidth: () => 110 });
  cmd.outputHelp();
  return out.trimEnd();
}

/** Environment variables some options take their defaults from: cleared while the help is rendered. */
const ENV_PREFIXES = ['LORAFUOTA_', 'CHIRPSTACK_', 'REDIS_URL', 'MQTT_URL', 'HTTP_INTEGRATION_PORT'];

export function cliMarkdown(): string {
  const saved = Object.entries(process.env).filter(([k]) => ENV_PREFIXES.some((p) => k.startsWith(p)));
  for (const [k] of saved) delete process.env[k];
  try {
    const program = buildProgram();
    const parts = walk(program)
      .filter(({ cmd }) => cmd.name() !== 'help')
      .map(({ path, cmd }) => `## \`lorafuota${path ? ' ' + path : ''}\`\n\n\`\`\`\n${helpOf(cmd)}\n\`\`\``);
    return `<!-- Generated by \`npm run gen\` from the commands' --help; do not edit by hand. -->
# CLI reference

Every command of \`lorafuota\` (\`dist/src/cli/main.js\`; \`npx lorafuota\` inside a checkout, or \`npm install -g\` /
\`npm link\` to have it on the PATH). Errors go to stderr as \`lorafuota: <what>: <why>\` with exit status 1
unless a command says otherwise. Intervals are in seconds everywhere except \`--lock-ms\` and
\`--class-c-margin\`, whose names say milliseconds. The simulator and the demo run at 400 simulated seconds per
wall second unless told otherwise.

${parts.join('\n\n')}
`;
  } finally {
    for (const [k, v] of saved) process.env[k] = v;
  }
}

export const GENERATED: Record<string, () => string> = {
  'schema/campaign.schema.json': campaignJsonSchemaText,
  'docs/campaign-spec.md': campaignSpecMarkdown,
  'docs/cli.md': cliMarkdown,
};

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  // dist/scripts/gen.js -> the checkout root
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  for (const [file, make] of Object.entries(GENERATED)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), make());
    process.stdout.write(`wrote ${file}\n`);
  }
}
