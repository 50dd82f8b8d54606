/** Anti-rollback at submission: an image older than the fleet runs is refused unless the spec allows it. */
import { u32ToVersion, versionToU32 } from '../codec/image-header.js';
import { SpecError, type CampaignSpec } from './schema.js';

/** Throws a SpecError naming `allowDowngrade` when the image version is lower than the spec's `currentVersion`. */
export function checkDowngrade(spec: Pick<CampaignSpec, 'currentVersion' | 'allowDowngrade'>, imageVersion: number): void {
  if (spec.allowDowngrade || spec.currentVersion === undefined) return;
  const current = versionToU32(spec.currentVersion);
  if (imageVersion >>> 0 < current >>> 0) {
    throw new SpecError([
      {
        path: 'allowDowngrade',
        message: `the image is version ${u32ToVersion(imageVersion)}, older than currentVersion ${spec.currentVersion}: set "allowDowngrade": true to send it`,
      },
    ]);
  }
}
