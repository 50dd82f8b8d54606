// ChirpStack's TS004 unit-test vectors (test/vectors/upstream.json command_codec) and every byte example of
// TS003-TS006 (docs/protocol.md §1-7), encoded and decoded through the frame API.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCommands, encodeCommands, type AnyCommand, type Direction, type PackageName, type Versions } from '../src/codec/frame.js';
import { dataBlockIntKey, encryptMcKey, mcKEKey, mcRootKey } from '../src/codec/keys.js';
import { dataBlockMic } from '../src/codec/mic.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Case {
  ts004: 'v1' | 'v2';
  name: string;
  uplink: boolean;
  bytes_hex: string;
  expected_error: string | null;
  command_rust: string;
}
const cases = (JSON.parse(readFileSync('test/vectors/upstream.json', 'utf8')) as { command_codec: Case[] }).command_codec;

const setupV1 = {
  type: 'FragSessionSetupReq',
  fragIndex: 3,
  mcGroupBitMask: 1,
  nbFrag: 1024,
  fragSize: 128,
  fragAlgo: 1,
  blockAckDelay: 5,
  padding: 64,
  descriptor: 0x04030201,
} as const;
const setupAnsV1 = { type: 'FragSessionSetupAns', fragIndex: 2, fragAlgoUnsupported: true, notEnoughMemory: true, fragIndexUnsupported: false, wrongDescriptor: true } as const;
const common: Record<string, AnyCommand> = {
  PackageVersionReq: { type: 'PackageVersionReq' },
  PackageVersionAns: { type: 'PackageVersionAns', packageIdentifier: 3, packageVersion: 2 },
  FragSessionStatusReq: { type: 'FragSessionStatusReq', fragIndex: 2, participants: true },
  FragSessionDeleteReq: { type: 'FragSessionDeleteReq', fragIndex: 3 },
  FragSessionDeleteAns: { type: 'FragSessionDeleteAns', fragIndex: 3, sessionDoesNotExist: true },
  DataFragment: { type: 'DataFragment', fragIndex: 2, n: 1024, payload: h('01020304') },
};
const expected: Record<'v1' | 'v2', Record<string, AnyCommand>> = {
  v1: {
    ...common,
    FragSessionStatusAns: { type: 'FragSessionStatusAns', fragIndex: 3, nbFragReceived: 1024, missingFrag: 128, notEnoughMatrixMemory: true },
    FragSessionSetupReq: setupV1,
    FragSessionSetupAns: setupAnsV1,
  },
  v2: {
    ...common,
    FragSessionStatusAns: {
      type: 'FragSessionStatusAns',
      fragIndex: 3,
      nbFragReceived: 1024,
      missingFrag: 128,
      memoryError: true,
      micError: false,
      sessionDoesNotExist: true,
    },
    FragSessionSetupReq: { ...setupV1, ackReception: false, sessionCnt: 128, mic: h('01020304') },
    FragSessionSetupAns: { ...setupAnsV1, sessionCntReplay: false },
    FragDataBlockReceivedReq: { type: 'FragDataBlockReceivedReq', fragIndex: 2, micError: true },
    FragDataBlockReceivedAns: { type: 'FragDataBlockReceivedAns', fragIndex: 2 },
  },
};

describe('upstream command_codec vectors (ChirpStack lrwn fragmentation v1/v2)', () => {
  it('has all 38 cases', () => expect(cases).toHaveLength(38));
  it.each(cases.map((c, i) => [i, c.ts004, c.name, c] as const))('#%i %s %s', (_i, v, _name, c) => {
    const type = /Payload::(\w+)/.exec(c.command_rust)![1]!;
    const cmd = expected[v][type]!;
    expect(cmd, type).toBeDefined();
    const dir: Direction = c.uplink ? 'uplink' : 'downlink';
    const versions = { ts004: v === 'v1' ? 1 : 2 } as const;
    if (c.name.startsWith('encode')) expect(hex(encodeCommands('ts004', dir, [cmd], versions))).toBe(c.bytes_hex);
    else expect(decodeCommands('ts004', dir, h(c.bytes_hex), versions)).toEqual({ commands: [cmd] });
  });
});

