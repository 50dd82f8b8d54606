/**
 * What a campaign step asks the outside world to do. The step (`step.ts`) only returns these; the worker carries
 * them out against ChirpStack (the test harness against the simulated one) and folds their results back with the
 * functions of `landing.ts`.
 */
import type { AnyCommand, PackageName } from '../codec/frame.js';
import type { RegionName } from '../codec/region.js';

/** Index of the campaign's multicast group the effect is about (always 0 while a campaign has one group). */
export type GroupIndex = number;

export interface CreateGroupParams {
  name: string;
  applicationId: string;
  region: RegionName;
  mcAddr: number;
  mcAppSKey: Uint8Array;
  mcNwkSKey: Uint8Array;
  groupType: 'CLASS_B' | 'CLASS_C';
  dr: number;
  frequencyHz: number;
  pingSlotPeriodicity?: number;
}

export type Effect =
  /** Read the devices' profiles and report those that would compete with the service (result: warnings). */
  | { kind: 'checkProfiles'; devEuis: string[]; groupType: 'CLASS_B' | 'CLASS_C' }
  /** Create the ChirpStack multicast group (unless the group already has an id), result: its id. */
  | { kind: 'createGroup'; group: GroupIndex; params: CreateGroupParams }
  /** Add devices and gateways to the group (an "already exists" answer is success); result: the group's f_cnt. */
  | { kind: 'fillGroup'; group: GroupIndex; devEuis: string[]; gatewayIds: string[] }
  /**
   * A unicast request the device's state records as outstanding (`o`). `retry`: it may already be queued (an
   * earlier attempt, or one cut short): enqueue only when the device queue does not hold it.
   */
  | { kind: 'unicast'; devEui: string; pkg: PackageName; port: number; commands: AnyCommand[]; hex: string; retry: boolean }
  /** A fire-and-forget unicast answer (FragDataBlockReceivedAns) or a clean-up request on cancel. */
  | { kind: 'reply'; devEui: string; pkg: PackageName; port: number; commands: AnyCommand[]; hex: string }
  /**
   * Multicast DataFragment N of the group's block (the worker encodes it with the group's FEC encoder), to be
   * dropped by ChirpStack if it has not left by `expiresAtMs` (absent: no expiry).
   */
  | { kind: 'fragment'; group: GroupIndex; n: number; expiresAtMs?: number }
  /** Multicast FragSessionStatusReq, asked at `at`. */
  | { kind: 'statusRequest'; group: GroupIndex; at: number; commands: AnyCommand[]; hex: string }
  /** Drop whatever ChirpStack still has queued for a device. */
  | { kind: 'flushDeviceQueue'; devEui: string }
  /** Delete the group (flushing its queue first; "not found" is success). */
  | { kind: 'deleteGroup'; group: GroupIndex; groupId: string }
  /** Drop what a finished campaign no longer needs (answers, image, per-device events). */
  | { kind: 'release' };

/** Effects that bracket themselves through the state (device `o`, group `mcPending`): not kept as intents. */
export function isSelfBracketed(e: Effect): boolean {
  return e.kind === 'unicast' || e.kind === 'fragment' || e.kind === 'statusRequest' || e.kind === 'createGroup' || e.kind === 'fillGroup' || e.kind === 'checkProfiles';
}
