/**
 * A fleet in several device profiles behind several gateways, on the pipeline harness: after the harness built
 * its simulated ChirpStack (one EU868 gateway, one profile), more gateways are added and each device is moved to
 * the profile `profileOf` picks for it.
 */
import type { SimDeviceProfile } from '../../src/sim/chirpstack-server.js';
import type { RegionName } from '../../src/codec/region.js';
import { PipelineHarness, type HarnessOptions } from './pipeline-harness.js';

export const EU_GATEWAY = '0016c001f153a14c';

export interface SplitFleetOptions extends HarnessOptions {
  gateways?: { gatewayId: string; region: RegionName; gps?: boolean; enforceDutyCycle?: boolean }[];
  profiles: Record<string, Partial<Omit<SimDeviceProfile, 'id' | 'name'>>>;
  /** Profile name of device i (whose firmware stack is `stack`). */
  profileOf: (i: number, stack: string) => string;
  /** The simulated ChirpStack runs its regions' 400 ms dwell-time limit. */
  dwellTime?: boolean;
}

export function splitFleetHarness(o: SplitFleetOptions): { h: PipelineHarness; profileOf: Map<string, string> } {
  const h = new PipelineHarness(o);
  for (const gw of o.gateways ?? []) h.cs.createGateway({ gps: true, enforceDutyCycle: false, ...gw });
  if (o.dwellTime) h.cs.dwellTime = true;
  const ids = new Map<string, string>();
  for (const [name, p] of Object.entries(o.profiles)) ids.set(name, h.cs.createDeviceProfile({ name, macVersion: '1.0.3', ...p }));
  const profileOf = new Map<string, string>();
  h.sim.forEach((d, i) => {
    const name = o.profileOf(i, h.stacks.get(d.devEui)!);
    const rec = h.cs.devices.get(d.devEui)!;
    rec.deviceProfileId = ids.get(name)!;
    profileOf.set(d.devEui, name);
  });
  return { h, profileOf };
}
