/**
 * TS003 Application Layer Clock Synchronization, v1 and v2 (TS003-2.0.0 §3; docs/protocol.md §2). Default FPort 202.
 * The byte layouts are the same in both versions; v2 renames ForceDeviceResyncReq to ForceDeviceResyncCmd.
 *
 * | CID  | Downlink (size after CID)            | Uplink (size after CID)               |
 * |------|--------------------------------------|---------------------------------------|
 * | 0x00 | PackageVersionReq (0)                | PackageVersionAns (2)                 |
 * | 0x01 | AppTimeAns (5)                       | AppTimeReq (5)                        |
 * | 0x02 | DeviceAppTimePeriodicityReq (1)      | DeviceAppTimePeriodicityAns (5)       |
 * | 0x03 | ForceDeviceResyncReq/Cmd (1)         | —                                     |
 */
import { packageVersionAns, packageVersionReq, type PackageVersionAns, type PackageVersionReq } from './package-version.js';
import { bit, spec } from './wire.js';

/** UL: the device's GPS time (u32) and its token; AnsRequired asks for an answer even when the correction is 0. */
export interface AppTimeReq {
  type: 'AppTimeReq';
  deviceTime: number;
  ansRequired: boolean;
  tokenReq: number;
}
/** DL: signed seconds the device adds to its clock, echoing TokenReq. */
export interface AppTimeAns {
  type: 'AppTimeAns';
  timeCorrection: number;
  tokenAns: number;
}
/** DL: resync every 128·2^period seconds. */
export interface DeviceAppTimePeriodicityReq {
  type: 'DeviceAppTimePeriodicityReq';
  period: number;
}
export interface DeviceAppTimePeriodicityAns {
  type: 'DeviceAppTimePeriodicityAns';
  notSupported: boolean;
  /** Device GPS time, u32. */
  time: number;
}
export interface ForceDeviceResyncReq {
  type: 'ForceDeviceResyncReq';
  nbTransmissions: number;
}
export interface ForceDeviceResyncCmd {
  type: 'ForceDeviceResyncCmd';
  nbTransmissions: number;
}

export type Ts003Downlink =
  | PackageVersionReq
  | AppTimeAns
  | DeviceAppTimePeriodicityReq
  | ForceDeviceResyncReq
  | ForceDeviceResyncCmd;
export type Ts003Uplink = PackageVersionAns | AppTimeReq | DeviceAppTimePeriodicityAns;
export type Ts003Command = Ts003Downlink | Ts003Uplink;

const forceResync = <T extends 'ForceDeviceResyncReq' | 'ForceDeviceResyncCmd'>(type: T, version: 1 | 2) =>
  spec<{ type: T; nbTransmissions: number }>({
    cid: 0x03,
    type,
    versions: [version],
    encode: (c, w) => w.bits([['nbTransmissions', c.nbTransmissions, 3, 0]]),
    decode: (r) => ({ type, nbTransmissions: r.u8('nbTransmissions') & 0x07 }),
  });

export const TS003_DOWNLINK = [
  packageVersionReq,
  spec<AppTimeAns>({
    cid: 0x01,
    type: 'AppTimeAns',
    encode: (c, w) => w.i32('timeCorrection', c.timeCorrection).bits([['tokenAns', c.tokenAns, 4, 0]]),
    decode: (r) => ({ type: 'AppTimeAns', timeCorrection: r.i32('timeCorrection'), tokenAns: r.u8('tokenAns') & 0x0f }),
  }),
  spec<DeviceAppTimePeriodicityReq>({
    cid: 0x02,
    type: 'DeviceAppTimePeriodicityReq',
    encode: (c, w) => w.bits([['period', c.period, 4, 0]]),
    decode: (r) => ({ type: 'DeviceAppTimePeriodicityReq', period: r.u8('period') & 0x0f }),
  }),
  forceResync('ForceDeviceResyncReq', 1),
  forceResync('ForceDeviceResyncCmd', 2),
];

export const TS003_UPLINK = [
  packageVersionAns,
  spec<AppTimeReq>({
    cid: 0x01,
    type: 'AppTimeReq',
    encode: (c, w) =>
      w.u32('deviceTime', c.deviceTime).bits([
        ['tokenReq', c.tokenReq, 4, 0],
        ['ansRequired', c.ansRequired, 1, 4],
      ]),
    decode: (r) => {
      const deviceTime = r.u32('deviceTime');
      const p = r.u8('param');
      return { type: 'AppTimeReq', deviceTime, ansRequired: bit(p, 4), tokenReq: p & 0x0f };
    },
  }),
  spec<DeviceAppTimePeriodicityAns>({
    cid: 0x02,
    type: 'DeviceAppTimePeriodicityAns',
    encode: (c, w) => w.bits([['notSupported', c.notSupported, 1, 0]]).u32('time', c.time),
    decode: (r) => ({ type: 'DeviceAppTimePeriodicityAns', notSupported: bit(r.u8('status'), 0), time: r.u32('time') }),
  }),
];
