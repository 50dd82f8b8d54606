/**
 * TS005 Remote Multicast Setup, v1 and v2 (TS005-2.0.0 §4; docs/protocol.md §5). Default FPort 200. Request layouts are the same in
 * both versions; the session answers differ (v2: bit 5 StartMissed, bits 7:6 reserved errors).
 *
 * | CID  | Downlink (size after CID)     | Uplink (size after CID)                                     |
 * |------|-------------------------------|-------------------------------------------------------------|
 * | 0x00 | PackageVersionReq (0)         | PackageVersionAns (2)                                       |
 * | 0x01 | McGroupStatusReq (1)          | McGroupStatusAns (1 + 5 × popcount(AnsGroupMask))           |
 * | 0x02 | McGroupSetupReq (29)          | McGroupSetupAns (1)                                         |
 * | 0x03 | McGroupDeleteReq (1)          | McGroupDeleteAns (1)                                        |
 * | 0x04 | McClassCSessionReq (10)       | McClassCSessionAns (4 if no error bit, else 1)              |
 * | 0x05 | McClassBSessionReq (10)       | McClassBSessionAns (as class C)                             |
 *
 * Session answers: TimeToStart is present iff status bits 2..7 are zero and at least 3 bytes remain (§11.2).
 * StartMissed (bit 5) is reported in v1 too, because LBM's v1 build sets it. In v2, bits 7:6 set are rejected.
 */
import { packageVersionAns, packageVersionReq, type PackageVersionAns, type PackageVersionReq } from './package-version.js';
import { dlFrequencyToHz, hzToDlFrequency } from './radio-units.js';
import { bit, spec, type CommandSpec, type Reader, type Writer } from './wire.js';

export interface McGroupStatusReq {
  type: 'McGroupStatusReq';
  reqGroupMask: number;
}
export interface McGroupStatusAns {
  type: 'McGroupStatusAns';
  nbTotalGroups: number;
  ansGroupMask: number;
  /** One record per bit of ansGroupMask, ascending McGroupID. */
  groups: { mcGroupId: number; mcAddr: number }[];
}
export interface McGroupSetupReq {
  type: 'McGroupSetupReq';
  mcGroupId: number;
  /** u32 DevAddr value (on air little-endian). */
  mcAddr: number;
  mcKeyEncrypted: Uint8Array;
  minMcFCnt: number;
  maxMcFCnt: number;
}
export interface McGroupSetupAns {
  type: 'McGroupSetupAns';
  mcGroupId: number;
  idError: boolean;
}
export interface McGroupDeleteReq {
  type: 'McGroupDeleteReq';
  mcGroupId: number;
}
export interface McGroupDeleteAns {
  type: 'McGroupDeleteAns';
  mcGroupId: number;
  mcGroupUndefined: boolean;
}
interface SessionReqFields {
  mcGroupId: number;
  /** GPS seconds mod 2^32. */
  sessionTime: number;
  /** Exponent: 2^timeOut s (class C), 128·2^timeOut s (class B). */
  timeOut: number;
  dlFrequencyHz: number;
  dr: number;
}
export interface McClassCSessionReq extends SessionReqFields {
  type: 'McClassCSessionReq';
}
export interface McClassBSessionReq extends SessionReqFields {
  type: 'McClassBSessionReq';
  /** One ping slot every 2^periodicity s. */
  periodicity: number;
}
interface SessionAnsFields {
  mcGroupId: number;
  drError: boolean;
  freqError: boolean;
  mcGroupUndefined: boolean;
  /** Bit 5 (v2; LBM also sets it in its v1 build, so it is decoded in v1 too). */
  startMissed?: boolean;
  /** Seconds to the session start; only in an answer without error bits. v2: 0xFFFFFF = clock not synchronised. */
  timeToStart?: number;
}
export interface McClassCSessionAns extends SessionAnsFields {
  type: 'McClassCSessionAns';
}
export interface McClassBSessionAns extends SessionAnsFields {
  type: 'McClassBSessionAns';
}

export type Ts005Downlink =
  | PackageVersionReq
  | McGroupStatusReq
  | McGroupSetupReq
  | McGroupDeleteReq
  | McClassCSessionReq
  | McClassBSessionReq;
