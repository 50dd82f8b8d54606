/**
 * TS006 Firmware Management Protocol v1 (TS006-1.0.0; docs/protocol.md §7). Default FPort 203. Versions are opaque u32 values.
 *
 * | CID  | Downlink (size after CID)        | Uplink (size after CID)                          |
 * |------|----------------------------------|--------------------------------------------------|
 * | 0x00 | PackageVersionReq (0)            | PackageVersionAns (2)                            |
 * | 0x01 | DevVersionReq (0)                | DevVersionAns (8)                                |
 * | 0x02 | DevRebootTimeReq (4)             | DevRebootTimeAns (4)                             |
 * | 0x03 | DevRebootCountdownReq (3)        | DevRebootCountdownAns (3)                        |
 * | 0x04 | DevUpgradeImageReq (0)           | DevUpgradeImageAns (5 if status 3, else 1)       |
 * | 0x05 | DevDeleteImageReq (4)            | DevDeleteImageAns (1)                            |
 */
import { packageVersionAns, packageVersionReq, type PackageVersionAns, type PackageVersionReq } from './package-version.js';
import { bit, spec, type CommandSpec } from './wire.js';

/** UpImageStatus values of DevUpgradeImageAns. */
export const UP_IMAGE_STATUS = { noImage: 0, corrupt: 1, wrongHardware: 2, valid: 3 } as const;

export interface DevVersionReq {
  type: 'DevVersionReq';
}
export interface DevVersionAns {
  type: 'DevVersionAns';
  fwVersion: number;
  hwVersion: number;
}
export interface DevRebootTimeReq {
  type: 'DevRebootTimeReq';
  /** GPS seconds u32; 0 = ASAP, 0xFFFFFFFF = cancel. */
  rebootTime: number;
}
export interface DevRebootTimeAns {
  type: 'DevRebootTimeAns';
  /** Seconds from this uplink to the reboot; 0 = error, 0xFFFFFFFF = cancel acknowledged. */
  rebootTime: number;
}
export interface DevRebootCountdownReq {
  type: 'DevRebootCountdownReq';
  /** u24 seconds; 0 = ASAP, 0xFFFFFF = cancel. */
  countdown: number;
}
export interface DevRebootCountdownAns {
  type: 'DevRebootCountdownAns';
  /** u24 seconds remaining; 0 = error, 0xFFFFFF = cancel acknowledged. */
  countdown: number;
}
export interface DevUpgradeImageReq {
  type: 'DevUpgradeImageReq';
}
export interface DevUpgradeImageAns {
  type: 'DevUpgradeImageAns';
  /** 0 no image, 1 corrupt / bad signature, 2 wrong hardware, 3 valid. */
  status: number;
  /** Present iff status = 3. */
  nextFirmwareVersion?: number;
}
export interface DevDeleteImageReq {
  type: 'DevDeleteImageReq';
  firmwareToDeleteVersion: number;
}
export interface DevDeleteImageAns {
  type: 'DevDeleteImageAns';
  errorInvalidVersion: boolean;
  errorNoValidImage: boolean;
}

export type Ts006Downlink =
  | PackageVersionReq
  | DevVersionReq
  | DevRebootTimeReq
  | DevRebootCountdownReq
  | DevUpgradeImageReq
  | DevDeleteImageReq;
export type Ts006Uplink =
  | PackageVersionAns
  | DevVersionAns
  | DevRebootTimeAns
  | DevRebootCountdownAns
  | DevUpgradeImageAns
  | DevDeleteImageAns;
export type Ts006Command = Ts006Downlink | Ts006Uplink;

