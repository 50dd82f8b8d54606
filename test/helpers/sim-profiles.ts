/** The device profiles a campaign step asks for, read from the simulated ChirpStack (as the worker reads them). */
import type { ProfileFacts } from '../../src/campaign/grouping.js';
import type { SimChirpStack } from '../../src/sim/chirpstack-server.js';

export function profilesOf(cs: SimChirpStack, devEuis: readonly string[]): Map<string, ProfileFacts> {
  const out = new Map<string, ProfileFacts>();
  for (const eui of devEuis) {
    const dev = cs.devices.get(eui);
    const p = dev ? cs.profiles.get(dev.deviceProfileId) : undefined;
    if (p) out.set(eui, { region: p.region, supportsClassB: p.supportsClassB, supportsClassC: p.supportsClassC, macVersion: p.macVersion });
  }
  return out;
}