export type Ts005Uplink =
  | PackageVersionAns
  | McGroupStatusAns
  | McGroupSetupAns
  | McGroupDeleteAns
  | McClassCSessionAns
  | McClassBSessionAns;
export type Ts005Command = Ts005Downlink | Ts005Uplink;

const groupHeader = (w: Writer, id: number): Writer => w.bits([['mcGroupId', id, 2, 0]]);
const readGroupId = (r: Reader): number => r.u8('mcGroupId') & 0x03;

function writeSessionReq(c: SessionReqFields, w: Writer, timeOutByte: [string, number, number, number][]): void {
  groupHeader(w, c.mcGroupId).u32('sessionTime', c.sessionTime).bits(timeOutByte);
  w.u24('dlFrequencyHz', hzToDlFrequency(c.dlFrequencyHz, w.command, 'dlFrequencyHz', w.offset)).u8('dr', c.dr);
}

function readSessionReq(r: Reader): SessionReqFields & { timeOutByte: number } {
  const mcGroupId = readGroupId(r);
  const sessionTime = r.u32('sessionTime');
  const timeOutByte = r.u8('sessionTimeOut');
  return { mcGroupId, sessionTime, timeOut: timeOutByte & 0x0f, timeOutByte, dlFrequencyHz: dlFrequencyToHz(r.u24('dlFreq')), dr: r.u8('dr') };
}

function sessionAns<T extends 'McClassCSessionAns' | 'McClassBSessionAns'>(cid: number, type: T, version: 1 | 2) {
  return spec<SessionAnsFields & { type: T }>({
    cid,
    type,
    versions: [version],
    encode: (c, w) => {
      const ok = !c.drError && !c.freqError && !c.mcGroupUndefined && !c.startMissed;
      if (ok !== (c.timeToStart !== undefined)) {
        w.fail('timeToStart', ok ? 'required when no error bit is set' : 'must be absent when an error bit is set');
      }
      w.bits([
        ['mcGroupId', c.mcGroupId, 2, 0],
        ['drError', c.drError, 1, 2],
        ['freqError', c.freqError, 1, 3],
        ['mcGroupUndefined', c.mcGroupUndefined, 1, 4],
        ['startMissed', c.startMissed, 1, 5],
      ]);
      if (c.timeToStart !== undefined) w.u24('timeToStart', c.timeToStart);
    },
    decode: (r) => {
      const at = r.pos;
      const s = r.u8('status');
      if (version === 2 && s & 0xc0) r.fail('status', `reserved error bits 7:6 set (0x${s.toString(16).padStart(2, '0')})`, at);
      const ans: SessionAnsFields & { type: T } = {
        type,
        mcGroupId: s & 0x03,
        drError: bit(s, 2),
        freqError: bit(s, 3),
        mcGroupUndefined: bit(s, 4),
        startMissed: bit(s, 5),
      };
      if ((s & 0xfc) === 0 && r.remaining >= 3) ans.timeToStart = r.u24('timeToStart');
      return ans;
    },
  });
}

export const TS005_DOWNLINK: CommandSpec[] = [
  packageVersionReq,
  spec<McGroupStatusReq>({
    cid: 0x01,
    type: 'McGroupStatusReq',
    encode: (c, w) => w.bits([['reqGroupMask', c.reqGroupMask, 4, 0]]),
    decode: (r) => ({ type: 'McGroupStatusReq', reqGroupMask: r.u8('reqGroupMask') & 0x0f }),
  }),
  spec<McGroupSetupReq>({
    cid: 0x02,
    type: 'McGroupSetupReq',
    encode: (c, w) =>
      groupHeader(w, c.mcGroupId)
        .u32('mcAddr', c.mcAddr)
        .raw('mcKeyEncrypted', c.mcKeyEncrypted, 16)
        .u32('minMcFCnt', c.minMcFCnt)
        .u32('maxMcFCnt', c.maxMcFCnt),
    decode: (r) => ({
      type: 'McGroupSetupReq',
      mcGroupId: readGroupId(r),
      mcAddr: r.u32('mcAddr'),
      mcKeyEncrypted: r.raw('mcKeyEncrypted', 16),
      minMcFCnt: r.u32('minMcFCnt'),
      maxMcFCnt: r.u32('maxMcFCnt'),
    }),
  }),
  spec<McGroupDeleteReq>({
    cid: 0x03,
    type: 'McGroupDeleteReq',
    encode: (c, w) => groupHeader(w, c.mcGroupId),
    decode: (r) => ({ type: 'McGroupDeleteReq', mcGroupId: readGroupId(r) }),
  }),
  spec<McClassCSessionReq>({
    cid: 0x04,
    type: 'McClassCSessionReq',
    encode: (c, w) => writeSessionReq(c, w, [['timeOut', c.timeOut, 4, 0]]),
    decode: (r) => {
      const { timeOutByte: _, ...f } = readSessionReq(r);
      return { type: 'McClassCSessionReq', ...f };
    },
  }),
  spec<McClassBSessionReq>({
    cid: 0x05,
    type: 'McClassBSessionReq',
    encode: (c, w) =>
      writeSessionReq(c, w, [
        ['timeOut', c.timeOut, 4, 0],
        ['periodicity', c.periodicity, 3, 4],
      ]),
    decode: (r) => {
      const { timeOutByte, ...f } = readSessionReq(r);
      return { type: 'McClassBSessionReq', ...f, periodicity: (timeOutByte >> 4) & 0x07 };
    },
  }),
];

