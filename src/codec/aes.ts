/**
 * AES-128 building blocks: single-block ECB encrypt/decrypt (node:crypto) and AES-CMAC (RFC 4493).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CodecError } from './errors.js';

const BLOCK = 16;

/** Throws a CodecError unless `v` is a Uint8Array of exactly `n` bytes. */
export function checkBytes(fn: string, field: string, v: unknown, n: number): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw new CodecError(fn, field, 0, 'must be a Uint8Array');
  if (v.length !== n) throw new CodecError(fn, field, 0, `must be ${n} bytes, got ${v.length}`);
}

function ecb(decrypt: boolean, key: Uint8Array, data: Uint8Array): Uint8Array {
  const fn = decrypt ? 'aesDecryptBlock' : 'aesEncryptBlock';
  checkBytes(fn, 'key', key, BLOCK);
  const c = decrypt ? createDecipheriv('aes-128-ecb', key, null) : createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return new Uint8Array(c.update(data));
}

export function aesEncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  checkBytes('aesEncryptBlock', 'block', block, BLOCK);
  return ecb(false, key, block);
}
export function aesDecryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  checkBytes('aesDecryptBlock', 'block', block, BLOCK);
  return ecb(true, key, block);
}

/** AES-128-ECB encryption of whole blocks in one cipher call (e.g. a LoRaWAN keystream). */
export function aesEcbEncrypt(key: Uint8Array, blocks: Uint8Array): Uint8Array {
  if (blocks.length % BLOCK !== 0) throw new CodecError('aesEcbEncrypt', 'blocks', 0, `length ${blocks.length} is not a multiple of 16`);
  return ecb(false, key, blocks);
}

/** Left shift of a 16-byte block by one bit, XOR 0x87 into the last byte when the MSB fell out (RFC 4493 §2.3). */
function dbl(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((b[i]! << 1) | (i + 1 < BLOCK ? b[i + 1]! >> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

/** CMAC subkey K1 per key (hex), so a MIC costs one cipher call; bounded so long runs do not grow it forever. */
const k1Cache = new Map<string, Uint8Array>();

function subkeyK1(key: Uint8Array): Uint8Array {
  const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
  let k1 = k1Cache.get(id);
  if (!k1) {
    if (k1Cache.size >= 1024) k1Cache.clear();
    k1 = dbl(aesEncryptBlock(key, new Uint8Array(BLOCK)));
    k1Cache.set(id, k1);
  }
  return k1;
}

/** AES-CMAC (RFC 4493): the full 16-byte tag. */
export function aesCmac(key: Uint8Array, msg: Uint8Array): Uint8Array {
  checkBytes('aesCmac', 'key', key, BLOCK);
  const k1 = subkeyK1(key);
  const n = Math.max(1, Math.ceil(msg.length / BLOCK));
  const complete = msg.length > 0 && msg.length % BLOCK === 0;
  // The last block is XORed with K1 if complete, else padded with 10* and XORed with K2; then the whole message
  // goes through AES-CBC with a zero IV in one call, and the last output block is the tag.
  const buf = new Uint8Array(n * BLOCK);
  buf.set(msg);
  if (!complete) buf[msg.length] = 0x80;
  const sub = complete ? k1 : dbl(k1);
  const lastAt = (n - 1) * BLOCK;
  for (let i = 0; i < BLOCK; i++) buf[lastAt + i]! ^= sub[i]!;
  const cbc = createCipheriv('aes-128-cbc', key, new Uint8Array(BLOCK));
  cbc.setAutoPadding(false);
  const out = cbc.update(buf);
  return new Uint8Array(out.subarray(out.length - BLOCK));
}
