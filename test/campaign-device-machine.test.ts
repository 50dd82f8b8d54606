import { describe, expect, it } from 'vitest';
import { nextRequest, onAnswer, onTimeout, phaseAfterSend, type MachineContext } from '../src/campaign/device-machine.js';
import type { DeviceState } from '../src/campaign/model.js';
import { decodeCommands, encodeCommands, type AnyCommand } from '../src/codec/frame.js';
import { gpsToUnixMs } from '../src/codec/gpstime.js';

const ctx: MachineContext = {
  nowMs: 1_000_000,
  ports: { ts003: 202, ts004: 201, ts005: 200, ts006: 203 },
  fragIndex: 0,
  mcGroupId: 0,
  mcAddr: 0x01ab23cd,
  groupType: 'C',
  nbFrag: 100,
  fragSize: 200,
  padding: 17,
  blockAckDelay: 1,
  descriptor: 0,
  dr: 0,
  frequencyHz: 869_525_000,
  classBPeriodicity: 0,
  sessionTimeOut: 8,
  sessionLeadS: 180,
  targetVersion: 0x01010000,
  rebootDelayS: 30,
  answerTimeoutMs: 85_000,
  retries: 2,
  keys: { mcKeyEncrypted: Buffer.from('015e85f4b99dc0b944066cd07498330b', 'hex'), fragSetupMic: () => Uint8Array.of(0x19, 0x84, 0xb5, 0xf5) },
};
const fresh: DeviceState = { p: 'discover', s: 'Pending', t: 0, lw: '1.0' };
const bytes = (pkg: 'ts004' | 'ts005' | 'ts006', s: DeviceState, c = ctx) => {
  const r = nextRequest(s, c)!;
  expect(r.pkg).toBe(pkg);
  return Buffer.from(encodeCommands(r.pkg, 'downlink', r.commands as unknown as AnyCommand[], { ts004: s.v?.[1] === 2 ? 2 : 1 })).toString('hex');
};
const answer = (s: DeviceState, pkg: 'ts004' | 'ts005' | 'ts006', hex: string, v: 1 | 2 = 1) =>
  onAnswer(s, pkg, decodeCommands(pkg, 'uplink', Buffer.from(hex, 'hex'), { ts004: v, ts005: v }).commands as never, ctx, ctx.nowMs);

