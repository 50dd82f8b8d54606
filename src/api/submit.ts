/**
 * Submission: validate the spec, verify the image, plan, store, and start the pipeline. Shared by the gRPC API,
 * the CLI and the BullMQ `submit` job. Nothing is stored when any check fails.
 */
import type { Queue } from 'bullmq';
import { parseCampaignSpec } from '../campaign/schema.js';
import type { CampaignStore } from '../store/campaign-store.js';
import { scheduleAdvance } from '../store/queue.js';

export interface SubmitContext {
  store: CampaignStore;
  queue: Queue;
}

export async function submitCampaign(ctx: SubmitContext, input: unknown): Promise<{ id: string; created: boolean }> {
  const spec = parseCampaignSpec(input);
  const image = new Uint8Array(Buffer.from(spec.imageBase64, 'base64'));
  // TODO(lead): verify the image and plan before storing (image + planner modules).
  const res = await ctx.store.create(spec, image);
  if (res.created) await scheduleAdvance(ctx.queue, res.id, 0);
  return res;
}
