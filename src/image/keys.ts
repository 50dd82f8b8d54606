/**
 * Signing key pairs and key files. A key file is a small JSON object:
 *   {"type":"lorafuota-image-key","kind":"private"|"public","algorithm":"ecdsa-p256"|"ed25519","key":"<hex>"}
 * Private keys are 32 bytes (P-256 scalar / Ed25519 seed); public keys are SEC1 uncompressed (65 B) for P-256 and
 * 32 bytes for Ed25519, the forms C verifiers take directly.
 */
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { SignatureAlgorithm } from '../codec/image-header.js';
import { canonicalPublicKey, type TrustedKey } from '../device/image-check.js';

export interface SigningKey {
  algorithm: SignatureAlgorithm;
  privateKey: Uint8Array;
}

export interface KeyPair extends SigningKey {
  publicKey: Uint8Array;
}

const KEY_FILE_TYPE = 'lorafuota-image-key';
export const ALGORITHMS: readonly SignatureAlgorithm[] = ['ecdsa-p256', 'ed25519'];

function curve(algorithm: SignatureAlgorithm): typeof p256 | typeof ed25519 {
  if (algorithm === 'ecdsa-p256') return p256;
  if (algorithm === 'ed25519') return ed25519;
  throw new RangeError(`algorithm: expected one of ${ALGORITHMS.join(', ')}, got '${String(algorithm)}'`);
}

export function publicKeyOf(key: SigningKey): Uint8Array {
  const publicKey = curve(key.algorithm).getPublicKey(key.privateKey);
  return canonicalPublicKey({ algorithm: key.algorithm, publicKey });
}

export function generateKeyPair(algorithm: SignatureAlgorithm = 'ecdsa-p256'): KeyPair {
  const { secretKey } = curve(algorithm).keygen();
  return { algorithm, privateKey: secretKey, publicKey: publicKeyOf({ algorithm, privateKey: secretKey }) };
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function formatPrivateKeyFile(key: SigningKey): string {
  return JSON.stringify({ type: KEY_FILE_TYPE, kind: 'private', algorithm: key.algorithm, key: toHex(key.privateKey) }) + '\n';
}

export function formatPublicKeyFile(key: TrustedKey): string {
  return JSON.stringify({ type: KEY_FILE_TYPE, kind: 'public', algorithm: key.algorithm, key: toHex(canonicalPublicKey(key)) }) + '\n';
}

function parseKeyFile(text: string, kind: 'private' | 'public', field: string): { algorithm: SignatureAlgorithm; key: Uint8Array } {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new Error(`${field}: not a lorafuota key file (not JSON)`);
  }
  const o = (obj ?? {}) as Record<string, unknown>;
  if (o.type !== KEY_FILE_TYPE) throw new Error(`${field}: not a lorafuota key file (type is not '${KEY_FILE_TYPE}')`);
  if (o.kind !== kind) throw new Error(`${field}: expected a ${kind} key file, got kind '${String(o.kind)}'`);
  if (!ALGORITHMS.includes(o.algorithm as SignatureAlgorithm)) throw new Error(`${field}: unknown algorithm '${String(o.algorithm)}'`);
  if (typeof o.key !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(o.key)) throw new Error(`${field}: key must be a hex string`);
  return { algorithm: o.algorithm as SignatureAlgorithm, key: Uint8Array.from(Buffer.from(o.key, 'hex')) };
}

/** Parses a private key file; `field` names the source in errors (e.g. '--key'). */
export function parsePrivateKeyFile(text: string, field = 'key'): SigningKey {
  const { algorithm, key } = parseKeyFile(text, 'private', field);
  if (key.length !== 32) throw new Error(`${field}: a ${algorithm} private key is 32 bytes, got ${key.length}`);
  return { algorithm, privateKey: key };
}

/** Parses a public key file into a key the device-side check trusts. */
export function parsePublicKeyFile(text: string, field = 'pubkey'): TrustedKey {
  const { algorithm, key } = parseKeyFile(text, 'public', field);
  try {
    return { algorithm, publicKey: canonicalPublicKey({ algorithm, publicKey: key }) };
  } catch {
    throw new Error(`${field}: not a valid ${algorithm} public key (${key.length} bytes)`);
  }
}
