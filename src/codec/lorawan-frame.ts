/**
 * LoRaWAN 1.0.x data-down frames as the simulator sends multicast traffic:
 *
 * | MHDR | DevAddr (u32 LE) | FCtrl | FCnt (u16 LE) | FOpts (FCtrl & 0x0F) | FPort | FRMPayload (encrypted) | MIC (4) |
 *
 * FRMPayload: XOR with AES(key, A_i), A_i = 01 | 00×4 | Dir | DevAddr | FCnt32 | 00 | i (i = 1..), key = AppSKey for
 * FPort > 0, NwkSKey for FPort 0. MIC = AES-CMAC(NwkSKey, B0 | MHDR..FRMPayload)[0..3],
 * B0 = 49 | 00×4 | Dir | DevAddr | FCnt32 | 00 | len. Downlink: Dir = 1. Encoding sends unconfirmed data down
 * (MHDR 0x60), FCtrl 0 and no FOpts.
 */
import { aesCmac, aesEcbEncrypt, checkBytes } from './aes.js';
import { CodecError } from './errors.js';

const MHDR_UNCONFIRMED_DOWN = 0x60;
const DIR_DOWN = 1;
const HEADER = 8; // MHDR + DevAddr + FCtrl + FCnt

export interface DownlinkFrameInput {
  devAddr: number;
  /** Full 32-bit frame counter; its low 16 bits go on air. */
  fCnt: number;
  fPort: number;
  payload: Uint8Array;
  appSKey: Uint8Array;
  nwkSKey: Uint8Array;
}

function cryptoBlock(first: number, devAddr: number, fCnt: number, last: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[0] = first;
  b[5] = DIR_DOWN;
  v.setUint32(6, devAddr, true);
  v.setUint32(10, fCnt, true);
  b[15] = last;
  return b;
}

/** Encrypts or decrypts (the same XOR) a FRMPayload. */
function cipherPayload(key: Uint8Array, devAddr: number, fCnt: number, data: Uint8Array): Uint8Array {
  const nBlocks = Math.ceil(data.length / 16);
  const a = new Uint8Array(nBlocks * 16);
  for (let i = 0; i < nBlocks; i++) a.set(cryptoBlock(0x01, devAddr, fCnt, i + 1), i * 16);
  const s = aesEcbEncrypt(key, a);
  return data.map((d, i) => d ^ s[i]!);
}

function frameMic(nwkSKey: Uint8Array, devAddr: number, fCnt: number, msg: Uint8Array): Uint8Array {
  const b0 = cryptoBlock(0x49, devAddr, fCnt, msg.length);
  const all = new Uint8Array(16 + msg.length);
  all.set(b0);
  all.set(msg, 16);
  return aesCmac(nwkSKey, all).slice(0, 4);
}

function checkU(fn: string, field: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError(fn, field, 0, `must be an integer in 0..${max}, got ${v}`);
}

export function encodeDownlinkFrame(f: DownlinkFrameInput): { phyPayload: Uint8Array; frmPayload: Uint8Array; mic: Uint8Array } {
  const fn = 'encodeDownlinkFrame';
  checkU(fn, 'devAddr', f.devAddr, 0xffffffff);
  checkU(fn, 'fCnt', f.fCnt, 0xffffffff);
  checkU(fn, 'fPort', f.fPort, 0xff);
  checkBytes(fn, 'appSKey', f.appSKey, 16);
  checkBytes(fn, 'nwkSKey', f.nwkSKey, 16);
  const frmPayload = cipherPayload(f.fPort === 0 ? f.nwkSKey : f.appSKey, f.devAddr, f.fCnt, f.payload);
  const msg = new Uint8Array(HEADER + 1 + frmPayload.length);
  const v = new DataView(msg.buffer);
  msg[0] = MHDR_UNCONFIRMED_DOWN;
  v.setUint32(1, f.devAddr, true);
  msg[5] = 0; // FCtrl: no ADR, no ACK, no FPending, no FOpts
  v.setUint16(6, f.fCnt & 0xffff, true);
  msg[8] = f.fPort;
  msg.set(frmPayload, 9);
  const mic = frameMic(f.nwkSKey, f.devAddr, f.fCnt, msg);
  const phyPayload = new Uint8Array(msg.length + 4);
  phyPayload.set(msg);
  phyPayload.set(mic, msg.length);
  return { phyPayload, frmPayload, mic };
}

/**
 * Checks and decrypts a data-down frame. `fCntFull` is the lowest 32-bit FCnt the receiver accepts (e.g. the last
 * one + 1, or minMcFCnt): the on-air 16 bits are extended to the first value ≥ fCntFull that ends in them.
 * Returns null when the MIC does not match; throws a CodecError for a frame that is not a data-down frame.
 */
export function decodeDownlinkFrame(
  phyPayload: Uint8Array,
  keys: { appSKey: Uint8Array; nwkSKey: Uint8Array; fCntFull: number },
): { devAddr: number; fCnt: number; fPort: number; payload: Uint8Array } | null {
  const fail = (field: string, offset: number, reason: string): never => {
    throw new CodecError('DownlinkFrame', field, offset, reason);
  };
  checkBytes('decodeDownlinkFrame', 'appSKey', keys.appSKey, 16);
  checkBytes('decodeDownlinkFrame', 'nwkSKey', keys.nwkSKey, 16);
  checkU('decodeDownlinkFrame', 'fCntFull', keys.fCntFull, 0xffffffff);
  if (phyPayload.length < HEADER + 4) fail('phyPayload', 0, `${phyPayload.length} bytes is shorter than a data frame (12)`);
  const mType = phyPayload[0]! >> 5;
  if (mType !== 3 && mType !== 5) fail('mhdr', 0, `MType ${mType} is not a data-down frame`);
  const v = new DataView(phyPayload.buffer, phyPayload.byteOffset, phyPayload.byteLength);
  const devAddr = v.getUint32(1, true);
  const portAt = HEADER + (phyPayload[5]! & 0x0f);
  const micAt = phyPayload.length - 4;
  if (portAt >= micAt) fail('fPort', portAt, 'missing: frame carries no application payload');
  const fCnt16 = v.getUint16(6, true);
  let fCnt = keys.fCntFull - (keys.fCntFull % 0x10000) + fCnt16;
  if (fCnt < keys.fCntFull) fCnt += 0x10000;
  if (fCnt > 0xffffffff) return null;
  const msg = phyPayload.subarray(0, micAt);
  const mic = frameMic(keys.nwkSKey, devAddr, fCnt, msg);
  if (mic.some((b, i) => b !== phyPayload[micAt + i])) return null;
  const fPort = phyPayload[portAt]!;
  const payload = cipherPayload(fPort === 0 ? keys.nwkSKey : keys.appSKey, devAddr, fCnt, phyPayload.subarray(portAt + 1, micAt));
  return { devAddr, fCnt, fPort, payload };
}
