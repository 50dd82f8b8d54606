/** FEC encoders of the campaigns this worker is running, built once from the stored image. */
import { createFecEncoder, type FecEncoder } from '../../src/codec/fec.js';
import type { Plan } from '../../src/campaign/planner.js';
import type { CampaignRecord } from '../../src/store/campaign-store.js';
import type { WorkerContext } from '../context.js';

const encoders = new Map<string, FecEncoder>();

/** Forgets a finished campaign's encoder. */
export function dropEncoder(id: string): void {
  encoders.delete(id);
}

export async function encoderFor(ctx: WorkerContext, c: CampaignRecord, plan: Plan): Promise<FecEncoder> {
  let e = encoders.get(c.id);
  if (!e) {
    const image = await ctx.store.image(c.id);
    if (!image) throw new Error(`image: missing for campaign ${c.id}`);
    e = createFecEncoder(image, { fragSize: plan.fragSize, rule: Number(c.data.ruleVersion ?? 1) as 1 | 2 });
    encoders.set(c.id, e);
  }
  return e;
}