export const TS005_UPLINK: CommandSpec[] = [
  packageVersionAns,
  spec<McGroupStatusAns>({
    cid: 0x01,
    type: 'McGroupStatusAns',
    encode: (c, w) => {
      const ids = Array.isArray(c.groups) ? c.groups.map((g) => g.mcGroupId) : [-1];
      const mask = ids.reduce((m, id) => m | (1 << id), 0);
      if (ids.some((id, i) => !(id >= 0 && id <= 3 && (i === 0 || id > ids[i - 1]!))) || mask !== c.ansGroupMask) {
        w.fail('groups', 'must hold one record per ansGroupMask bit, in ascending mcGroupId order');
      }
      w.bits([
        ['ansGroupMask', c.ansGroupMask, 4, 0],
        ['nbTotalGroups', c.nbTotalGroups, 3, 4],
      ]);
      for (const g of c.groups) w.u8('mcGroupId', g.mcGroupId).u32('mcAddr', g.mcAddr);
    },
    decode: (r) => {
      const s = r.u8('status');
      const ansGroupMask = s & 0x0f;
      const groups: McGroupStatusAns['groups'] = [];
      for (let id = 0; id < 4; id++) {
        if (!bit(ansGroupMask, id)) continue;
        const at = r.pos;
        const mcGroupId = r.u8('mcGroupId');
        if (mcGroupId !== id) r.fail('mcGroupId', `record ${groups.length} has McGroupID ${mcGroupId}, AnsGroupMask says ${id}`, at);
        groups.push({ mcGroupId, mcAddr: r.u32('mcAddr') });
      }
      return { type: 'McGroupStatusAns', nbTotalGroups: (s >> 4) & 0x07, ansGroupMask, groups };
    },
  }),
  spec<McGroupSetupAns>({
    cid: 0x02,
    type: 'McGroupSetupAns',
    encode: (c, w) =>
      w.bits([
        ['mcGroupId', c.mcGroupId, 2, 0],
        ['idError', c.idError, 1, 2],
      ]),
    decode: (r) => {
      const b = r.u8('status');
      return { type: 'McGroupSetupAns', mcGroupId: b & 0x03, idError: bit(b, 2) };
    },
  }),
  spec<McGroupDeleteAns>({
    cid: 0x03,
    type: 'McGroupDeleteAns',
    encode: (c, w) =>
      w.bits([
        ['mcGroupId', c.mcGroupId, 2, 0],
        ['mcGroupUndefined', c.mcGroupUndefined, 1, 2],
      ]),
    decode: (r) => {
      const b = r.u8('status');
      return { type: 'McGroupDeleteAns', mcGroupId: b & 0x03, mcGroupUndefined: bit(b, 2) };
    },
  }),
  sessionAns(0x04, 'McClassCSessionAns', 1),
  sessionAns(0x04, 'McClassCSessionAns', 2),
  sessionAns(0x05, 'McClassBSessionAns', 1),
  sessionAns(0x05, 'McClassBSessionAns', 2),
];
