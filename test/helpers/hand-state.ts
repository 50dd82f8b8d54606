/** Hand-built campaign states for unit tests of `step` (parsed through the store's one parser). */
import { planCampaign } from '../../src/campaign/planner.js';
import type { DeviceState, Stage } from '../../src/campaign/model.js';
import { parseCampaignSpec, type CampaignSpecInput } from '../../src/campaign/schema.js';
import type { CampaignState } from '../../src/campaign/state.js';
import { parseCampaignState } from '../../src/store/campaign-state.js';

export const NOW = Date.parse('2026-01-05T12:00:00Z');
export const euiOf = (i: number) => (0x70b3d57ed0000000n + BigInt(i)).toString(16);

export function handSpec(devices: number, over: Partial<CampaignSpecInput> = {}): CampaignSpecInput {
  return {
    name: 'unit',
    applicationId: 'app',
    imageBase64: 'AA==',
    publicKeys: ['k'],
    deviceClass: 'c',
    devices: Array.from({ length: devices }, (_, i) => ({ devEui: euiOf(i) })),
    fragmentation: { maxRepairRounds: 6, initialRedundancyPercent: 10, maxRedundancyPercent: 100 },
    timing: { uplinkIntervalS: 60, unicastRetries: 3, rebootDelayS: 30 },
    ...over,
  };
}

/** A state at `stage` with the given pipeline fields (hash field names, as the store keeps them). */
export function handState(stage: Stage, o: { devices?: number; data?: Record<string, string | number>; spec?: Partial<CampaignSpecInput>; imageBytes?: number } = {}): CampaignState {
  const spec = parseCampaignSpec(handSpec(o.devices ?? 4, o.spec));
  const plan = planCampaign({
    imageBytes: o.imageBytes ?? 2000,
    region: spec.multicast.region,
    dr: spec.multicast.dr,
    frequencyHz: spec.multicast.frequencyHz,
    groupType: spec.multicast.groupType === 'B' ? 'B' : 'C',
    classBPeriodicity: spec.multicast.classBPeriodicity,
    gatewayCount: 1,
    fragSize: 100,
    initialRedundancyPercent: spec.fragmentation.initialRedundancyPercent,
    maxRedundancyPercent: spec.fragmentation.maxRedundancyPercent,
    blockAckDelay: spec.fragmentation.blockAckDelay,
    maxRepairRounds: spec.fragmentation.maxRepairRounds,
    uplinkIntervalS: spec.timing.uplinkIntervalS,
    unicastRetries: spec.timing.unicastRetries,
    rebootDelayS: spec.timing.rebootDelayS,
    classCMarginMs: spec.multicast.classCMarginMs,
  });
  const { imageBase64: _i, ...stored } = spec;
  const data: Record<string, string> = {
    plan: JSON.stringify(plan),
    targetVersion: String(0x01010000),
    ruleVersion: String(spec.fragmentation.ts004Version),
    mcAddr: String(0x01ab23cd),
    mcKey: '0123456789abcdef0123456789abcdef',
    groupId: 'group-1',
    startedAtMs: String(NOW - 3600_000),
  };
  for (const [k, v] of Object.entries(o.data ?? {})) data[k] = String(v);
  return parseCampaignState({ id: 'c1', name: 'unit', stage, createdAt: NOW, updatedAt: NOW, spec: stored, data });
}

/** `n` devices in the same state. */
export function handDevices(n: number, st: Partial<DeviceState> & Pick<DeviceState, 'p'>): Map<string, DeviceState> {
  return new Map(Array.from({ length: n }, (_, i) => [euiOf(i), { s: 'Pending', t: NOW - 60_000, lw: '1.0', ...st } as DeviceState]));
}