/** Encodes `cmds` to exactly `bytes` and decodes `bytes` back to `cmds`. */
function both(pkg: PackageName, dir: Direction, bytes: string, cmds: AnyCommand[], versions?: Versions): void {
  expect(hex(encodeCommands(pkg, dir, cmds, versions))).toBe(bytes.replace(/\s/g, '').toLowerCase());
  expect(decodeCommands(pkg, dir, h(bytes), versions)).toEqual({ commands: cmds });
}

describe('byte examples of TS003-TS006', () => {
  it('§2 PackageVersionAns TS004 v2 and LoRaMac-node answers', () => {
    both('ts004', 'uplink', '00 03 02', [{ type: 'PackageVersionAns', packageIdentifier: 3, packageVersion: 2 }], { ts004: 2 });
    both('ts005', 'uplink', '00 02 01', [{ type: 'PackageVersionAns', packageIdentifier: 2, packageVersion: 1 }]);
  });

  it('§3.2 TS003', () => {
    both('ts003', 'uplink', '01 12 0B 9F 55 13', [{ type: 'AppTimeReq', deviceTime: 1436486418, ansRequired: true, tokenReq: 3 }]);
    both('ts003', 'downlink', '01 FB FF FF FF 03', [{ type: 'AppTimeAns', timeCorrection: -5, tokenAns: 3 }]);
    both('ts003', 'downlink', '02 04', [{ type: 'DeviceAppTimePeriodicityReq', period: 4 }]);
    both('ts003', 'downlink', '03 02', [{ type: 'ForceDeviceResyncReq', nbTransmissions: 2 }]);
    both('ts003', 'downlink', '03 02', [{ type: 'ForceDeviceResyncCmd', nbTransmissions: 2 }], { ts003: 2 });
    both('ts003', 'uplink', '02 01 12 0B 9F 55', [{ type: 'DeviceAppTimePeriodicityAns', notSupported: true, time: 1436486418 }]);
  });

  it('§4.3 FragSessionStatusAns v1 and v2', () => {
    both('ts004', 'uplink', '01 2C 41 05 00', [
      { type: 'FragSessionStatusAns', fragIndex: 1, nbFragReceived: 300, missingFrag: 5, notEnoughMatrixMemory: false },
    ]);
    both(
      'ts004',
      'uplink',
      '01 02 2C 41 00',
      [{ type: 'FragSessionStatusAns', fragIndex: 1, nbFragReceived: 300, missingFrag: 0, memoryError: false, micError: true, sessionDoesNotExist: false }],
      { ts004: 2 },
    );
  });

  it('§4.4 FragSessionSetupReq v1', () => {
    both('ts004', 'downlink', '02 01 C8 00 30 01 11 00 00 00 00', [
      { type: 'FragSessionSetupReq', fragIndex: 0, mcGroupBitMask: 1, nbFrag: 200, fragSize: 48, fragAlgo: 0, blockAckDelay: 1, padding: 17, descriptor: 0 },
    ]);
  });

  it('§4.4 FragSessionSetupReq v2 with the MIC of the 20-byte block', () => {
    const data = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
    const mic = dataBlockMic(dataBlockIntKey(h('000102030405060708090a0b0c0d0e0f')), { sessionCnt: 0, fragIndex: 0, descriptor: 0, data });
    const cmd: AnyCommand = {
      type: 'FragSessionSetupReq',
      fragIndex: 0,
      mcGroupBitMask: 1,
      nbFrag: 1,
      fragSize: 20,
      fragAlgo: 0,
      blockAckDelay: 1,
      ackReception: true,
      padding: 0,
      descriptor: 0,
      sessionCnt: 0,
      mic,
    };
    both('ts004', 'downlink', '02 01 01 00 14 41 00 00 00 00 00 00 00 19 84 B5 F5', [cmd], { ts004: 2 });
  });

  it('§4.7 DataFragment examples and the upstream data_fragment vectors', () => {
    const p = h('aabb');
    both('ts004', 'downlink', '08 01 00 aa bb', [{ type: 'DataFragment', fragIndex: 0, n: 1, payload: p }]);
    both('ts004', 'downlink', '08 2C 41 aa bb', [{ type: 'DataFragment', fragIndex: 1, n: 300, payload: p }]);
    both('ts004', 'downlink', '08 FF FF aa bb', [{ type: 'DataFragment', fragIndex: 3, n: 16383, payload: p }]);
    const df = (JSON.parse(readFileSync('test/vectors/upstream.json', 'utf8')) as {
      data_fragment: { n: number; frag_index: number; payload_hex: string; bytes_hex: string }[];
    }).data_fragment;
    expect(df).toHaveLength(3);
    for (const v of df) {
      both('ts004', 'downlink', v.bytes_hex, [{ type: 'DataFragment', fragIndex: v.frag_index, n: v.n, payload: h(v.payload_hex) }]);
    }
  });

  it('§6.2 McGroupStatusAns', () => {
    both('ts005', 'uplink', '01 11 00 CD 23 AB 01', [
      { type: 'McGroupStatusAns', nbTotalGroups: 1, ansGroupMask: 1, groups: [{ mcGroupId: 0, mcAddr: 0x01ab23cd }] },
    ]);
  });

  it('§6.3 McGroupSetupReq with McKey_encrypted from the 1.0.x chain', () => {
    const kek = mcKEKey(mcRootKey(h('000102030405060708090a0b0c0d0e0f'), '1.0'));
    const mcKeyEncrypted = encryptMcKey(kek, h('0102030405060708090a0b0c0d0e0f10'));
    both('ts005', 'downlink', '02 00 CD 23 AB 01 01 5E 85 F4 B9 9D C0 B9 44 06 6C D0 74 98 33 0B 00 00 00 00 FF FF FF FF', [
      { type: 'McGroupSetupReq', mcGroupId: 0, mcAddr: 0x01ab23cd, mcKeyEncrypted, minMcFCnt: 0, maxMcFCnt: 0xffffffff },
    ]);
  });

  it('§6.5/§6.6 session requests and answer', () => {
    both('ts005', 'downlink', '04 00 12 0B 9F 55 08 D2 AD 84 00', [
      { type: 'McClassCSessionReq', mcGroupId: 0, sessionTime: 1436486418, timeOut: 8, dlFrequencyHz: 869_525_000, dr: 0 },
    ]);
    both('ts005', 'downlink', '05 00 00 0B 9F 55 24 D2 AD 84 03', [
      { type: 'McClassBSessionReq', mcGroupId: 0, sessionTime: 1436486400, timeOut: 4, periodicity: 2, dlFrequencyHz: 869_525_000, dr: 3 },
    ]);
    const ok = { type: 'McClassCSessionAns', mcGroupId: 0, drError: false, freqError: false, mcGroupUndefined: false, startMissed: false, timeToStart: 600 } as const;
    both('ts005', 'uplink', '04 00 58 02 00', [ok]);
    both('ts005', 'uplink', '04 00 58 02 00', [ok], { ts005: 2 });
  });

  it('§8 TS006', () => {
    both('ts006', 'uplink', '01 04 03 02 01 CD AB 00 00', [{ type: 'DevVersionAns', fwVersion: 0x01020304, hwVersion: 0x0000abcd }]);
    both('ts006', 'downlink', '02 22 19 9F 55', [{ type: 'DevRebootTimeReq', rebootTime: 1436490018 }]);
    both('ts006', 'downlink', '03 58 02 00', [{ type: 'DevRebootCountdownReq', countdown: 600 }]);
    both('ts006', 'uplink', '04 03 00 04 02 01', [{ type: 'DevUpgradeImageAns', status: 3, nextFirmwareVersion: 0x01020400 }]);
    both('ts006', 'uplink', '04 01', [{ type: 'DevUpgradeImageAns', status: 1 }]);
    both('ts006', 'downlink', '05 00 04 02 01', [{ type: 'DevDeleteImageReq', firmwareToDeleteVersion: 0x01020400 }]);
    both('ts006', 'uplink', '05 02', [{ type: 'DevDeleteImageAns', errorInvalidVersion: true, errorNoValidImage: false }]);
  });
});
