/**
 * Device firmware profiles: which real stack a simulated device imitates. Each flag is one observed behaviour that a
 * server has to cope with (docs/protocol.md §9). The tables are shared read-only by every device.
 */
export type ProfileName = 'loramac-node' | 'lbm';

export interface DeviceProfile {
  readonly name: ProfileName;
  /** Highest TS003/TS004/TS005 version the stack implements (LoRaMac-node master: v1 only). */
  readonly maxPackageVersion: 1 | 2;
  /** AppTimeReq AnsRequired bit (LoRaMac-node never sets it). */
  readonly appTimeAnsRequired: boolean;
  /** DeviceAppTimePeriodicityReq is answered NotSupported (LoRaMac-node). */
  readonly periodicityNotSupported: boolean;
  /** Before the first AppTimeAns the device clock counts uptime from boot instead of GPS time (LBM). */
  readonly uptimeClockUntilSynced: boolean;
  /** A session start in the past or now is answered McGroupUndefined instead of StartMissed (LoRaMac-node). */
  readonly pastSessionAsUndefined: boolean;
  /** A Class B session request opens a Class C session with the Class C timeout rule (LoRaMac-node). */
  readonly classBAsClassC: boolean;
  /** McGroupSetupReq with minMcFCnt > maxMcFCnt or McAddr 0 is acknowledged but not applied (LBM). */
  readonly ignoresInvalidGroupSetup: boolean;
  /** TimeToStart: 'truncate' = low 24 bits (LoRaMac-node); 'saturate' = 0xFFFFFF cap and when unsynchronised (LBM). */
  readonly timeToStart: 'truncate' | 'saturate';
  /** McGroupStatusReq: 'unimplemented' = its mask byte is executed as a command (LoRaMac-node); else answer ≤ N groups. */
  readonly groupStatus: 'unimplemented' | { readonly maxGroups: number };
  /** Commands on multicast ports 200/202/203 (and TS004 setup/delete) are executed and answered (LoRaMac-node). */
  readonly executesMulticastCommands: boolean;
  /** Multicast fragments are accepted only from groups enabled in McGroupBitMask (LBM). */
  readonly enforcesGroupMask: boolean;
  /** FragSessionStatusAns NbFragReceived: 'lastN' (LoRaMac-node) or 'lastNMinusLost' (LBM). */
  readonly nbFragReceived: 'lastN' | 'lastNMinusLost';
  /** MissingFrag: 'cumulative' uncoded losses seen, 8-bit (LoRaMac-node) or 'unrecovered' with the lossless quirk (LBM). */
  readonly missingFrag: 'cumulative' | 'unrecovered';
  /** A v2 status answer is always 4 bytes, also when the session does not exist (LBM). */
  readonly statusAnsAlwaysLong: boolean;
  /** The completion callback fires even when the decoder ran out of matrix memory (LoRaMac-node). */
  readonly completesOnMemoryError: boolean;
  /** How many times FragDataBlockReceivedReq is sent when AckReception = 1 (LBM: 3). */
  readonly blockReceivedRepeats: number;
  /** The v2 SessionCnt replay state is lost at reboot (LBM keeps it in RAM). */
  readonly sessionCntInRam: boolean;
  /** Upper bound of the random delay before a TS006 answer, ms (LBM: 3 s). */
  readonly fmpDelayMaxMs: number;
  /** Answer buffer per package in bytes (LBM: 15 for TS004/TS005, 9 for TS006); the uplink size caps it too. */
  readonly answerBuffer: { readonly ts003: number; readonly ts004: number; readonly ts005: number; readonly ts006: number };
}

const UNLIMITED = 242;

export const LORAMAC_NODE: DeviceProfile = Object.freeze({
  name: 'loramac-node',
  maxPackageVersion: 1,
  appTimeAnsRequired: false,
  periodicityNotSupported: true,
  uptimeClockUntilSynced: false,
  pastSessionAsUndefined: true,
  classBAsClassC: true,
  ignoresInvalidGroupSetup: false,
  timeToStart: 'truncate',
  groupStatus: 'unimplemented',
  executesMulticastCommands: true,
  enforcesGroupMask: false,
  nbFragReceived: 'lastN',
  missingFrag: 'cumulative',
  statusAnsAlwaysLong: false,
  completesOnMemoryError: true,
  blockReceivedRepeats: 1,
  sessionCntInRam: false,
  fmpDelayMaxMs: 0,
  answerBuffer: Object.freeze({ ts003: UNLIMITED, ts004: UNLIMITED, ts005: UNLIMITED, ts006: UNLIMITED }),
} as const);

export const LBM: DeviceProfile = Object.freeze({
  name: 'lbm',
  maxPackageVersion: 2,
  appTimeAnsRequired: true,
  periodicityNotSupported: false,
  uptimeClockUntilSynced: true,
  pastSessionAsUndefined: false,
  classBAsClassC: false,
  ignoresInvalidGroupSetup: true,
  timeToStart: 'saturate',
  groupStatus: Object.freeze({ maxGroups: 2 }),
  executesMulticastCommands: false,
  enforcesGroupMask: true,
  nbFragReceived: 'lastNMinusLost',
  missingFrag: 'unrecovered',
  statusAnsAlwaysLong: true,
  completesOnMemoryError: false,
  blockReceivedRepeats: 3,
  sessionCntInRam: true,
  fmpDelayMaxMs: 3000,
  answerBuffer: Object.freeze({ ts003: UNLIMITED, ts004: 15, ts005: 15, ts006: 9 }),
} as const);

export function profileByName(name: string): DeviceProfile {
  if (name === 'loramac-node') return LORAMAC_NODE;
  if (name === 'lbm') return LBM;
  throw new RangeError(`profile: unknown device profile '${name}' (expected 'loramac-node' or 'lbm')`);
}
