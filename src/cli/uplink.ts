import type { Command } from 'commander';
import { parseInteger, usage } from './keys.js';

const PACKAGES = ['ts003', 'ts004', 'ts005', 'ts006'] as const;

/** Hex (as in a log) or base64 (as in a ChirpStack event's `data`); pure hex digits in pairs are read as hex. */
function parsePayload(text: string): Uint8Array {
  const t = text.replace(/\s/g, '');
  if (/^([0-9a-f]{2})*$/i.test(t)) return Uint8Array.from(Buffer.from(t, 'hex'));
  if (/^[A-Za-z0-9+/]*={0,2}$/.test(t) && t.length % 4 === 0) return Uint8Array.from(Buffer.from(t, 'base64'));
  throw usage('payload', `expected hex or base64, got '${text}'`);
}

function parseVersion(field: string, text: string | undefined): 1 | 2 | undefined {
  if (text === undefined) return undefined;
  if (text !== '1' && text !== '2') throw usage(field, `expected 1 or 2, got '${text}'`);
  return Number(text) as 1 | 2;
}

/** Uint8Array fields as lowercase hex strings. */
const jsonReplacer = (_k: string, v: unknown): unknown => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v);

async function decode(payload: string, o: { port: string; package?: string; downlink?: boolean; ts003?: string; ts004?: string; ts005?: string }): Promise<void> {
  const { decodeCommands, packageForPort, DEFAULT_PORTS } = await import('../codec/frame.js');
  const port = parseInteger('--port', o.port, 255);
  const pkg = o.package ?? packageForPort(port);
  if (!pkg) {
    const known = PACKAGES.map((p) => `${DEFAULT_PORTS[p]} ${p}`).join(', ');
    throw usage('--port', `${port} is not a default FUOTA port (${known}); name the package with --package`);
  }
  if (!(PACKAGES as readonly string[]).includes(pkg)) throw usage('--package', `expected one of ${PACKAGES.join(', ')}, got '${pkg}'`);
  const versions = { ts003: parseVersion('--ts003', o.ts003), ts004: parseVersion('--ts004', o.ts004), ts005: parseVersion('--ts005', o.ts005) };
  const r = decodeCommands(pkg as (typeof PACKAGES)[number], o.downlink ? 'downlink' : 'uplink', parsePayload(payload), versions);
  const out = {
    port,
    package: pkg,
    commands: r.commands,
    ...(r.error ? { error: { command: r.error.command, field: r.error.field, offset: r.error.offset, reason: r.error.reason } } : {}),
    ...(r.unknownCid ? { unknownCid: r.unknownCid } : {}),
  };
  process.stdout.write(JSON.stringify(out, jsonReplacer) + '\n');
}

/** Registers the `uplink` command group: decode application-layer answers read from ChirpStack events. */
export function register(program: Command): void {
  const uplink = program.command('uplink').description('Read FUOTA application-layer uplinks');
  uplink
    .command('decode')
    .description('Decode every command of an uplink payload (hex or base64) as JSON')
    .argument('<payload>', 'FRMPayload as hex or base64')
    .requiredOption('--port <port>', 'FPort of the uplink (200 TS005, 201 TS004, 202 TS003, 203 TS006)')
    .option('--package <name>', 'package for a non-default port: ts003, ts004, ts005 or ts006')
    .option('--downlink', 'decode as a downlink (server to device) instead, e.g. a queued ChirpStack item')
    .option('--ts003 <version>', 'TS003 version 1 or 2 (default 1)')
    .option('--ts004 <version>', 'TS004 version 1 or 2 (default 1)')
    .option('--ts005 <version>', 'TS005 version 1 or 2 (default 1)')
    .action(decode);
}
