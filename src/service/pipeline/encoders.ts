/** FEC encoders of the campaigns this worker is running, built once from the stored image. */
import { createFecEncoder, type FecEncoder } from '../../codec/fec.js';
import type { GroupState } from '../../campaign/state.js';
import type { WorkerContext } from '../context.js';

const encoders = new Map<string, FecEncoder>();

/** Forgets a finished campaign's encoder. */
export function dropEncoder(id: string): void {
  encoders.delete(id);
}

export async function encoderFor(ctx: WorkerContext, id: string, g: GroupState): Promise<FecEncoder> {
  let e = encoders.get(id);
  if (!e) {
    const image = await ctx.store.image(id);
    if (!image) throw new Error(`image: missing for campaign ${id}`);
    e = createFecEncoder(image, { fragSize: g.plan.fragSize, rule: g.ruleVersion });
    encoders.set(id, e);
  }
  return e;
}
