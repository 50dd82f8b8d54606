// Frame walking, §11.2 decoding rules and error reporting (command, field, byte offset).
import { describe, expect, it } from 'vitest';
import { CodecError } from '../src/codec/errors.js';
import { decodeCommands, encodeCommands, packageForPort, type AnyCommand, type DecodeResult } from '../src/codec/frame.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const types = (r: DecodeResult): string[] => r.commands.map((c) => c.type);
function errorOf(r: DecodeResult): Pick<CodecError, 'command' | 'field' | 'offset'> {
  expect(r.error).toBeInstanceOf(CodecError);
  return { command: r.error!.command, field: r.error!.field, offset: r.error!.offset };
}
function thrown(f: () => unknown): CodecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CodecError);
    return e as CodecError;
  }
  throw new Error('expected a CodecError');
}

describe('frame walking', () => {
  it('decodes concatenated answers (ChirpStack decodes only the first)', () => {
    const r = decodeCommands('ts005', 'uplink', h('00 02 01  02 00  04 01 58 02 00  03 06'));
    expect(types(r)).toEqual(['PackageVersionAns', 'McGroupSetupAns', 'McClassCSessionAns', 'McGroupDeleteAns']);
    expect(r.error).toBeUndefined();
    expect(r.commands[3]).toEqual({ type: 'McGroupDeleteAns', mcGroupId: 2, mcGroupUndefined: true });
  });

  it('stops at an unknown CID and reports it with its offset', () => {
    const r = decodeCommands('ts006', 'uplink', h('05 01 06 aa bb'));
    expect(types(r)).toEqual(['DevDeleteImageAns']);
    expect(r.unknownCid).toEqual({ cid: 6, offset: 2 });
  });

  it('CID 0x04 is unknown in TS004 v1 and FragDataBlockReceivedReq in v2', () => {
    expect(decodeCommands('ts004', 'uplink', h('04 06')).unknownCid).toEqual({ cid: 4, offset: 0 });
    expect(decodeCommands('ts004', 'uplink', h('04 06'), { ts004: 2 }).commands).toEqual([
      { type: 'FragDataBlockReceivedReq', fragIndex: 2, micError: true },
    ]);
  });

  it('reads a v2 16-byte setup as v1 + garbage when told v1 (the LoRaMac-node hazard)', () => {
    const r = decodeCommands('ts004', 'downlink', h('02 31 00 04 80 0d 40 01 02 03 04 80 00 01 02 03 04'));
    expect(types(r)).toEqual(['FragSessionSetupReq']);
    expect(r.unknownCid).toEqual({ cid: 0x80, offset: 11 });
  });

  it('a truncated command is a CodecError naming command, field and offset', () => {
    expect(errorOf(decodeCommands('ts003', 'uplink', h('00 01 01  01 12 0B')))).toEqual({ command: 'AppTimeReq', field: 'deviceTime', offset: 4 });
    expect(errorOf(decodeCommands('ts005', 'downlink', h('02 00 CD 23')))).toEqual({ command: 'McGroupSetupReq', field: 'mcAddr', offset: 2 });
    expect(errorOf(decodeCommands('ts005', 'uplink', h('01 13 00 CD 23 AB 01')))).toEqual({ command: 'McGroupStatusAns', field: 'mcGroupId', offset: 7 });
  });

  it('a DataFragment must be alone in its frame and carry a payload', () => {
    expect(errorOf(decodeCommands('ts004', 'downlink', h('03 00 08 01 00 aa')))).toEqual({ command: 'DataFragment', field: 'cid', offset: 2 });
    expect(errorOf(decodeCommands('ts004', 'downlink', h('08 01 00')))).toMatchObject({ command: 'DataFragment', field: 'payload' });
    const r = decodeCommands('ts004', 'downlink', h('08 01 00 03 00'));
    expect(r.commands).toEqual([{ type: 'DataFragment', fragIndex: 0, n: 1, payload: h('03 00') }]);
    expect(thrown(() => encodeCommands('ts004', 'downlink', [{ type: 'FragSessionDeleteReq', fragIndex: 0 }, r.commands[0]!])).field).toBe('type');
  });

  it('McGroupStatusAns records must match AnsGroupMask', () => {
    expect(errorOf(decodeCommands('ts005', 'uplink', h('01 11 01 CD 23 AB 01')))).toEqual({ command: 'McGroupStatusAns', field: 'mcGroupId', offset: 2 });
    const two = decodeCommands('ts005', 'uplink', h('01 25 00 01 00 00 00 02 02 00 00 00'));
    expect(two.commands).toEqual([
      { type: 'McGroupStatusAns', nbTotalGroups: 2, ansGroupMask: 5, groups: [{ mcGroupId: 0, mcAddr: 1 }, { mcGroupId: 2, mcAddr: 2 }] },
    ]);
  });

  it('TS006 UpImageStatus above 3 is an error; status 3 needs the version', () => {
    expect(errorOf(decodeCommands('ts006', 'uplink', h('04 04')))).toEqual({ command: 'DevUpgradeImageAns', field: 'status', offset: 1 });
    expect(errorOf(decodeCommands('ts006', 'uplink', h('04 03 00 04')))).toEqual({ command: 'DevUpgradeImageAns', field: 'nextFirmwareVersion', offset: 2 });
  });
});

