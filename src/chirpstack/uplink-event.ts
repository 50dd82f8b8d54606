/**
 * ChirpStack `integration.UplinkEvent` (docs/protocol.md §8) in either encoding, normalized to one plain shape.
 * JSON follows the proto3 JSON mapping (camelCase, base64 bytes); protobuf is the binary message, read by the
 * bounded decoder in uplink-event-pb.ts. Events over MAX_EVENT_BYTES are refused before parsing.
 */
import { decodeUplinkEventPb, PbDecodeError } from './uplink-event-pb.js';
import type { AnyCommand } from '../codec/frame.js';

export interface NormalizedUplink {
  devEui: string;
  applicationId: string;
  fPort: number;
  fCnt: number;
  data: Uint8Array;
  /** Network-server receive time, ms since the Unix epoch. */
  timeMs: number;
  deduplicationId: string;
  /** GPS time of reception in ms (from a GNSS gateway's rxInfo.timeSinceGpsEpoch), when present. */
  gpsTimeMs?: number;
  /** Decoded application-layer commands (ports of TS003/TS004/TS005/TS006), when a decoder is attached. */
  commands?: AnyCommand[];
  /** Why decoding stopped early, when it did. */
  decodeError?: string;
}

/** Why an event was rejected: `field: reason`. */
export class UplinkEventError extends Error {
  override readonly name = 'UplinkEventError';
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

const EUI = /^[0-9a-fA-F]{16}$/;

/** Largest event accepted (bytes), either encoding; ChirpStack's uplink events are a few hundred bytes. */
export const MAX_EVENT_BYTES = 64 * 1024;

/** Protobuf Duration in JSON ("1436486418.250s") to ms. */
export function durationJsonToMs(s: string): number {
  const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(s);
  if (!m) throw new UplinkEventError('rxInfo.timeSinceGpsEpoch', `not a protobuf Duration string: "${s}"`);
  const frac = m[2] ? Number(m[2].padEnd(9, '0')) / 1e6 : 0;
  return Number(m[1]) * 1000 + (m[1]!.startsWith('-') ? -frac : frac);
}

function check(devEui: unknown, fPort: unknown, dedup: unknown): void {
  if (typeof devEui !== 'string' || !EUI.test(devEui)) throw new UplinkEventError('deviceInfo.devEui', 'missing or not 16 hex digits');
  if (typeof fPort !== 'number' || !Number.isInteger(fPort) || fPort < 0 || fPort > 255) throw new UplinkEventError('fPort', 'missing or not 0..255');
  if (typeof dedup !== 'string' || dedup.length === 0) throw new UplinkEventError('deduplicationId', 'missing');
}

type Json = Record<string, unknown>;

/** Standard or URL-safe alphabet, padding optional (proto3 JSON accepts both). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;

/** Strict base64: Buffer.from() would silently drop bad characters and turn garbage into short or empty data. */
export function base64Bytes(s: string, field = 'data'): Uint8Array {
  if (!BASE64.test(s)) throw new UplinkEventError(field, 'not base64 (a character outside the alphabet)');
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1 || (body.length !== s.length && s.length % 4 !== 0)) throw new UplinkEventError(field, 'not base64 (bad length or padding)');
  const b = Buffer.from(s, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function parseUplinkJson(text: string | Uint8Array): NormalizedUplink {
  let ev: unknown;
  try {
    ev = JSON.parse(typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8'));
  } catch {
    throw new UplinkEventError('event', 'not valid JSON');
  }
  if (typeof ev !== 'object' || ev === null) throw new UplinkEventError('event', 'not a JSON object');
  const e = ev as Json;
  const info = (e.deviceInfo ?? {}) as Json;
  check(info.devEui, e.fPort, e.deduplicationId);
  if (e.joinServerContext && typeof e.joinServerContext === 'object' && Object.keys(e.joinServerContext).length > 0) {
    throw new UplinkEventError('joinServerContext', 'set: ChirpStack lacks the AppSKey, data is still encrypted');
  }
  const data = e.data ?? '';
  if (typeof data !== 'string') throw new UplinkEventError('data', 'not a base64 string');
  const dataBytes = base64Bytes(data);
  const timeMs = typeof e.time === 'string' ? Date.parse(e.time) : NaN;
  if (Number.isNaN(timeMs)) throw new UplinkEventError('time', 'missing or not RFC 3339');
  let gpsTimeMs: number | undefined;
  if (Array.isArray(e.rxInfo)) {
    for (const rx of e.rxInfo as (Json | null)[]) {
      if (rx && typeof rx.timeSinceGpsEpoch === 'string') {
        gpsTimeMs = durationJsonToMs(rx.timeSinceGpsEpoch);
        break;
      }
    }
  }
  const out: NormalizedUplink = {
    devEui: (info.devEui as string).toLowerCase(),
    applicationId: typeof info.applicationId === 'string' ? info.applicationId : '',
    fPort: e.fPort as number,
    fCnt: typeof e.fCnt === 'number' ? e.fCnt : 0,
    data: dataBytes,
    timeMs,
    deduplicationId: e.deduplicationId as string,
  };
  if (gpsTimeMs !== undefined) out.gpsTimeMs = gpsTimeMs;
  return out;
}

export function parseUplinkProtobuf(bytes: Uint8Array): NormalizedUplink {
  let ev;
  try {
    ev = decodeUplinkEventPb(bytes);
  } catch (err) {
    const reason = err instanceof PbDecodeError ? `${err.field}: ${err.reason}` : String(err);
    throw new UplinkEventError('event', `not a valid integration.UplinkEvent protobuf (${reason})`);
  }
  check(ev.hasDeviceInfo ? ev.devEui : undefined, ev.fPort, ev.deduplicationId);
  if (ev.sessionKeyId) throw new UplinkEventError('joinServerContext', 'set: ChirpStack lacks the AppSKey, data is still encrypted');
  if (!ev.time) throw new UplinkEventError('time', 'missing');
  const timeMs = ev.time[0] * 1000 + Math.floor(ev.time[1] / 1e6);
  if (!Number.isFinite(timeMs)) throw new UplinkEventError('time', 'out of range');
  const out: NormalizedUplink = {
    devEui: ev.devEui.toLowerCase(),
    applicationId: ev.applicationId,
    fPort: ev.fPort,
    fCnt: ev.fCnt,
    data: ev.data,
    timeMs,
    deduplicationId: ev.deduplicationId,
  };
  if (ev.timeSinceGpsEpoch) out.gpsTimeMs = ev.timeSinceGpsEpoch[0] * 1000 + ev.timeSinceGpsEpoch[1] / 1e6;
  return out;
}

/** JSON when the payload starts with `{` (after optional whitespace), protobuf otherwise. */
export function parseUplinkEvent(bytes: Uint8Array): NormalizedUplink {
  if (bytes.length > MAX_EVENT_BYTES) throw new UplinkEventError('event', `${bytes.length} bytes, over the ${MAX_EVENT_BYTES}-byte limit`);
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i] === 0x7b ? parseUplinkJson(bytes) : parseUplinkProtobuf(bytes);
}
