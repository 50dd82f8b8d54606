/** Signing a firmware into an image (service / build side): raw, compressed, or as a delta from a base firmware. */
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeImageHeader, HW_COMPAT_ANY, versionToU32 } from '../codec/image-header.js';
import { compressImage, encodeDelta } from '../codec/delta-encoder.js';
import { deviceClassId, keyId } from '../device/image-check.js';
import { DEVICE_MAX_SEGMENTS } from '../device/image-decode.js';
import { publicKeyOf, type SigningKey } from './keys.js';

export interface DeltaSource {
  /** The base firmware the device runs (decoded bytes, not an image). */
  firmware: Uint8Array;
  /** Its version, 'X.Y.Z' or u32. */
  version: string | number;
}

export interface SignOptions {
  key: SigningKey;
  /** 'X.Y.Z' or the u32 form. */
  version: string | number;
  deviceClass: string;
  manufacturer?: number;
  /** Bit n = hardware revision n accepted; default any. */
  hwCompat?: number;
  /**
   * Payload encoding of a full image: 'raw' (default), 'compressed' (LFD1), or 'auto' (compressed when smaller).
   * Ignored with deltaFrom.
   */
  encoding?: 'raw' | 'compressed' | 'auto';
  /** Sign a delta image: the payload is an LFD1 patch from this base firmware. */
  deltaFrom?: DeltaSource;
  /** Address the firmware is linked at (for the Thumb-2 address prediction); default 0x08000000. */
  loadAddress?: number;
}

const toU32 = (v: string | number): number => (typeof v === 'string' ? versionToU32(v) : v);

/** Returns header || signature || payload. */
export function signImage(firmware: Uint8Array, opts: SignOptions): Uint8Array {
  const publicKey = publicKeyOf(opts.key);
  const codecOpts = opts.loadAddress !== undefined ? { loadAddress: opts.loadAddress } : {};
  let payload = firmware;
  let encoded: 'raw' | 'compressed' | 'delta' = 'raw';
  if (opts.deltaFrom) {
    payload = encodeDelta(opts.deltaFrom.firmware, firmware, { ...codecOpts, maxSegments: DEVICE_MAX_SEGMENTS });
    encoded = 'delta';
  } else if (opts.encoding === 'compressed' || opts.encoding === 'auto') {
    const packed = compressImage(firmware, codecOpts);
    // A compressed header is 40 bytes longer than a raw one.
    if (opts.encoding === 'compressed' || packed.length + 40 < firmware.length) {
      payload = packed;
      encoded = 'compressed';
    }
  }
  const header = encodeImageHeader({
    algorithm: opts.key.algorithm,
    keyId: keyId({ algorithm: opts.key.algorithm, publicKey }),
    manufacturer: opts.manufacturer ?? 0,
    hwCompat: opts.hwCompat ?? HW_COMPAT_ANY,
    deviceClassId: deviceClassId(opts.deviceClass),
    firmwareVersion: toU32(opts.version),
    payloadLength: payload.length,
    payloadDigest: sha256(payload),
    ...(encoded !== 'raw' ? { firmware: { length: firmware.length, digest: sha256(firmware) } } : {}),
    ...(opts.deltaFrom ? { delta: { baseVersion: toU32(opts.deltaFrom.version), baseDigest: sha256(opts.deltaFrom.firmware) } } : {}),
  });
  const signature =
    opts.key.algorithm === 'ecdsa-p256' ? p256.sign(header, opts.key.privateKey) : ed25519.sign(header, opts.key.privateKey);
  const image = new Uint8Array(header.length + signature.length + payload.length);
  image.set(header, 0);
  image.set(signature, header.length);
  image.set(payload, header.length + signature.length);
  return image;
}