describe('§11.2 session-answer rules', () => {
  const ans = (s: number, timeToStart?: number): AnyCommand => ({
    type: 'McClassCSessionAns',
    mcGroupId: s & 3,
    drError: (s & 4) !== 0,
    freqError: (s & 8) !== 0,
    mcGroupUndefined: (s & 16) !== 0,
    startMissed: (s & 32) !== 0,
    ...(timeToStart === undefined ? {} : { timeToStart }),
  });
  it('v2 StartMissed alone is a 2-byte answer without TimeToStart', () => {
    const r = decodeCommands('ts005', 'uplink', h('04 20  02 00'), { ts005: 2 });
    expect(r.commands).toEqual([ans(0x20), { type: 'McGroupSetupAns', mcGroupId: 0, idError: false }]);
  });
  it('LBM v1 build sets StartMissed: decoded in v1 too', () => {
    expect(decodeCommands('ts005', 'uplink', h('04 21'))).toEqual({ commands: [ans(0x21)] });
  });
  it('TimeToStart needs 3 remaining bytes; otherwise it is absent', () => {
    expect(decodeCommands('ts005', 'uplink', h('05 01'))).toEqual({ commands: [{ ...ans(1), type: 'McClassBSessionAns' }] });
    expect(decodeCommands('ts005', 'uplink', h('04 00 ff ff ff'), { ts005: 2 }).commands).toEqual([ans(0, 0xffffff)]);
  });
  it('v2 reserved bits 7:6 are an error, v1 only drops TimeToStart', () => {
    expect(errorOf(decodeCommands('ts005', 'uplink', h('00 02 02  04 40'), { ts005: 2 }))).toEqual({ command: 'McClassCSessionAns', field: 'status', offset: 4 });
    expect(decodeCommands('ts005', 'uplink', h('04 80 07')).unknownCid).toEqual({ cid: 7, offset: 2 });
  });
  it('encoding demands TimeToStart exactly when no error bit is set', () => {
    expect(thrown(() => encodeCommands('ts005', 'uplink', [ans(0)])).field).toBe('timeToStart');
    expect(thrown(() => encodeCommands('ts005', 'uplink', [ans(4, 10)])).field).toBe('timeToStart');
  });
});

describe('§11.2 v2 FragSessionStatusAns forms', () => {
  const short = { type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 0, missingFrag: 0, memoryError: false, micError: true, sessionDoesNotExist: true, shortForm: true };
  it('1-byte form when fewer than 3 bytes follow the status', () => {
    expect(decodeCommands('ts004', 'uplink', h('01 06'), { ts004: 2 })).toEqual({ commands: [short] });
    const r = decodeCommands('ts004', 'uplink', h('01 06  03 04'), { ts004: 2 });
    expect(r.commands).toEqual([short, { type: 'FragSessionDeleteAns', fragIndex: 0, sessionDoesNotExist: true }]);
    expect(Buffer.from(encodeCommands('ts004', 'uplink', [short as AnyCommand], { ts004: 2 })).toString('hex')).toBe('0106');
  });
  it("LBM's 4-byte form with SessionDoesNotExist", () => {
    expect(decodeCommands('ts004', 'uplink', h('01 06 00 00 00'), { ts004: 2 }).commands).toEqual([
      { type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 0, missingFrag: 0, memoryError: false, micError: true, sessionDoesNotExist: true },
    ]);
  });
  it('a v1-only or v2-only field in the other version is refused', () => {
    const v2 = { type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 1, missingFrag: 0, micError: true } as const;
    expect(thrown(() => encodeCommands('ts004', 'uplink', [v2])).field).toBe('micError');
    expect(thrown(() => encodeCommands('ts004', 'uplink', [{ ...v2, micError: false, notEnoughMatrixMemory: true }], { ts004: 2 })).field).toBe(
      'notEnoughMatrixMemory',
    );
  });
});

