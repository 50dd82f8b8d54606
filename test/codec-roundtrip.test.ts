// fast-check: every command round-trips through encodeCommands/decodeCommands in every version, concatenated
// frames round-trip, and random bytes never make the decoder throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../src/codec/errors.js';
import { decodeCommands, encodeCommands, type AnyCommand, type Direction, type PackageName } from '../src/codec/frame.js';
import { dlFrequencyToHz } from '../src/codec/radio-units.js';

const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const b = fc.boolean();
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const rec = <T extends Record<string, unknown>>(type: string, fields: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
  fc.record({ type: fc.constant(type), ...fields }) as unknown as fc.Arbitrary<AnyCommand>;
const freqHz = u(24).map(dlFrequencyToHz);

const pkgVersionReq = rec('PackageVersionReq', {});
const pkgVersionAns = rec('PackageVersionAns', { packageIdentifier: u(8), packageVersion: u(8) });

type V = 1 | 2;
type Table = Record<Direction, fc.Arbitrary<AnyCommand>[]>;

const ts003 = (v: V): Table => ({
  downlink: [
    pkgVersionReq,
    rec('AppTimeAns', { timeCorrection: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), tokenAns: u(4) }),
    rec('DeviceAppTimePeriodicityReq', { period: u(4) }),
    rec(v === 1 ? 'ForceDeviceResyncReq' : 'ForceDeviceResyncCmd', { nbTransmissions: u(3) }),
  ],
  uplink: [
    pkgVersionAns,
    rec('AppTimeReq', { deviceTime: u(32), ansRequired: b, tokenReq: u(4) }),
    rec('DeviceAppTimePeriodicityAns', { notSupported: b, time: u(32) }),
  ],
});

const setupCommon = { fragIndex: u(2), mcGroupBitMask: u(4), nbFrag: u(16), fragSize: fc.integer({ min: 1, max: 255 }), fragAlgo: u(3), blockAckDelay: u(3), padding: u(8), descriptor: u(32) };
const ts004 = (v: V): Table => ({
  downlink: [
    pkgVersionReq,
    rec('FragSessionStatusReq', { fragIndex: u(2), participants: b }),
    v === 1
      ? rec('FragSessionSetupReq', setupCommon)
      : rec('FragSessionSetupReq', { ...setupCommon, ackReception: b, sessionCnt: u(16), mic: bytes(4) }),
    rec('FragSessionDeleteReq', { fragIndex: u(2) }),
    ...(v === 2 ? [rec('FragDataBlockReceivedAns', { fragIndex: u(2) })] : []),
  ],
  uplink: [
    pkgVersionAns,
    v === 1
      ? rec('FragSessionStatusAns', { fragIndex: u(2), nbFragReceived: u(14), missingFrag: u(8), notEnoughMatrixMemory: b })
      : rec('FragSessionStatusAns', { fragIndex: u(2), nbFragReceived: u(14), missingFrag: u(8), memoryError: b, micError: b, sessionDoesNotExist: b }),
    v === 1
      ? rec('FragSessionSetupAns', { fragIndex: u(2), fragAlgoUnsupported: b, notEnoughMemory: b, fragIndexUnsupported: b, wrongDescriptor: b })
      : rec('FragSessionSetupAns', { fragIndex: u(2), fragAlgoUnsupported: b, notEnoughMemory: b, fragIndexUnsupported: b, wrongDescriptor: b, sessionCntReplay: b }),
    rec('FragSessionDeleteAns', { fragIndex: u(2), sessionDoesNotExist: b }),
    ...(v === 2 ? [rec('FragDataBlockReceivedReq', { fragIndex: u(2), micError: b })] : []),
  ],
});

const sessionReq = { mcGroupId: u(2), sessionTime: u(32), timeOut: u(4), dlFrequencyHz: freqHz, dr: u(8) };
const sessionAns = (type: string) =>
  fc
    .record({ mcGroupId: u(2), drError: b, freqError: b, mcGroupUndefined: b, startMissed: b, timeToStart: u(24) })
    .map(({ timeToStart, ...s }) => {
      const ok = !s.drError && !s.freqError && !s.mcGroupUndefined && !s.startMissed;
      return { type, ...s, ...(ok ? { timeToStart } : {}) } as AnyCommand;
    });
const statusAns = fc
  .record({ nbTotalGroups: u(3), ansGroupMask: u(4), addrs: fc.array(u(32), { minLength: 4, maxLength: 4 }) })
  .map(({ nbTotalGroups, ansGroupMask, addrs }) => ({
    type: 'McGroupStatusAns',
    nbTotalGroups,
    ansGroupMask,
    groups: [0, 1, 2, 3].filter((id) => (ansGroupMask >> id) & 1).map((mcGroupId) => ({ mcGroupId, mcAddr: addrs[mcGroupId]! })),
  })) as fc.Arbitrary<AnyCommand>;
