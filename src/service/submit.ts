/**
 * Submission: validate the spec, verify the image, plan, store, and start the pipeline. Shared by the gRPC API,
 * the CLI and the BullMQ `submit` job. Nothing is stored when any check fails, and every failure names the field.
 */
import type { Queue } from 'bullmq';
import { checkDowngrade } from '../campaign/downgrade.js';
import { serialiseImages } from '../campaign/images.js';
import { checkDeltaImages, type DeltaImages } from './delta-images.js';
import { parseCampaignSpec, type CampaignSpec } from '../campaign/schema.js';
import { planGroup } from '../campaign/group-plan.js';
import { defaultKey } from '../campaign/grouping.js';
import type { Plan } from '../campaign/planner.js';
import type { RegionName } from '../codec/region.js';
import { parsePublicKeyFile } from '../image/keys.js';
import { verifyImageForCampaign } from '../image/verify.js';
import type { CampaignStore } from '../store/campaign-store.js';
import { scheduleAdvance } from '../store/queue.js';

export interface SubmitContext {
  store: CampaignStore;
  queue: Queue;
}

/** Validates and plans without storing anything: what `submitCampaign` would run. */
export function prepareCampaign(input: unknown): { spec: CampaignSpec; image: Uint8Array; plan: Plan; targetVersion: number; deltas?: DeltaImages } {
  const spec = parseCampaignSpec(input);
  const image = new Uint8Array(Buffer.from(spec.imageBase64, 'base64'));
  const publicKeys = spec.publicKeys.map((text, i) => parsePublicKeyFile(text, `publicKeys[${i}]`));
  // Refuse, before anything is sent, an image the devices would refuse.
  const header = verifyImageForCampaign(image, { publicKeys, deviceClass: spec.deviceClass });
  checkDowngrade(spec, header.firmwareVersion);
  // The first group (the spec's own region, class and parity rule) is planned now; the groups of other regions
  // and parity rules when the set-up discovers their devices. Per-region parameters are checked now, so a bad one
  // is refused before anything is sent.
  const first = defaultKey(spec);
  const plan = planGroup(spec, first, image.length);
  for (const region of Object.keys(spec.multicast.byRegion ?? {}) as RegionName[]) {
    if (region !== first.region) planGroup(spec, { ...first, region }, image.length);
  }
  // A delta campaign: each delta checked against the full image (docs/delta.md#delta-campaigns).
  const deltas = checkDeltaImages(spec, { image, header, plan }, publicKeys);
  return { spec, image, plan, targetVersion: header.firmwareVersion, ...(deltas ? { deltas } : {}) };
}

export async function submitCampaign(ctx: SubmitContext, input: unknown): Promise<{ id: string; created: boolean }> {
  const { spec, image, plan, targetVersion, deltas } = prepareCampaign(input);
  const res = await ctx.store.create(
    spec,
    image,
    {
      plan: JSON.stringify(plan),
      targetVersion: String(targetVersion),
      ruleVersion: String(spec.fragmentation.ts004Version),
      ...(deltas ? { images: serialiseImages(deltas.images) } : {}),
    },
    deltas?.bytes,
  );
  if (res.created) {
    await ctx.store.addEvent(res.id, { type: 'plan', ...plan, ...(deltas ? { deltas: deltas.savings } : {}) });
    await scheduleAdvance(ctx.queue, res.id, 0);
  }
  return res;
}
