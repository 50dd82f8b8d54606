/**
 * Multicast and data-block key derivation (TS005-2.0.0 §4.3, TS004-2.0.0 §4; docs/protocol.md §6).
 *
 * | Key               | Derivation                                           |
 * |-------------------|------------------------------------------------------|
 * | McRootKey (1.0.x) | AES(GenAppKey, 0x00 ‖ pad16)                         |
 * | McRootKey (1.1)   | AES(AppKey,    0x20 ‖ pad16)                         |
 * | McKEKey           | AES(McRootKey, 0x00 ‖ pad16)                         |
 * | McKey_encrypted   | AES⁻¹(McKEKey, McKey)   (server)                     |
 * | McKey             | AES(McKEKey, McKey_encrypted)   (device)             |
 * | McAppSKey         | AES(McKey, 0x01 ‖ McAddr (u32 LE) ‖ pad16)           |
 * | McNwkSKey         | AES(McKey, 0x02 ‖ McAddr (u32 LE) ‖ pad16)           |
 * | DataBlockIntKey   | AES(RootKey, 0x30 ‖ pad16)  (RootKey as McRootKey's) |
 */
import { aesDecryptBlock, aesEncryptBlock, checkBytes } from './aes.js';
import { CodecError } from './errors.js';

function derive(fn: string, key: Uint8Array, prefix: number, mcAddr?: number): Uint8Array {
  checkBytes(fn, 'key', key, 16);
  const block = new Uint8Array(16);
  block[0] = prefix;
  if (mcAddr !== undefined) {
    if (!Number.isInteger(mcAddr) || mcAddr < 0 || mcAddr > 0xffffffff) {
      throw new CodecError(fn, 'mcAddr', 0, `must be a u32, got ${mcAddr}`);
    }
    new DataView(block.buffer).setUint32(1, mcAddr, true);
  }
  return aesEncryptBlock(key, block);
}

/** rootKey is GenAppKey for LoRaWAN 1.0.x devices and AppKey for 1.1 devices (never the 1.0.x join key). */
export function mcRootKey(rootKey: Uint8Array, lorawan: '1.0' | '1.1'): Uint8Array {
  if (lorawan !== '1.0' && lorawan !== '1.1') throw new CodecError('mcRootKey', 'lorawan', 0, `must be '1.0' or '1.1', got ${String(lorawan)}`);
  return derive('mcRootKey', rootKey, lorawan === '1.0' ? 0x00 : 0x20);
}

export const mcKEKey = (mcRootKey: Uint8Array): Uint8Array => derive('mcKEKey', mcRootKey, 0x00);

/** Server side: McKey_encrypted = AES-decrypt(McKEKey, McKey). */
export function encryptMcKey(mcKEKey: Uint8Array, mcKey: Uint8Array): Uint8Array {
  checkBytes('encryptMcKey', 'mcKey', mcKey, 16);
  return aesDecryptBlock(mcKEKey, mcKey);
}

/** Device side: McKey = AES-encrypt(McKEKey, McKey_encrypted). */
export function decryptMcKey(mcKEKey: Uint8Array, mcKeyEncrypted: Uint8Array): Uint8Array {
  checkBytes('decryptMcKey', 'mcKeyEncrypted', mcKeyEncrypted, 16);
  return aesEncryptBlock(mcKEKey, mcKeyEncrypted);
}

/** The multicast group's session keys, as ChirpStack's CreateMulticastGroup wants them. */
export function mcSessionKeys(mcKey: Uint8Array, mcAddr: number): { mcAppSKey: Uint8Array; mcNwkSKey: Uint8Array } {
  return { mcAppSKey: derive('mcSessionKeys', mcKey, 0x01, mcAddr), mcNwkSKey: derive('mcSessionKeys', mcKey, 0x02, mcAddr) };
}

/** TS004 v2 data-block integrity key. */
export const dataBlockIntKey = (rootKey: Uint8Array): Uint8Array => derive('dataBlockIntKey', rootKey, 0x30);
