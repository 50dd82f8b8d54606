/** The device profiles a campaign step needs to put devices into multicast groups, read from ChirpStack. */
import type { ProfileFacts } from '../../src/campaign/grouping.js';
import type { WorkerContext } from '../context.js';
import { pMap } from './pmap.js';

/** Profiles by device; a device whose profile cannot be read is left out (the step then uses the spec's region and class). */
export async function profilesFor(ctx: WorkerContext, devEuis: readonly string[]): Promise<Map<string, ProfileFacts>> {
  const out = new Map<string, ProfileFacts>();
  if (devEuis.length === 0) return out;
  const byProfile = new Map<string, Promise<ProfileFacts | undefined>>();
  await pMap([...devEuis], 16, async (eui) => {
    try {
      const dev = await ctx.chirpstack.getDevice(eui);
      let p = byProfile.get(dev.deviceProfileId);
      if (!p) {
        p = ctx.chirpstack.getDeviceProfile(dev.deviceProfileId).then(
          (x) => ({ region: x.region, supportsClassB: x.supportsClassB, supportsClassC: x.supportsClassC, macVersion: x.macVersion }) as ProfileFacts,
          () => undefined,
        );
        byProfile.set(dev.deviceProfileId, p);
      }
      const facts = await p;
      if (facts) out.set(eui, facts);
    } catch (e) {
      ctx.log.warn({ devEui: eui, err: (e as Error).message }, 'device profile not read; the campaign spec decides its group');
    }
  });
  return out;
}
