// Shared fixtures for the image and bootloader tests: fixed keys, so images and their bytes are reproducible.
import { sha256 } from '@noble/hashes/sha2.js';
import type { SignatureAlgorithm } from '../src/codec/image-header.js';
import type { TrustedKey } from '../src/device/image-check.js';
import { publicKeyOf, type SigningKey } from '../src/image/keys.js';
import { signImage, type SignOptions } from '../src/image/sign.js';

export const DEVICE_CLASS = 'soil-sensor-v2';

export function fixedKey(algorithm: SignatureAlgorithm, label: string): SigningKey & TrustedKey {
  const privateKey = sha256(new TextEncoder().encode(`lorafuota test key ${label}`));
  return { algorithm, privateKey, publicKey: publicKeyOf({ algorithm, privateKey }) };
}

/** A firmware payload whose bytes depend on its label and length. */
export function firmware(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let seed = sha256(new TextEncoder().encode(label));
  for (let i = 0; i < length; i += 32) {
    out.set(seed.subarray(0, Math.min(32, length - i)), i);
    seed = sha256(seed);
  }
  return out;
}

export function image(key: SigningKey, version: string, extra: Partial<SignOptions> = {}, payloadLength = 64): Uint8Array {
  return signImage(firmware(`fw ${version}`, payloadLength), { key, version, deviceClass: DEVICE_CLASS, ...extra });
}
