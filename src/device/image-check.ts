/**
 * Device-side acceptance check of a received firmware image: structure, signature against the device's trusted
 * public keys, payload SHA-256, device class / hardware / manufacturer, base of a delta, and anti-rollback. The
 * check reads an image as received (`form: 'transmitted'`, the payload digest) or as a slot holds it once decoded
 * (`form: 'installed'`, the firmware digest); a compressed or delta payload is decoded afterwards (image-decode.ts)
 * and its result accepted only when the decoded firmware's digest matches the signed one. The result carries the
 * TS006 DevUpgradeImageAns UpImageStatus to report. Only public keys are needed on the device.
 */
import { createHash } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CodecError } from '../codec/errors.js';
import {
  splitImage,
  splitInstalledImage,
  TruncatedImageError,
  u32ToVersion,
  type ImageHeader,
  type ImageParts,
  type SignatureAlgorithm,
} from '../codec/image-header.js';

export type ImageRejectReason =
  | 'truncated'
  | 'bad-magic'
  | 'bad-signature'
  | 'digest-mismatch'
  | 'wrong-device-class'
  | 'rollback'
  | 'wrong-base'
  | 'bad-payload'
  | 'unsupported';

export interface TrustedKey {
  algorithm: SignatureAlgorithm;
  /** ECDSA P-256: SEC1 compressed (33 B) or uncompressed (65 B); Ed25519: 32 B. */
  publicKey: Uint8Array;
}

export interface ImagePolicy {
  trustedKeys: TrustedKey[];
  /** The device's class name; null skips the class check (service-side tools only, never on a device). */
  deviceClass: string | null;
  /** u32 version of the running firmware; a lower image version is a rollback. */
  currentVersion: number;
  allowRollback?: boolean;
  /** Same as allowRollback: accept an image older than the running one (a campaign's explicit downgrade). */
  allowDowngrade?: boolean;
  /**
   * SHA-256 of the running firmware: a delta image applies only when its base digest equals it. Without it every
   * delta is refused (wrong-base).
   */
  runningDigest?: Uint8Array;
  /** 'transmitted' (default): payload as received; 'installed': header || signature || decoded firmware (a slot). */
  form?: 'transmitted' | 'installed';
  /**
   * Hardware revision 0..15 of this device; when set, the image's hwCompat bit for it must be set. null: the device
   * has no revision bit (e.g. a TS006 hwVersion above 15), so only hwCompat 0xFFFF (any) is accepted.
   */
  hwRevision?: number | null;
  /** When set, the image's manufacturer id must equal it. */
  manufacturer?: number;
}

export type ImageCheckResult =
  | { ok: true; header: ImageHeader; version: number; upImageStatus: 3 }
  | { ok: false; reason: ImageRejectReason; detail: string; upImageStatus: 0 | 1 | 2 };

/** 4-byte device class identifier carried in the header: the first 4 bytes of SHA-256 of the UTF-8 name. */
export function deviceClassId(name: string): Uint8Array {
  if (name.length === 0) throw new RangeError('deviceClass: must not be empty');
  return sha256(new TextEncoder().encode(name)).slice(0, 4);
}

/** Canonical public key bytes: uncompressed SEC1 (65 B) for P-256, raw 32 B for Ed25519. Throws on a bad key. */
export function canonicalPublicKey(key: TrustedKey): Uint8Array {
  if (key.algorithm === 'ecdsa-p256') return p256.Point.fromBytes(key.publicKey).toBytes(false);
  if (key.algorithm === 'ed25519' && key.publicKey.length === 32) return key.publicKey;
  throw new RangeError(`publicKey: not a valid ${key.algorithm} public key (${key.publicKey.length} bytes)`);
}

/** Key id carried in header byte 7: the first byte of SHA-256 of the canonical public key. */
export function keyId(key: TrustedKey): number {
  return sha256(canonicalPublicKey(key))[0]!;
}

const reject = (reason: ImageRejectReason, detail: string, upImageStatus: 0 | 1 | 2): ImageCheckResult => ({
  ok: false,
  reason,
  detail,
  upImageStatus,
});

/**
 * Verdicts of signature checks already made, by algorithm, key, signature and digest of the signed bytes: a check
 * is a pure function of these, and a simulated fleet checks the same image thousands of times (each boot).
 */
const verdicts = new Map<string, boolean>();

function signatureValid(parts: ImageParts, key: TrustedKey): boolean {
  const memo = `${key.algorithm}:${Buffer.from(key.publicKey).toString('hex')}:${Buffer.from(parts.signature).toString('hex')}:${createHash('sha256').update(parts.signedBytes).digest('hex')}`;
  const known = verdicts.get(memo);
  if (known !== undefined) return known;
  const ok = verifySignature(parts, key);
  if (verdicts.size >= 256) verdicts.clear();
  verdicts.set(memo, ok);
  return ok;
}

