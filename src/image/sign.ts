/** Signing a firmware payload into an image (service / build side). */
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeImageHeader, HW_COMPAT_ANY, versionToU32, type DeltaBase } from '../codec/image-header.js';
import { deviceClassId, keyId } from '../device/image-check.js';
import { publicKeyOf, type SigningKey } from './keys.js';

export interface SignOptions {
  key: SigningKey;
  /** 'X.Y.Z' or the u32 form. */
  version: string | number;
  deviceClass: string;
  manufacturer?: number;
  /** Bit n = hardware revision n accepted; default any. */
  hwCompat?: number;
  delta?: DeltaBase;
}

/** Returns header || signature || firmware. */
export function signImage(firmware: Uint8Array, opts: SignOptions): Uint8Array {
  const publicKey = publicKeyOf(opts.key);
  const header = encodeImageHeader({
    algorithm: opts.key.algorithm,
    keyId: keyId({ algorithm: opts.key.algorithm, publicKey }),
    manufacturer: opts.manufacturer ?? 0,
    hwCompat: opts.hwCompat ?? HW_COMPAT_ANY,
    deviceClassId: deviceClassId(opts.deviceClass),
    firmwareVersion: typeof opts.version === 'string' ? versionToU32(opts.version) : opts.version,
    payloadLength: firmware.length,
    payloadDigest: sha256(firmware),
    ...(opts.delta ? { delta: opts.delta } : {}),
  });
  const signature =
    opts.key.algorithm === 'ecdsa-p256' ? p256.sign(header, opts.key.privateKey) : ed25519.sign(header, opts.key.privateKey);
  const image = new Uint8Array(header.length + signature.length + firmware.length);
  image.set(header, 0);
  image.set(signature, header.length);
  image.set(firmware, header.length + signature.length);
  return image;
}
