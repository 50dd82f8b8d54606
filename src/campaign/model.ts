/**
 * Campaign and per-device state as the pipeline keeps it in Redis.
 */

/** Pipeline stages, in order. A campaign only moves forward; `cancelled`/`failed`/`done` are final. */
export const STAGES = [
  'prepare',
  'group',
  'setup',
  'session',
  'broadcast',
  'status',
  'apply',
  'cleanup',
  'done',
] as const;
export type Stage = (typeof STAGES)[number] | 'cancelled' | 'failed';

export const FINAL_STAGES: readonly Stage[] = ['done', 'cancelled', 'failed'];

/** Per-device outcome. `Pending` until the device reaches a final status. */
export const DEVICE_STATUSES = [
  'Pending',
  'PackageNotSupported',
  'FragAlgoUnsupported',
  'NotEnoughMemory',
  'FragIndexUnsupported',
  'WrongDescriptor',
  'SessionCntReplay',
  'McGroupError',
  'SessionError',
  'MissingFragments',
  'MICError',
  'ImageRejected',
  'Timeout',
  'Cancelled',
  'Updated',
] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** Where a still-pending device is in its own sequence of unicast exchanges. */
export const DEVICE_PHASES = [
  'discover', // PackageVersionReq on TS005/TS004/TS006 ports + McGroupSetupReq
  'fragSetup', // FragSessionSetupReq
  'ready', // set up, waiting for the session request
  'session', // McClassCSessionReq / McClassBSessionReq sent
  'listening', // session accepted; receiving fragments
  'complete', // reassembled (status or FragDataBlockReceivedReq says so)
  'upgrade', // DevUpgradeImageReq sent
  'reboot', // DevRebootCountdownReq sent
  'verify', // DevVersionReq sent after the reboot
  'cleanup', // FragSessionDeleteReq / McGroupDeleteReq sent
  'final',
] as const;
export type DevicePhase = (typeof DEVICE_PHASES)[number];

/** Compact per-device record (stored as JSON in one hash field per device; keep it small). */
export interface DeviceState {
  /** Phase. */
  p: DevicePhase;
  /** Status. */
  s: DeviceStatus;
  /** Reason for the status (free text, short). */
  r?: string;
  /** Time of the last status/phase change (ms). */
  t: number;
  /** Package versions seen: [ts003, ts004, ts005, ts006] (0 = unknown). */
  v?: [number, number, number, number];
  /** Outstanding unicast request: port, hex, when first sent, attempts, and whether the enqueue is known to have landed. */
  o?: { port: number; hex: string; at: number; n: number; ok: boolean };
  /** LoRaWAN version of the device ('1.0' | '1.1'). */
  lw: '1.0' | '1.1';
  /** TS004 v2 SessionCnt used for this device. */
  sc?: number;
  /** Last FragSessionStatusAns: [nbFragReceived, missingFrag, flags bitmask, highest N sent when asked]. */
  fs?: [number, number, number, number];
  /** The FragSessionStatusAns before that: [nbFragReceived, missingFrag, highest N sent when asked]. */
  pf?: [number, number, number];
  /** TimeToStart reported (s) and the uplink time it came with (ms). */
  tts?: [number, number];
  /** Firmware version last reported by DevVersionAns (u32). */
  fw?: number;
  /** Not before this time (ms): the device is rebooting. */
  w?: number;
  /** Session requests re-sent after StartMissed / McGroupUndefined or a clock error. */
  sr?: number;
  /** The device's clock error (s, positive = behind) measured from its TimeToStart. */
  sk?: number;
  /** How often DevUpgradeImageAns said "no image" although the status counters suggested completion. */
  np?: number;
  /** Clean-up answers received: bit 0 FragSessionDeleteAns, bit 1 McGroupDeleteAns. */
  cl?: number;
  /** Index of the campaign's multicast group the device is in (src/campaign/grouping.ts), once its key is known. */
  g?: number;
}
