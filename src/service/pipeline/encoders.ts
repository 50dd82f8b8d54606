/** FEC encoders of the campaigns this worker is running, built once from the stored image. */
import { createFecEncoder, type FecEncoder } from '../../codec/fec.js';
import type { GroupState } from '../../campaign/state.js';
import type { WorkerContext } from '../context.js';

const encoders = new Map<string, FecEncoder>();

/** Forgets a finished campaign's encoders. */
export function dropEncoder(id: string): void {
  for (const k of [...encoders.keys()]) if (k === id || k.startsWith(`${id}#`)) encoders.delete(k);
}

/** The encoder of group `gi` of a campaign (groups differ in fragment size and parity rule). */
export async function encoderFor(ctx: WorkerContext, id: string, g: GroupState, gi = 0): Promise<FecEncoder> {
  const key = gi === 0 ? id : `${id}#${gi}`;
  let e = encoders.get(key);
  if (!e) {
    // A delta group's fragments carry the delta for its base (src/campaign/images.ts), the others the full image.
    const image = g.key.base === undefined ? await ctx.store.image(id) : await ctx.store.deltaImage(id, g.key.base);
    if (!image) throw new Error(`image: missing for campaign ${id}${g.key.base === undefined ? '' : ` (delta for base ${g.key.base})`}`);
    e = createFecEncoder(image, { fragSize: g.plan.fragSize, rule: g.ruleVersion });
    encoders.set(key, e);
  }
  return e;
}