describe('encoding errors', () => {
  it('names the command, field and frame offset', () => {
    const e = thrown(() =>
      encodeCommands('ts004', 'downlink', [
        { type: 'FragSessionDeleteReq', fragIndex: 1 },
        { type: 'FragSessionStatusReq', fragIndex: 4, participants: true },
      ]),
    );
    expect([e.command, e.field, e.offset]).toEqual(['FragSessionStatusReq', 'fragIndex', 3]);
    expect(e.message).toMatch(/0\.\.3, got 4/);
  });
  it('a missing numeric field is an error, a missing flag is false', () => {
    const e = thrown(() => encodeCommands('ts005', 'uplink', [{ type: 'McGroupSetupAns', idError: true } as unknown as AnyCommand]));
    expect([e.command, e.field, e.offset]).toEqual(['McGroupSetupAns', 'mcGroupId', 1]);
    expect(Buffer.from(encodeCommands('ts004', 'uplink', [{ type: 'FragDataBlockReceivedReq', fragIndex: 1 } as AnyCommand], { ts004: 2 })).toString('hex')).toBe('0401');
  });
  it('v2 setup needs sessionCnt and a 4-byte mic; v1 setup refuses them', () => {
    const base = { type: 'FragSessionSetupReq', fragIndex: 0, mcGroupBitMask: 1, nbFrag: 10, fragSize: 10, fragAlgo: 0, blockAckDelay: 0, padding: 0, descriptor: 0 } as const;
    expect(thrown(() => encodeCommands('ts004', 'downlink', [base], { ts004: 2 })).field).toBe('sessionCnt');
    expect(thrown(() => encodeCommands('ts004', 'downlink', [{ ...base, sessionCnt: 1, mic: new Uint8Array(3) }], { ts004: 2 })).field).toBe('mic');
    expect(thrown(() => encodeCommands('ts004', 'downlink', [{ ...base, sessionCnt: 1 }])).field).toBe('sessionCnt');
    expect(thrown(() => encodeCommands('ts004', 'downlink', [{ ...base, fragSize: 0 }])).field).toBe('fragSize');
  });
  it('refuses commands of another package, direction or version', () => {
    expect(thrown(() => encodeCommands('ts004', 'uplink', [{ type: 'FragSessionDeleteReq', fragIndex: 0 }])).reason).toMatch(/not a ts004 v1 uplink/);
    expect(thrown(() => encodeCommands('ts003', 'downlink', [{ type: 'ForceDeviceResyncCmd', nbTransmissions: 1 }])).field).toBe('type');
    expect(thrown(() => encodeCommands('ts004', 'downlink', [{ type: 'FragDataBlockReceivedAns', fragIndex: 0 }])).field).toBe('type');
  });
  it('refuses frequencies without an exact on-air coding', () => {
    const req = { type: 'McClassCSessionReq', mcGroupId: 0, sessionTime: 0, timeOut: 0, dlFrequencyHz: 869_525_050, dr: 0 } as const;
    expect([thrown(() => encodeCommands('ts005', 'downlink', [req])).field, thrown(() => encodeCommands('ts005', 'downlink', [req])).offset]).toEqual([
      'dlFrequencyHz',
      7,
    ]);
  });
});

describe('packageForPort', () => {
  it('maps default and overridden ports', () => {
    expect([200, 201, 202, 203, 1].map((p) => packageForPort(p))).toEqual(['ts005', 'ts004', 'ts003', 'ts006', undefined]);
    expect(packageForPort(10, { ts004: 10 })).toBe('ts004');
    expect(packageForPort(201, { ts004: 10 })).toBeUndefined();
  });
});
