/**
 * Submission checks of a delta campaign's images (docs/delta.md#delta-campaigns): every `deltas[i].imageBase64` is a
 * signed delta image of the same firmware as the full image (same version, decoded digest, device class, signer and
 * hardware filter), for a base version no other delta has. Each is planned like the campaign's own group, so a delta
 * that cannot be sent is refused before anything is stored. Errors are SpecErrors naming the field.
 */
import { defaultKey } from '../campaign/grouping.js';
import { planGroup } from '../campaign/group-plan.js';
import { savingOf, type CampaignImages, type Saving } from '../campaign/images.js';
import { PlanError, type Plan } from '../campaign/planner.js';
import { SpecError, type CampaignSpec } from '../campaign/schema.js';
import { u32ToVersion, type ImageHeader } from '../codec/image-header.js';
import type { TrustedKey } from '../device/image-check.js';
import { ImageRejectedError, verifyImageForCampaign } from '../image/verify.js';

export interface DeltaImages {
  /** Sizes and bases, stored with the campaign (hash field `images`). */
  images: CampaignImages;
  /** The delta images by base version. */
  bytes: Map<number, Uint8Array>;
  /** What each delta saves against the full image, planned for the spec's own region and data rate. */
  savings: (Saving & { baseVersion: string })[];
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function refuse(field: string, message: string): never {
  throw new SpecError([{ path: field, message }]);
}

export function checkDeltaImages(spec: CampaignSpec, full: { image: Uint8Array; header: ImageHeader; plan: Plan }, publicKeys: TrustedKey[]): DeltaImages | undefined {
  if (!spec.deltas?.length) return undefined;
  const target = full.header;
  const images: CampaignImages = { fullBytes: full.image.length, deltas: [] };
  const bytes = new Map<number, Uint8Array>();
  const savings: DeltaImages['savings'] = [];
  spec.deltas.forEach((d, i) => {
    const field = `deltas.${i}.imageBase64`;
    const image = new Uint8Array(Buffer.from(d.imageBase64, 'base64'));
    let h: ImageHeader;
    try {
      h = verifyImageForCampaign(image, { publicKeys, deviceClass: spec.deviceClass });
    } catch (e) {
      if (e instanceof ImageRejectedError) refuse(field, e.message);
      throw e;
    }
    if (h.encoding !== 'delta' || !h.delta) refuse(field, `not a delta image (its payload is ${h.encoding}); the full image goes in imageBase64`);
    const base = h.delta.baseVersion;
    if (h.firmwareVersion !== target.firmwareVersion) {
      refuse(field, `delta to version ${u32ToVersion(h.firmwareVersion)}, the full image is version ${u32ToVersion(target.firmwareVersion)}`);
    }
    if (hex(h.firmwareDigest) !== hex(target.firmwareDigest) || h.firmwareLength !== target.firmwareLength) {
      refuse(field, `decodes to other firmware than the full image (firmware SHA-256 ${hex(h.firmwareDigest).slice(0, 16)}…, full image ${hex(target.firmwareDigest).slice(0, 16)}…)`);
    }
    if (h.algorithm !== target.algorithm || h.keyId !== target.keyId) refuse(field, `signed by another key (${h.algorithm} key id ${h.keyId}) than the full image (${target.algorithm} key id ${target.keyId})`);
    if (h.manufacturer !== target.manufacturer || h.hwCompat !== target.hwCompat) {
      refuse(field, `manufacturer or hardware filter (${h.manufacturer}, 0x${h.hwCompat.toString(16)}) differs from the full image's (${target.manufacturer}, 0x${target.hwCompat.toString(16)})`);
    }
    if (base === target.firmwareVersion) refuse(field, `base version ${u32ToVersion(base)} is the target version itself`);
    if (bytes.has(base)) refuse(field, `a second delta for base version ${u32ToVersion(base)}`);
    let plan: Plan;
    try {
      plan = planGroup(spec, defaultKey(spec), image.length);
    } catch (e) {
      if (e instanceof PlanError) refuse(field, `cannot be sent: ${e.message}`);
      throw e;
    }
    bytes.set(base, image);
    images.deltas.push({ baseVersion: base, baseDigest: hex(h.delta.baseDigest), bytes: image.length });
    savings.push({ baseVersion: u32ToVersion(base), ...savingOf(plan, full.plan, image.length, full.image.length) });
  });
  return { images, bytes, savings };
}