describe('device state machine', () => {
  it('discovers TS004, TS005, TS006 in turn, setting up the group with the TS005 question (TS005-2.0.0 §4.3 bytes)', () => {
    // TS004 first: its version decides the multicast group (parity rule) whose McAddr and key follow.
    expect(bytes('ts004', fresh)).toBe('00');
    let s = answer({ ...fresh, o: { port: 201, hex: '', at: 0, n: 1, ok: true } }, 'ts004', '000301').state;
    expect(s.v).toEqual([0, 1, 0, 0]);
    expect(s.o).toBeUndefined();
    expect(bytes('ts005', s)).toBe('00' + '0200cd23ab01015e85f4b99dc0b944066cd07498330b00000000ffffffff');
    s = answer(s, 'ts005', '0002010200').state;
    expect(bytes('ts006', s)).toBe('00');
    const atTs006 = s;
    s = answer(s, 'ts006', '000401').state;
    expect(s.p).toBe('fragSetup');
    // With the fleet's version given (anti-rollback), the running version next, in a frame of its own.
    const check = { ...ctx, checkVersions: true };
    s = onAnswer(atTs006, 'ts006', decodeCommands('ts006', 'uplink', Buffer.from('000401', 'hex')).commands as never, check, 0).state;
    expect([s.p, bytes('ts006', s, check)]).toEqual(['discover', '01']);
    s = onAnswer(s, 'ts006', decodeCommands('ts006', 'uplink', Buffer.from('01' + '00000001' + '00000000', 'hex')).commands as never, check, 0).state;
    expect([s.p, s.fw]).toEqual(['fragSetup', 0x01000000]);
  });

  it('sends the v1 or v2 FragSessionSetupReq by the device\'s version (§4.4 bytes)', () => {
    const v1: DeviceState = { ...fresh, p: 'fragSetup', v: [0, 1, 1, 1] };
    expect(bytes('ts004', v1)).toBe('02' + '01' + '6400' + 'c8' + '01' + '11' + '00000000');
    const v2: DeviceState = { ...fresh, p: 'fragSetup', v: [0, 2, 2, 1], sc: 0 };
    expect(bytes('ts004', v2)).toBe('02' + '01' + '6400c8' + '41' + '11' + '00000000' + '0000' + '1984b5f5');
  });

  it('maps every FragSessionSetupAns error to its status', () => {
    const s: DeviceState = { ...fresh, p: 'fragSetup', v: [0, 2, 2, 1] };
    expect(answer(s, 'ts004', '0201', 2).state.s).toBe('FragAlgoUnsupported');
    expect(answer(s, 'ts004', '0202', 2).state.s).toBe('NotEnoughMemory');
    expect(answer(s, 'ts004', '0204', 2).state.s).toBe('FragIndexUnsupported');
    expect(answer(s, 'ts004', '0208', 2).state.s).toBe('WrongDescriptor');
    expect(answer(s, 'ts004', '0210', 2).state.s).toBe('SessionCntReplay');
    const ok = answer(s, 'ts004', '0200', 2).state;
    expect([ok.s, ok.p]).toEqual(['Pending', 'ready']);
  });

  it('re-offers a later session start after StartMissed, then gives up', () => {
    // The request came 100 s after the planned start: the retry starts a lead later and still ends with the others.
    const c = { ...ctx, nowMs: gpsToUnixMs(1_500_000_100), sessionTimeGps: 1_500_000_000, sessionEndGps: 1_500_010_000 };
    let s: DeviceState = { ...fresh, p: 'session', v: [0, 1, 2, 1] };
    s = onAnswer(s, 'ts005', [{ type: 'McClassCSessionAns', mcGroupId: 0, startMissed: true, drError: false, freqError: false, mcGroupUndefined: false }], c, 0).state;
    expect([s.p, s.sr]).toEqual(['ready', 1]);
    const req = nextRequest(s, c)!.commands[0]!;
    if (req.type !== 'McClassCSessionReq') throw new Error(`unexpected ${req.type}`);
    expect(req.sessionTime).toBe(1_500_000_100 + ctx.sessionLeadS);
    expect(2 ** req.timeOut).toBeGreaterThanOrEqual(c.sessionEndGps - req.sessionTime);
    s = { ...s, p: 'session', sr: 2 };
    s = onAnswer(s, 'ts005', [{ type: 'McClassCSessionAns', mcGroupId: 0, startMissed: true, drError: false, freqError: false, mcGroupUndefined: false }], c, 0).state;
    expect([s.s, s.r]).toEqual(['SessionError', 'McClassCSessionAns: startMissed']);
  });

  it('upgrade -> reboot -> verify -> Updated, and "no image" sends the device back to listening', () => {
    let s: DeviceState = { ...fresh, p: phaseAfterSend('complete'), v: [0, 1, 1, 1] };
    expect(answer(s, 'ts006', '0400').state).toMatchObject({ p: 'listening', np: 1 });
    expect(answer(s, 'ts006', '0401').state).toMatchObject({ s: 'ImageRejected', r: 'DevUpgradeImageAns: image corrupt or bad signature' });
    s = answer(s, 'ts006', '040300000101').state;
    expect(s.p).toBe('reboot');
    expect(bytes('ts006', s)).toBe('031e0000');
    s = answer(s, 'ts006', '031e0000').state;
    expect(s.p).toBe('verify');
    expect(nextRequest(s, ctx)).toBeNull(); // still rebooting
    expect(bytes('ts006', s, { ...ctx, nowMs: s.w! })).toBe('01');
    s = answer(s, 'ts006', '010000010101000000').state;
    expect([s.s, s.p, s.fw]).toEqual(['Updated', 'cleanup', 0x01010000]);
    s = answer(s, 'ts004', '0300').state;
    s = answer(s, 'ts005', '0300').state;
    expect(s.p).toBe('final');
  });

  it('retries an unanswered request, then times out', () => {
    let s: DeviceState = { ...fresh, o: { port: 200, hex: '00', at: 0, n: 1, ok: true } };
    s = onTimeout(s, ctx).state;
    expect(s.o).toMatchObject({ n: 2, ok: false });
    s = onTimeout({ ...s, o: { ...s.o!, n: 3 } }, ctx).state;
    expect([s.s, s.p]).toEqual(['Timeout', 'final']);
    // A device that answered one package but not another may have lost the answers: NoAnswer, with the phase.
    const partial = onTimeout({ ...fresh, v: [0, 0, 1, 0], o: { port: 201, hex: '00', at: 0, n: 3, ok: true } }, ctx).state;
    expect([partial.s, partial.r]).toEqual(['NoAnswer', 'no PackageVersionAns on port 201 after 3 attempts (discover)']);
  });
});