const ts005 = (): Table => ({
  downlink: [
    pkgVersionReq,
    rec('McGroupStatusReq', { reqGroupMask: u(4) }),
    rec('McGroupSetupReq', { mcGroupId: u(2), mcAddr: u(32), mcKeyEncrypted: bytes(16), minMcFCnt: u(32), maxMcFCnt: u(32) }),
    rec('McGroupDeleteReq', { mcGroupId: u(2) }),
    rec('McClassCSessionReq', sessionReq),
    rec('McClassBSessionReq', { ...sessionReq, periodicity: u(3) }),
  ],
  uplink: [
    pkgVersionAns,
    statusAns,
    rec('McGroupSetupAns', { mcGroupId: u(2), idError: b }),
    rec('McGroupDeleteAns', { mcGroupId: u(2), mcGroupUndefined: b }),
    sessionAns('McClassCSessionAns'),
    sessionAns('McClassBSessionAns'),
  ],
});

const ts006 = (): Table => ({
  downlink: [
    pkgVersionReq,
    rec('DevVersionReq', {}),
    rec('DevRebootTimeReq', { rebootTime: u(32) }),
    rec('DevRebootCountdownReq', { countdown: u(24) }),
    rec('DevUpgradeImageReq', {}),
    rec('DevDeleteImageReq', { firmwareToDeleteVersion: u(32) }),
  ],
  uplink: [
    pkgVersionAns,
    rec('DevVersionAns', { fwVersion: u(32), hwVersion: u(32) }),
    rec('DevRebootTimeAns', { rebootTime: u(32) }),
    rec('DevRebootCountdownAns', { countdown: u(24) }),
    fc.oneof(
      rec('DevUpgradeImageAns', { status: fc.integer({ min: 0, max: 2 }) }),
      rec('DevUpgradeImageAns', { status: fc.constant(3), nextFirmwareVersion: u(32) }),
    ),
    rec('DevDeleteImageAns', { errorInvalidVersion: b, errorNoValidImage: b }),
  ],
});

const configs: { pkg: PackageName; v: V; table: Table }[] = [
  { pkg: 'ts003', v: 1, table: ts003(1) },
  { pkg: 'ts003', v: 2, table: ts003(2) },
  { pkg: 'ts004', v: 1, table: ts004(1) },
  { pkg: 'ts004', v: 2, table: ts004(2) },
  { pkg: 'ts005', v: 1, table: ts005() },
  { pkg: 'ts005', v: 2, table: ts005() },
  { pkg: 'ts006', v: 1, table: ts006() },
];
const DIRS: Direction[] = ['downlink', 'uplink'];

describe.each(configs)('$pkg v$v', ({ pkg, v, table }) => {
  const versions = { [pkg]: v };
  describe.each(DIRS)('%s', (dir) => {
    it.each(table[dir].map((arb, i) => [i, arb] as const))('command #%i round-trips alone', (_i, arb) => {
      fc.assert(
        fc.property(arb, (cmd) => {
          expect(decodeCommands(pkg, dir, encodeCommands(pkg, dir, [cmd], versions), versions)).toEqual({ commands: [cmd] });
        }),
        { numRuns: 200 },
      );
    });
    it('concatenated frames round-trip', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(...table[dir]), { minLength: 1, maxLength: 6 }), (cmds) => {
          expect(decodeCommands(pkg, dir, encodeCommands(pkg, dir, cmds, versions), versions)).toEqual({ commands: cmds });
        }),
        { numRuns: 200 },
      );
    });
    it('random bytes never throw; failures are a CodecError or an unknown CID inside the frame', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 40 }), (raw) => {
          const r = decodeCommands(pkg, dir, raw, versions);
          if (r.error) {
            expect(r.error).toBeInstanceOf(CodecError);
            expect(r.error.offset).toBeGreaterThanOrEqual(0);
            expect(r.error.offset).toBeLessThanOrEqual(raw.length);
          }
          if (r.unknownCid) expect(raw[r.unknownCid.offset]).toBe(r.unknownCid.cid);
          expect(r.error && r.unknownCid).toBeFalsy();
        }),
        { numRuns: 2000 },
      );
    });
  });
});

describe('TS004 DataFragment and the v2 short status form', () => {
  it.each([1, 2] as const)('DataFragment round-trips in v%i', (v) => {
    const arb = rec('DataFragment', { fragIndex: u(2), n: fc.integer({ min: 1, max: 16383 }), payload: fc.uint8Array({ minLength: 1, maxLength: 219 }) });
    fc.assert(
      fc.property(arb, (cmd) => {
        expect(decodeCommands('ts004', 'downlink', encodeCommands('ts004', 'downlink', [cmd], { ts004: v }), { ts004: v })).toEqual({ commands: [cmd] });
      }),
    );
  });
  it('short form round-trips at the end of a frame', () => {
    const arb = fc.record({ memoryError: b, micError: b }).map(
      (f) => ({ type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 0, missingFrag: 0, ...f, sessionDoesNotExist: true, shortForm: true }) as AnyCommand,
    );
    fc.assert(
      fc.property(arb, (cmd) => {
        const frame = encodeCommands('ts004', 'uplink', [{ type: 'PackageVersionAns', packageIdentifier: 3, packageVersion: 2 }, cmd], { ts004: 2 });
        expect(frame).toHaveLength(5);
        expect(decodeCommands('ts004', 'uplink', frame, { ts004: 2 }).commands[1]).toEqual(cmd);
      }),
    );
  });
});