function verifySignature(parts: ImageParts, key: TrustedKey): boolean {
  try {
    if (key.algorithm === 'ecdsa-p256') {
      // Accept high-S as C verifiers (mbedTLS, tinycrypt) do; malleability does not matter for firmware approval.
      return p256.verify(parts.signature, parts.signedBytes, key.publicKey, { lowS: false });
    }
    return ed25519.verify(parts.signature, parts.signedBytes, key.publicKey);
  } catch {
    return false;
  }
}

const hexShort = (b: Uint8Array): string => Buffer.from(b.subarray(0, 8)).toString('hex') + '…';

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function split(image: Uint8Array, installed: boolean): ImageParts | ImageCheckResult {
  try {
    return installed ? splitInstalledImage(image) : splitImage(image);
  } catch (err) {
    if (err instanceof TruncatedImageError) return reject('truncated', err.message, 1);
    if (err instanceof CodecError && err.field === 'magic') return reject('bad-magic', err.message, 1);
    if (err instanceof CodecError) return reject('unsupported', err.message, 1);
    throw err;
  }
}

/**
 * Checks an image (bytes after its end are ignored) against the device policy. `null` means no image was
 * received (UpImageStatus 0). Structure, signature or digest failures give 1; an authenticated image that is not
 * installable here (device class, hardware, manufacturer, rollback, delta) gives 2; a valid image gives 3.
 */
export function checkImage(image: Uint8Array | null, policy: ImagePolicy): ImageCheckResult {
  const rev = policy.hwRevision;
  if (rev !== undefined && rev !== null && !(Number.isInteger(rev) && rev >= 0 && rev <= 15)) throw new RangeError(`hwRevision: must be 0..15, got ${rev}`);
  if (image === null || image.length === 0) return reject('truncated', 'no image received', 0);
  const installed = policy.form === 'installed';
  const parts = split(image, installed);
  if (!('signedBytes' in parts)) return parts;
  const h = parts.header;
  const keys = policy.trustedKeys.filter((k) => k.algorithm === h.algorithm && keyId(k) === h.keyId);
  if (keys.length === 0) {
    return reject('bad-signature', `no trusted ${h.algorithm} key with key id 0x${h.keyId.toString(16).padStart(2, '0')}`, 1);
  }
  if (!keys.some((k) => signatureValid(parts, k))) return reject('bad-signature', `${h.algorithm} signature does not verify`, 1);
  const digest = installed ? h.firmwareDigest : h.payloadDigest;
  if (!equalBytes(sha256(parts.payload), digest)) {
    const what = installed && h.encoding !== 'raw' ? `${h.firmwareLength}-byte decoded firmware` : `${h.payloadLength}-byte payload`;
    return reject('digest-mismatch', `SHA-256 of the ${what} differs from the header`, 1);
  }
  if (policy.deviceClass !== null && !equalBytes(h.deviceClassId, deviceClassId(policy.deviceClass))) {
    return reject('wrong-device-class', `image is not for device class '${policy.deviceClass}'`, 2);
  }
  if (rev === null && h.hwCompat !== 0xffff) {
    return reject('wrong-device-class', `this device has no hardware revision bit; hwCompat 0x${h.hwCompat.toString(16)} is not 'any'`, 2);
  }
  if (rev !== undefined && rev !== null && !((h.hwCompat >> rev) & 1)) {
    return reject('wrong-device-class', `hardware revision ${rev} is not in hwCompat 0x${h.hwCompat.toString(16)}`, 2);
  }
  if (policy.manufacturer !== undefined && h.manufacturer !== policy.manufacturer) {
    return reject('wrong-device-class', `manufacturer ${h.manufacturer} is not ${policy.manufacturer}`, 2);
  }
  if (h.delta && !installed) {
    const running = policy.runningDigest;
    if (!running) return reject('wrong-base', `delta from ${u32ToVersion(h.delta.baseVersion)} but no running firmware to apply it to`, 2);
    if (!equalBytes(running, h.delta.baseDigest)) {
      return reject('wrong-base', `delta from ${u32ToVersion(h.delta.baseVersion)} (base SHA-256 ${hexShort(h.delta.baseDigest)}) does not apply to the running firmware (${hexShort(running)})`, 2);
    }
  }
  if (!(policy.allowRollback || policy.allowDowngrade) && h.firmwareVersion < policy.currentVersion) {
    return reject('rollback', `version ${u32ToVersion(h.firmwareVersion)} is older than running ${u32ToVersion(policy.currentVersion)}`, 2);
  }
  return { ok: true, header: h, version: h.firmwareVersion, upImageStatus: 3 };
}
