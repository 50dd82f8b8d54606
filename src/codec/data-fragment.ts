// TS004 DataFragment (TS004-2.0.0 §3.6; docs/protocol.md §3): CID 0x08 | Index&N (u16 LE: bits 15:14 FragIndex, 13:0 N) | payload.
import { CodecError } from './errors.js';
import { MAX_N } from './fec-row.js';

export const DATA_FRAGMENT_CID = 0x08;
const HEADER = 3;

/** The whole command, CID included. */
export function encodeDataFragment(fragIndex: number, n: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(fragIndex) || fragIndex < 0 || fragIndex > 3) {
    throw new CodecError('DataFragment', 'fragIndex', 1, `must be 0..3, got ${fragIndex}`);
  }
  if (!Number.isInteger(n) || n < 1 || n > MAX_N) {
    throw new CodecError('DataFragment', 'n', 1, `must be 1..${MAX_N}, got ${n}`);
  }
  if (payload.length === 0) throw new CodecError('DataFragment', 'payload', HEADER, 'is empty');
  const out = new Uint8Array(HEADER + payload.length);
  const indexAndN = (fragIndex << 14) | n;
  out[0] = DATA_FRAGMENT_CID;
  out[1] = indexAndN & 0xff;
  out[2] = indexAndN >>> 8;
  out.set(payload, HEADER);
  return out;
}

/** Parses a whole command, CID included. The payload is a view into `bytes`. */
export function decodeDataFragment(bytes: Uint8Array): { fragIndex: number; n: number; payload: Uint8Array } {
  if (bytes.length === 0 || bytes[0] !== DATA_FRAGMENT_CID) {
    const got = bytes.length === 0 ? 'nothing' : `0x${bytes[0]!.toString(16).padStart(2, '0')}`;
    throw new CodecError('DataFragment', 'cid', 0, `expected 0x08, got ${got}`);
  }
  if (bytes.length < HEADER) throw new CodecError('DataFragment', 'indexAndN', 1, `needs 2 bytes, has ${bytes.length - 1}`);
  if (bytes.length === HEADER) throw new CodecError('DataFragment', 'payload', HEADER, 'is empty');
  const indexAndN = bytes[1]! | (bytes[2]! << 8);
  const n = indexAndN & MAX_N;
  if (n === 0) throw new CodecError('DataFragment', 'n', 1, 'is 0 (N starts at 1)');
  return { fragIndex: indexAndN >>> 14, n, payload: bytes.subarray(HEADER) };
}
