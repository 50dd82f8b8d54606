/**
 * Campaign specs for API and CLI tests. The image is placeholder bytes until submission verifies images; then this
 * is the one place to build a real signed image (src/image).
 */
import { randomBytes } from 'node:crypto';
import type { CampaignSpecInput } from '../../src/campaign/schema.js';

/** Placeholder image bytes and public key file contents. */
export const TEST_IMAGE = Buffer.from('lorafuota test image');
export const TEST_PUBKEY = 'test-public-key';

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
    deviceClass: 'sensor-v1',
    devices: Array.from({ length: devices }, () => ({ devEui: randomDevEui() })),
    ...over,
  };
}
