/**
 * Frames of concatenated application-layer commands: one FRMPayload on one package's FPort (docs/protocol.md §1; lengths in docs/codec.md).
 * Decoding walks the frame with each CID's layout, stops at an unknown CID and reports it, and turns malformed
 * input into a CodecError in the result; it never throws for any byte string.
 */
import { CodecError } from './errors.js';
import { TS003_DOWNLINK, TS003_UPLINK, type Ts003Command } from './ts003.js';
import { TS004_DOWNLINK, TS004_UPLINK, type Ts004Command } from './ts004.js';
import { TS005_DOWNLINK, TS005_UPLINK, type Ts005Command } from './ts005.js';
import { TS006_DOWNLINK, TS006_UPLINK, type Ts006Command } from './ts006.js';
import { Reader, Writer, type CommandSpec } from './wire.js';

export type PackageName = 'ts003' | 'ts004' | 'ts005' | 'ts006';
export type Direction = 'downlink' | 'uplink';
/** Package versions in use (default 1 each); TS006 exists only as v1. */
export interface Versions {
  ts003?: 1 | 2;
  ts004?: 1 | 2;
  ts005?: 1 | 2;
}
export type AnyCommand = Ts003Command | Ts004Command | Ts005Command | Ts006Command;

export const DEFAULT_PORTS: Record<PackageName, number> = { ts003: 202, ts004: 201, ts005: 200, ts006: 203 };

export interface DecodeResult {
  /** Commands decoded before the end of the frame, the error or the unknown CID. */
  commands: AnyCommand[];
  error?: CodecError;
  unknownCid?: { cid: number; offset: number };
}

const TABLES: Record<PackageName, Record<Direction, CommandSpec[]>> = {
  ts003: { downlink: TS003_DOWNLINK, uplink: TS003_UPLINK },
  ts004: { downlink: TS004_DOWNLINK, uplink: TS004_UPLINK },
  ts005: { downlink: TS005_DOWNLINK, uplink: TS005_UPLINK },
  ts006: { downlink: TS006_DOWNLINK, uplink: TS006_UPLINK },
};

interface Lookup {
  byCid: Map<number, CommandSpec>;
  byType: Map<string, CommandSpec>;
}
const lookups = new Map<string, Lookup>();

function lookup(pkg: PackageName, dir: Direction, versions: Versions | undefined): { table: Lookup; version: 1 | 2 } {
  const version = pkg === 'ts006' ? 1 : (versions?.[pkg] ?? 1);
  const key = `${pkg}/${dir}/${version}`;
  let table = lookups.get(key);
  if (!table) {
    const specs = TABLES[pkg][dir].filter((s) => !s.versions || s.versions.includes(version));
    table = { byCid: new Map(specs.map((s) => [s.cid, s])), byType: new Map(specs.map((s) => [s.type, s])) };
    lookups.set(key, table);
  }
  return { table, version };
}

/** Encodes commands into one frame. Throws a CodecError naming the command, field and frame offset of bad input. */
export function encodeCommands(pkg: PackageName, dir: Direction, cmds: AnyCommand[], versions?: Versions): Uint8Array {
  const { table, version } = lookup(pkg, dir, versions);
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const cmd of cmds) {
    const type = String((cmd as { type?: unknown } | null)?.type);
    const s = table.byType.get(type);
    if (!s) throw new CodecError(type, 'type', offset, `not a ${pkg} v${version} ${dir} command`);
    if (type === 'DataFragment' && cmds.length > 1) {
      throw new CodecError(type, 'type', offset, 'a DataFragment must be the only command in its frame');
    }
    const w = new Writer(type, offset).u8('cid', s.cid);
    s.encode(cmd, w);
    const bytes = w.bytes();
    parts.push(bytes);
    offset += bytes.length;
  }
  const out = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes every command of a frame; never throws. */
export function decodeCommands(pkg: PackageName, dir: Direction, bytes: Uint8Array, versions?: Versions): DecodeResult {
  const { table } = lookup(pkg, dir, versions);
  const commands: AnyCommand[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const cid = bytes[pos]!;
    const s = table.byCid.get(cid);
    if (!s) return { commands, unknownCid: { cid, offset: pos } };
    const r = new Reader(bytes, pos + 1, s.type);
    try {
      commands.push(s.decode(r) as AnyCommand);
    } catch (e) {
      if (e instanceof CodecError) return { commands, error: e };
      throw e;
    }
    pos = r.pos;
  }
  return { commands };
}

/** The package that listens on `port`, with optional per-device port overrides. */
export function packageForPort(port: number, ports?: Partial<Record<PackageName, number>>): PackageName | undefined {
  const all = { ...DEFAULT_PORTS, ...ports };
  return (Object.keys(all) as PackageName[]).find((p) => all[p] === port);
}
