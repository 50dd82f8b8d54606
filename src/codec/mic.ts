/**
 * TS004 v2 data-block MIC (TS004-2.0.0 §4; docs/protocol.md §6):
 *   B0  = 0x49 | SessionCnt (u16 LE) | FragIndex (1) | Descriptor (4, wire order) | 00 00 00 00 | length (u32 LE)
 *   MIC = AES-CMAC(DataBlockIntKey, B0 | data)[0..3], data without padding, sent in CMAC byte order.
 */
import { aesCmac, checkBytes } from './aes.js';
import { CodecError } from './errors.js';

export interface DataBlockMicInput {
  sessionCnt: number;
  fragIndex: number;
  /** The u32 of FragSessionSetupReq (written LE) or its 4 wire bytes. */
  descriptor: number | Uint8Array;
  /** The data block without padding. */
  data: Uint8Array;
}

function checkInt(field: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError('dataBlockMic', field, 0, `must be an integer in 0..${max}, got ${v}`);
}

export function dataBlockMic(key: Uint8Array, m: DataBlockMicInput): Uint8Array {
  checkBytes('dataBlockMic', 'key', key, 16);
  checkInt('sessionCnt', m.sessionCnt, 0xffff);
  checkInt('fragIndex', m.fragIndex, 3);
  if (!(m.data instanceof Uint8Array)) throw new CodecError('dataBlockMic', 'data', 0, 'must be a Uint8Array');
  const msg = new Uint8Array(16 + m.data.length);
  const v = new DataView(msg.buffer);
  msg[0] = 0x49;
  v.setUint16(1, m.sessionCnt, true);
  msg[3] = m.fragIndex;
  if (typeof m.descriptor === 'number') {
    checkInt('descriptor', m.descriptor, 0xffffffff);
    v.setUint32(4, m.descriptor, true);
  } else {
    checkBytes('dataBlockMic', 'descriptor', m.descriptor, 4);
    msg.set(m.descriptor, 4);
  }
  v.setUint32(12, m.data.length, true);
  msg.set(m.data, 16);
  return aesCmac(key, msg).slice(0, 4);
}
