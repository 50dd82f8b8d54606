/** A delta campaign's delta images, read from the store for the step that needs them (a v2 FragSessionSetupReq MIC). */
import type { CampaignImages } from '../../campaign/images.js';
import type { WorkerContext } from '../context.js';

export async function deltaImagesOf(ctx: WorkerContext, id: string, images: CampaignImages): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  for (const d of images.deltas) {
    const bytes = await ctx.store.deltaImage(id, d.baseVersion);
    if (bytes) out.set(d.baseVersion, bytes);
  }
  return out;
}
