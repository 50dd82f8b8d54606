/** Device-profile warnings before a campaign (docs/protocol.md §8, pitfalls). */
import type { DeviceProfileInfo, MulticastGroupType } from './types.js';

export function profileWarnings(p: DeviceProfileInfo, groupType: MulticastGroupType = 'CLASS_C'): string[] {
  const out: string[] = [];
  const pkgs = [
    ['TS003', p.appLayer.ts003Version, 'answers AppTimeReq itself (duplicate AppTimeAns)'],
    ['TS004', p.appLayer.ts004Version, 'runs its own fragmentation state machine'],
    ['TS005', p.appLayer.ts005Version, 'runs its own multicast setup state machine'],
  ] as const;
  for (const [name, version, effect] of pkgs) {
    if (version !== 'NOT_IMPLEMENTED') {
      out.push(`device profile ${p.id}: ${name.toLowerCase()}_version is ${version}, so ChirpStack ${effect}; set it to NOT_IMPLEMENTED`);
    }
  }
  if (groupType === 'CLASS_C' && !p.supportsClassC) out.push(`device profile ${p.id}: supports_class_c is false; Class C multicast sessions need it`);
  if (groupType === 'CLASS_B' && !p.supportsClassB) out.push(`device profile ${p.id}: supports_class_b is false; Class B multicast sessions need it`);
  return out;
}
