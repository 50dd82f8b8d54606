/**
 * Device-profile warnings before a campaign (docs/protocol.md §8, pitfalls).
 *
 * - An application-layer version other than NOT_IMPLEMENTED makes ChirpStack answer AppTimeReq itself or run its
 *   own TS004/TS005 state machine next to the service's.
 * - ChirpStack v4 sets a LoRaWAN 1.0.x device whose profile has `supports_class_c` to Class C at its join and from
 *   then on sends its unicast downlinks at once on RX2, without waiting for an uplink. A fleet that is Class A
 *   between sessions and opens Class C only for the multicast session (TS005 McClassCSessionReq) would miss the
 *   set-up requests sent that way. Multicast itself needs no device-class flag in the profile (ChirpStack's own
 *   FUOTA does not ask for one), so the flag is never asked for; it is warned about on 1.0.x profiles.
 * - `supports_class_b` is likewise not needed for a Class B multicast group (ChirpStack schedules the group's ping
 *   slots from the group itself).
 */
import type { DeviceProfileInfo, MulticastGroupType } from './types.js';

export function profileWarnings(p: DeviceProfileInfo, _groupType: MulticastGroupType = 'CLASS_C'): string[] {
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
  if (p.supportsClassC && p.macVersion.startsWith('1.0')) {
    out.push(
      `device profile ${p.id}: supports_class_c is set on a LoRaWAN ${p.macVersion} profile, so ChirpStack treats these devices as Class C from their join ` +
        'and sends their unicast set-up requests at once, which devices that are Class A between sessions miss; clear it unless the devices are always Class C (multicast does not need it)',
    );
  }
  return out;
}