export const TS006_DOWNLINK: CommandSpec[] = [
  packageVersionReq,
  spec<DevVersionReq>({ cid: 0x01, type: 'DevVersionReq', encode: () => {}, decode: () => ({ type: 'DevVersionReq' }) }),
  spec<DevRebootTimeReq>({
    cid: 0x02,
    type: 'DevRebootTimeReq',
    encode: (c, w) => w.u32('rebootTime', c.rebootTime),
    decode: (r) => ({ type: 'DevRebootTimeReq', rebootTime: r.u32('rebootTime') }),
  }),
  spec<DevRebootCountdownReq>({
    cid: 0x03,
    type: 'DevRebootCountdownReq',
    encode: (c, w) => w.u24('countdown', c.countdown),
    decode: (r) => ({ type: 'DevRebootCountdownReq', countdown: r.u24('countdown') }),
  }),
  spec<DevUpgradeImageReq>({ cid: 0x04, type: 'DevUpgradeImageReq', encode: () => {}, decode: () => ({ type: 'DevUpgradeImageReq' }) }),
  spec<DevDeleteImageReq>({
    cid: 0x05,
    type: 'DevDeleteImageReq',
    encode: (c, w) => w.u32('firmwareToDeleteVersion', c.firmwareToDeleteVersion),
    decode: (r) => ({ type: 'DevDeleteImageReq', firmwareToDeleteVersion: r.u32('firmwareToDeleteVersion') }),
  }),
];

export const TS006_UPLINK: CommandSpec[] = [
  packageVersionAns,
  spec<DevVersionAns>({
    cid: 0x01,
    type: 'DevVersionAns',
    encode: (c, w) => w.u32('fwVersion', c.fwVersion).u32('hwVersion', c.hwVersion),
    decode: (r) => ({ type: 'DevVersionAns', fwVersion: r.u32('fwVersion'), hwVersion: r.u32('hwVersion') }),
  }),
  spec<DevRebootTimeAns>({
    cid: 0x02,
    type: 'DevRebootTimeAns',
    encode: (c, w) => w.u32('rebootTime', c.rebootTime),
    decode: (r) => ({ type: 'DevRebootTimeAns', rebootTime: r.u32('rebootTime') }),
  }),
  spec<DevRebootCountdownAns>({
    cid: 0x03,
    type: 'DevRebootCountdownAns',
    encode: (c, w) => w.u24('countdown', c.countdown),
    decode: (r) => ({ type: 'DevRebootCountdownAns', countdown: r.u24('countdown') }),
  }),
  spec<DevUpgradeImageAns>({
    cid: 0x04,
    type: 'DevUpgradeImageAns',
    encode: (c, w) => {
      if (c.status > UP_IMAGE_STATUS.valid) w.fail('status', `must be 0..3, got ${c.status}`);
      w.u8('status', c.status);
      const valid = c.status === UP_IMAGE_STATUS.valid;
      if (valid !== (c.nextFirmwareVersion !== undefined)) {
        w.fail('nextFirmwareVersion', valid ? 'required when status is 3' : 'only allowed when status is 3');
      }
      if (c.nextFirmwareVersion !== undefined) w.u32('nextFirmwareVersion', c.nextFirmwareVersion);
    },
    decode: (r) => {
      const at = r.pos;
      const status = r.u8('status');
      if (status > UP_IMAGE_STATUS.valid) r.fail('status', `UpImageStatus must be 0..3, got ${status}`, at);
      return status === UP_IMAGE_STATUS.valid
        ? { type: 'DevUpgradeImageAns', status, nextFirmwareVersion: r.u32('nextFirmwareVersion') }
        : { type: 'DevUpgradeImageAns', status };
    },
  }),
  spec<DevDeleteImageAns>({
    cid: 0x05,
    type: 'DevDeleteImageAns',
    encode: (c, w) =>
      w.bits([
        ['errorNoValidImage', c.errorNoValidImage, 1, 0],
        ['errorInvalidVersion', c.errorInvalidVersion, 1, 1],
      ]),
    decode: (r) => {
      const b = r.u8('status');
      return { type: 'DevDeleteImageAns', errorNoValidImage: bit(b, 0), errorInvalidVersion: bit(b, 1) };
    },
  }),
];
