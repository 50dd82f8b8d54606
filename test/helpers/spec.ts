/**
 * Campaign specs for API and CLI tests: a real signed image (submission verifies it) with a fixed test key.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CampaignSpecInput } from '../../src/campaign/schema.js';
import { formatPublicKeyFile, publicKeyOf } from '../../src/image/keys.js';
import type { SigningKey } from '../../src/image/keys.js';
import { signImage } from '../../src/image/sign.js';

export const TEST_DEVICE_CLASS = 'api-test-sensor';
const key: SigningKey = { algorithm: 'ed25519', privateKey: sha256(new TextEncoder().encode('lorafuota api test key')) };

/** A signed 300-byte image for TEST_DEVICE_CLASS, and the public key file that verifies it. */
export const TEST_IMAGE = Buffer.from(signImage(new Uint8Array(300).fill(0x5a), { key, version: '1.2.3', deviceClass: TEST_DEVICE_CLASS }));
export const TEST_PUBKEY = formatPublicKeyFile({ algorithm: key.algorithm, publicKey: publicKeyOf(key) });

/** A fresh random DevEUI (16 hex digits), so tests never collide on the one-active-campaign-per-device rule. */
export function randomDevEui(): string {
  return randomBytes(8).toString('hex');
}

/** A valid spec with `devices` random devices; `over` replaces top-level fields. */
export function makeSpec(devices = 3, over: Partial<CampaignSpecInput> = {}): CampaignSpecInput {
  return {
    name: 'test campaign',
    applicationId: 'app-1',
    imageBase64: TEST_IMAGE.toString('base64'),
    publicKeys: [TEST_PUBKEY],
    deviceClass: TEST_DEVICE_CLASS,
    devices: Array.from({ length: devices }, () => ({ devEui: randomDevEui() })),
    ...over,
  };
}
