/** Root keys of the devices a step needs key material for, read from ChirpStack and cached per process. */
import { isRetryable } from '../../chirpstack/call.js';
import { rootKeyFor } from '../../chirpstack/keys.js';
import type { CampaignState } from '../../campaign/state.js';
import type { WorkerContext } from '../context.js';
import { pMap } from './pmap.js';

async function fetchKeys(ctx: WorkerContext, c: CampaignState, euis: string[]): Promise<void> {
  const need = euis.filter((e) => !ctx.rootKeys.has(e));
  const lw = new Map(c.spec.devices.map((d) => [d.devEui, d.lorawan]));
  await pMap(need, 16, async (eui) => {
    const keys = await ctx.chirpstack.getDeviceKeys(eui);
    const root = rootKeyFor(keys, lw.get(eui) === '1.1' ? '1.1.0' : '1.0.3');
    ctx.rootKeys.set(eui, Buffer.from(root.keyHex, 'hex'));
  });
}

/** The root keys of `euis`, and the read error of each device whose key could not be had. */
export async function rootKeysFor(
  ctx: WorkerContext,
  c: CampaignState,
  euis: string[],
): Promise<{ rootKeys: Map<string, Uint8Array>; keyErrors: Map<string, string> }> {
  const keyErrors = new Map<string, string>();
  try {
    await fetchKeys(ctx, c, euis);
  } catch (e) {
    // One device's missing key must not stop the others: retry per device to find which.
    for (const eui of euis) {
      try {
        await fetchKeys(ctx, c, [eui]);
      } catch (err) {
        // ChirpStack unreachable is not the device's fault: the step fails and is retried (bounded, see advance.ts).
        if (isRetryable(err)) throw err;
        keyErrors.set(eui, (err as Error).message);
      }
    }
    ctx.log.warn({ err: (e as Error).message }, 'device keys');
  }
  const rootKeys = new Map<string, Uint8Array>();
  for (const eui of euis) {
    const k = ctx.rootKeys.get(eui);
    if (k) rootKeys.set(eui, k);
  }
  return { rootKeys, keyErrors };
}
