/** Service-side image checks: a campaign refuses an image that would not pass the device's own check. */
import { decodeImageHeader, type ImageHeader } from '../codec/image-header.js';
import { checkImage, type ImageRejectReason, type TrustedKey } from '../device/image-check.js';

export interface CampaignImageOptions {
  publicKeys: TrustedKey[];
  deviceClass: string;
  hwRevision?: number;
  manufacturer?: number;
}

/** Error thrown for an image a campaign must not send; `reason` is the device-side ImageRejectReason. */
export class ImageRejectedError extends Error {
  override readonly name = 'ImageRejectedError';
  constructor(
    readonly reason: ImageRejectReason,
    readonly detail: string,
  ) {
    super(`image: ${reason.replace(/-/g, ' ')}: ${detail}`);
  }
}

/**
 * Verifies structure, signature, digest and device class (as the device will), without a rollback check (the
 * campaign checks versions against the fleet) and without a delta's base check (each device checks its own). Returns the header, or throws ImageRejectedError naming the reason.
 */
export function verifyImageForCampaign(image: Uint8Array, opts: CampaignImageOptions): ImageHeader {
  // The base of a delta is checked per device (its running firmware), not here: name the image's own base.
  let runningDigest: Uint8Array | undefined;
  try {
    runningDigest = decodeImageHeader(image).delta?.baseDigest;
  } catch {
    // checkImage reports the structural error
  }
  const result = checkImage(image, { ...opts, trustedKeys: opts.publicKeys, currentVersion: 0, allowRollback: true, ...(runningDigest ? { runningDigest } : {}) });
  if (!result.ok) throw new ImageRejectedError(result.reason, result.detail);
  return result.header;
}
