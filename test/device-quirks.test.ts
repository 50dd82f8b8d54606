// Profile-specific behaviour a server has to cope with (docs/protocol.md §9), asserted on answer bytes/objects.
import { describe, expect, it } from 'vitest';
import { encodeCommands, type AnyCommand } from '../src/codec/frame.js';
import { fecEncode } from '../src/codec/fec.js';
import { dataBlockIntKey } from '../src/codec/keys.js';
import { dataBlockMic } from '../src/codec/mic.js';
import type { DeviceAppLayer } from '../src/device/app-layer.js';
import {
  collect, gpsAt, groupSetup, makeDevice, mcFrame, only, ROOT_KEY, send, signedImage, T0, versionsOf, type Stack,
} from './device-harness.js';

const LMN: Stack = { profile: 'loramac-node', v: 1 };
const LBM1: Stack = { profile: 'lbm', v: 1 };
const LBM2: Stack = { profile: 'lbm', v: 2 };

function sync(dev: DeviceAppLayer, v: 1 | 2, t: number): number {
  const req = only(collect(dev, v, t, t)) as { deviceTime: number; tokenReq: number };
  send(dev, v, 'ts003', [{ type: 'AppTimeAns', timeCorrection: gpsAt(t) - req.deviceTime, tokenAns: req.tokenReq }], t + 1000);
  return t + 1000;
}

/** Group 0 with an open Class C window from `t` + 10 s; returns the window start (true ms). */
function openSession(dev: DeviceAppLayer, v: 1 | 2, t: number, timeOut = 12): number {
  send(dev, v, 'ts005', [groupSetup(ROOT_KEY, '1.0')], t);
  const sessionTime = gpsAt(t) + 10;
  send(dev, v, 'ts005', [{ type: 'McClassCSessionReq', mcGroupId: 0, sessionTime, timeOut, dlFrequencyHz: 869_525_000, dr: 0 }], t);
  collect(dev, v, t, t);
  return t + 11_000;
}

function fragSetup(v: 1 | 2, image: Uint8Array, extra: Partial<Record<string, unknown>> = {}): { cmd: AnyCommand; fragments: Uint8Array[]; nbFrag: number } {
  const enc = fecEncode(image, { fragSize: 48, redundancy: 20, rule: v });
  const base = {
    type: 'FragSessionSetupReq', fragIndex: 0, mcGroupBitMask: 1, nbFrag: enc.nbFrag, fragSize: 48, fragAlgo: 0, blockAckDelay: 0,
    padding: enc.padding, descriptor: 0,
  };
  const v2 = v === 2
    ? { ackReception: false, sessionCnt: 0, mic: dataBlockMic(dataBlockIntKey(ROOT_KEY), { sessionCnt: 0, fragIndex: 0, descriptor: 0, data: image }) }
    : {};
  return { cmd: { ...base, ...v2, ...extra } as AnyCommand, fragments: enc.fragments, nbFrag: enc.nbFrag };
}

function feed(dev: DeviceAppLayer, v: 1 | 2, fragments: Uint8Array[], lost: Set<number>, t: number, fragIndex = 0, fCnt0 = 0): number {
  fragments.forEach((payload, i) => {
    const n = i + 1;
    if (lost.has(n)) return;
    const cmd = encodeCommands('ts004', 'downlink', [{ type: 'DataFragment', fragIndex, n, payload }], versionsOf(v));
    dev.receiveMulticast(mcFrame(fCnt0 + n, 201, cmd), t + n * 1000);
  });
  return t + (fragments.length + 1) * 1000;
}

describe('TS005 session answers', () => {
  const past = (stack: Stack): AnyCommand => {
    const dev = makeDevice(stack);
    const t = sync(dev, stack.v, T0);
    send(dev, stack.v, 'ts005', [groupSetup(ROOT_KEY, '1.0')], t);
    collect(dev, stack.v, t, t);
    send(dev, stack.v, 'ts005', [{ type: 'McClassCSessionReq', mcGroupId: 0, sessionTime: gpsAt(t), timeOut: 8, dlFrequencyHz: 869_525_000, dr: 0 }], t);
    return only(collect(dev, stack.v, t, t));
  };

  it('LoRaMac-node answers a session start now or in the past with McGroupUndefined', () => {
    expect(past(LMN)).toEqual({ type: 'McClassCSessionAns', mcGroupId: 0, drError: false, freqError: false, mcGroupUndefined: true, startMissed: false });
  });

  it('LBM answers it with StartMissed, in v1 and v2 builds', () => {
    for (const s of [LBM1, LBM2]) {
      expect(past(s)).toEqual({ type: 'McClassCSessionAns', mcGroupId: 0, drError: false, freqError: false, mcGroupUndefined: false, startMissed: true });
    }
  });

  it('LoRaMac-node cuts TimeToStart to 24 bits when its clock is far off; LBM saturates when unsynchronised', () => {
    const lmn = makeDevice(LMN, { clockOffsetMs: -(2 ** 24 + 100) * 1000 });
    collect(lmn, 1, T0, T0); // its AppTimeReq goes unanswered
    send(lmn, 1, 'ts005', [groupSetup(ROOT_KEY, '1.0')], T0);
    send(lmn, 1, 'ts005', [{ type: 'McClassCSessionReq', mcGroupId: 0, sessionTime: gpsAt(T0) + 600, timeOut: 8, dlFrequencyHz: 869_525_000, dr: 0 }], T0);
    const heard = collect(lmn, 1, T0, T0);
    expect(heard[0]!.commands[1]).toMatchObject({ type: 'McClassCSessionAns', timeToStart: 700 });

    const lbm = makeDevice(LBM2);
    collect(lbm, 2, T0, T0);
    send(lbm, 2, 'ts005', [groupSetup(ROOT_KEY, '1.0')], T0);
    send(lbm, 2, 'ts005', [{ type: 'McClassCSessionReq', mcGroupId: 0, sessionTime: gpsAt(T0) + 600, timeOut: 8, dlFrequencyHz: 869_525_000, dr: 0 }], T0);
    expect(collect(lbm, 2, T0, T0)[0]!.data).toEqual(Uint8Array.from([0x02, 0x00, 0x04, 0x00, 0xff, 0xff, 0xff]));
  });

  it('LoRaMac-node executes the McGroupStatusReq mask byte as a command (here: delete group 0)', () => {
    const dev = makeDevice(LMN);
    send(dev, 1, 'ts005', [groupSetup(ROOT_KEY, '1.0')], T0);
    collect(dev, 1, T0, T0);
    dev.receiveUnicast(200, Uint8Array.from([0x01, 0x03, 0x00]), T0);
    expect(collect(dev, 1, T0, T0).flatMap((h) => h.commands)).toEqual([{ type: 'McGroupDeleteAns', mcGroupId: 0, mcGroupUndefined: false }]);
    expect(dev.snapshot().groups).toEqual([]);
  });

  it('LBM lists at most 2 groups in McGroupStatusAns', () => {
    const dev = makeDevice(LBM1);
    send(dev, 1, 'ts005', [groupSetup(ROOT_KEY, '1.0', 0, 0x11), groupSetup(ROOT_KEY, '1.0', 1, 0x22), groupSetup(ROOT_KEY, '1.0', 3, 0x33)], T0);
    collect(dev, 1, T0, T0);
    send(dev, 1, 'ts005', [{ type: 'McGroupStatusReq', reqGroupMask: 0x0f }], T0);
    const ans = collect(dev, 1, T0, T0).flatMap((h) => h.commands).find((c) => c.type === 'McGroupStatusAns');
    expect(ans).toEqual({ type: 'McGroupStatusAns', nbTotalGroups: 3, ansGroupMask: 0x03, groups: [{ mcGroupId: 0, mcAddr: 0x11 }, { mcGroupId: 1, mcAddr: 0x22 }] });
  });

  it('Class B request: LoRaMac-node opens a Class C window of 2^TimeOut s; LBM a Class B one of 128·2^TimeOut s', () => {
    for (const [stack, kind, seconds] of [[LMN, 'C', 16], [LBM1, 'B', 128 * 16]] as const) {
      const dev = makeDevice(stack);
      const t = sync(dev, 1, T0);
      send(dev, 1, 'ts005', [groupSetup(ROOT_KEY, '1.0')], t);
      const sessionTime = Math.floor((gpsAt(t) + 256) / 128) * 128;
      send(dev, 1, 'ts005', [{ type: 'McClassBSessionReq', mcGroupId: 0, sessionTime, timeOut: 4, periodicity: 2, dlFrequencyHz: 869_525_000, dr: 3 }], t);
      expect(collect(dev, 1, t, t).flatMap((h) => h.commands)[1]).toMatchObject({ type: 'McClassBSessionAns', mcGroupUndefined: false, startMissed: false });
      const w = dev.snapshot().groups[0]!.session!;
      expect(w.kind).toBe(kind);
      expect(w.endReadingMs - w.startReadingMs).toBe(seconds * 1000);
    }
  });

  it('LBM acknowledges a group setup with minMcFCnt > maxMcFCnt but does not apply it; LoRaMac-node applies it', () => {
    for (const stack of [LMN, LBM1]) {
      const dev = makeDevice(stack);
      send(dev, 1, 'ts005', [{ ...groupSetup(ROOT_KEY, '1.0'), minMcFCnt: 5, maxMcFCnt: 4 } as AnyCommand], T0);
      expect(collect(dev, 1, T0, T0).flatMap((h) => h.commands)).toContainEqual({ type: 'McGroupSetupAns', mcGroupId: 0, idError: false });
      expect(dev.snapshot().groups.length).toBe(stack.profile === 'lbm' ? 0 : 1);
    }
  });

  it('drops multicast frames outside the FCnt window and outside the session window', () => {
    const dev = makeDevice(LBM1);
    const t = sync(dev, 1, T0);
    send(dev, 1, 'ts005', [{ ...groupSetup(ROOT_KEY, '1.0'), minMcFCnt: 10, maxMcFCnt: 20 } as AnyCommand], t);
    const frame = (fCnt: number) => mcFrame(fCnt, 200, Uint8Array.from([0x00]));
    dev.receiveMulticast(frame(12), t); // no session yet
    const start = openSession(dev, 1, t, 4); // group re-setup keeps [0, max]: set the window again
    send(dev, 1, 'ts005', [{ ...groupSetup(ROOT_KEY, '1.0'), minMcFCnt: 10, maxMcFCnt: 20 } as AnyCommand], start - 11_000);
    send(dev, 1, 'ts005', [{ type: 'McClassCSessionReq', mcGroupId: 0, sessionTime: gpsAt(start) - 1, timeOut: 4, dlFrequencyHz: 869_525_000, dr: 0 }], start - 11_000);
    for (const f of [9, 21, 12, 12, 15]) dev.receiveMulticast(frame(f), start);
    dev.receiveMulticast(frame(16), start + 17_000); // 2^4 s window closed
    const g = dev.snapshot().groups[0]!;
    expect(g.accepted).toBe(2); // 12 and 15
    expect(g.dropped).toEqual({ fCnt: 3, window: 1, mic: 0 }); // 9, 21, repeated 12; 16 after the window
  });
});

describe('TS004 device behaviour', () => {
  it('LBM v2 answers FragSessionStatusReq for a missing session with 4 bytes and a spurious MIC bit; an unfed one with zeros', () => {
    const dev = makeDevice(LBM2);
    send(dev, 2, 'ts004', [{ type: 'FragSessionStatusReq', fragIndex: 1, participants: true }], T0);
    const heard = collect(dev, 2, T0, T0 + 20_000).filter((h) => h.fPort === 201);
    expect(heard[0]!.data).toEqual(Uint8Array.from([0x01, 0x06, 0x00, 0x40, 0x00]));

    const { cmd } = fragSetup(2, signedImage());
    send(dev, 2, 'ts004', [{ ...cmd, fragIndex: 2 } as AnyCommand], T0);
    send(dev, 2, 'ts004', [{ type: 'FragSessionStatusReq', fragIndex: 2, participants: true }], T0);
    const ans = collect(dev, 2, T0, T0 + 20_000).filter((h) => h.fPort === 201).flatMap((h) => h.commands);
    expect(ans).toContainEqual({ type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 0, missingFrag: 0, memoryError: false, micError: false, sessionDoesNotExist: false });
  });

  it('LBM v2 with AckReception sends FragDataBlockReceivedReq up to 3 times; the Ans stops the repeats', () => {
    const count = (withAns: boolean): number => {
      const dev = makeDevice(LBM2);
      let t = sync(dev, 2, T0);
      t = openSession(dev, 2, t);
      const s = fragSetup(2, signedImage(), { ackReception: true });
      send(dev, 2, 'ts004', [s.cmd], t);
      collect(dev, 2, t, t);
      t = feed(dev, 2, s.fragments, new Set([4]), t);
      let reqs = 0;
      for (let at = dev.nextAnswerAt(); at < t + 200_000; at = dev.nextAnswerAt()) {
        for (const c of collect(dev, 2, at, at).flatMap((h) => h.commands)) {
          expect(c).toEqual({ type: 'FragDataBlockReceivedReq', fragIndex: 0, micError: false });
          reqs++;
          // The answer arrives in the RX window of the uplink that carried the request.
          if (withAns) send(dev, 2, 'ts004', [{ type: 'FragDataBlockReceivedAns', fragIndex: 0 }], at + 1000);
        }
      }
      return reqs;
    };
    expect(count(false)).toBe(3);
    expect(count(true)).toBe(1);
  });

  it('LBM v2 accepts a setup with a wrong MIC and reports MICError only after reassembly; the block is discarded', () => {
    const dev = makeDevice(LBM2);
    let t = sync(dev, 2, T0);
    t = openSession(dev, 2, t);
    const s = fragSetup(2, signedImage(), { ackReception: true, mic: Uint8Array.from([1, 2, 3, 4]) });
    send(dev, 2, 'ts004', [s.cmd], t);
    expect(only(collect(dev, 2, t, t))).toMatchObject({ type: 'FragSessionSetupAns', fragAlgoUnsupported: false, notEnoughMemory: false, sessionCntReplay: false });
    t = feed(dev, 2, s.fragments, new Set([2]), t);
    const reqs = collect(dev, 2, t, t + 200_000).flatMap((h) => h.commands).filter((c) => c.type === 'FragDataBlockReceivedReq');
    expect(reqs[0]).toEqual({ type: 'FragDataBlockReceivedReq', fragIndex: 0, micError: true });
    expect(dev.snapshot().frag?.micError).toBe(true);
    expect(dev.snapshot().imageStatus).toBe(0);
  });

  it('v2 SessionCnt: replay rejected once a fragment of the session arrived; LBM forgets it at reboot', () => {
    const dev = makeDevice(LBM2);
    let t = sync(dev, 2, T0);
    const setupWith = (sessionCnt: number): AnyCommand => {
      const s = fragSetup(2, signedImage(), { sessionCnt });
      send(dev, 2, 'ts004', [s.cmd], t);
      return only(collect(dev, 2, t, t));
    };
    expect(setupWith(3)).toMatchObject({ sessionCntReplay: false });
    expect(setupWith(3)).toMatchObject({ sessionCntReplay: false }); // no fragment yet
    const frag = encodeCommands('ts004', 'downlink', [{ type: 'DataFragment', fragIndex: 0, n: 1, payload: new Uint8Array(48) }], versionsOf(2));
    dev.receiveUnicast(201, frag, t);
    expect(setupWith(3)).toMatchObject({ sessionCntReplay: true });
    expect(setupWith(4)).toMatchObject({ sessionCntReplay: false });
    send(dev, 2, 'ts006', [{ type: 'DevRebootCountdownReq', countdown: 0 }], t);
    dev.advance(t + 1);
    t = sync(dev, 2, t + 1);
    expect(setupWith(1)).toMatchObject({ sessionCntReplay: false });
  });

  it('too many losses: LoRaMac-node "completes" with garbage (image status 1); LBM reports the memory error', () => {
    const run = (stack: Stack) => {
      const dev = makeDevice(stack, { limits: { maxNbFrag: 64, maxFragSize: 64, maxLost: 2 } });
      let t = sync(dev, stack.v, T0);
      t = openSession(dev, stack.v, t);
      const s = fragSetup(stack.v, signedImage());
      send(dev, stack.v, 'ts004', [s.cmd], t);
      collect(dev, stack.v, t, t);
      t = feed(dev, stack.v, s.fragments, new Set([2, 3, 4, 6]), t);
      send(dev, stack.v, 'ts004', [{ type: 'FragSessionStatusReq', fragIndex: 0, participants: true }], t);
      return { dev, status: collect(dev, stack.v, t, t + 20_000).flatMap((h) => h.commands) };
    };
    const lmn = run(LMN);
    expect(lmn.dev.snapshot().frag?.status).toBe('done');
    expect(lmn.dev.snapshot().imageStatus).toBe(1);
    const lbm = run(LBM1);
    expect(lbm.dev.snapshot().frag?.status).toBe('memoryError');
    expect(lbm.dev.snapshot().imageStatus).toBe(0);
    expect(lbm.status[0]).toMatchObject({ type: 'FragSessionStatusAns', notEnoughMatrixMemory: true });
  });

  it('Participants = 0: only devices still missing fragments answer', () => {
    const dev = makeDevice(LBM2);
    let t = sync(dev, 2, T0);
    t = openSession(dev, 2, t);
    const s = fragSetup(2, signedImage());
    send(dev, 2, 'ts004', [s.cmd], t);
    collect(dev, 2, t, t);
    feed(dev, 2, s.fragments.slice(0, 5), new Set([2]), t);
    send(dev, 2, 'ts004', [{ type: 'FragSessionStatusReq', fragIndex: 0, participants: false }], t + 10_000);
    expect(collect(dev, 2, t + 10_000, t + 40_000).flatMap((h) => h.commands)).toEqual([
      { type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 4, missingFrag: 1, memoryError: false, micError: false, sessionDoesNotExist: false },
    ]);
    t = feed(dev, 2, s.fragments, new Set([2]), t + 40_000);
    expect(dev.snapshot().frag?.status).toBe('done');
    send(dev, 2, 'ts004', [{ type: 'FragSessionStatusReq', fragIndex: 0, participants: false }], t);
    expect(collect(dev, 2, t, t + 40_000)).toEqual([]);
  });

  it('LBM ignores fragments from a group not in McGroupBitMask; LoRaMac-node takes them', () => {
    for (const stack of [LMN, LBM1]) {
      const dev = makeDevice(stack);
      let t = sync(dev, 1, T0);
      t = openSession(dev, 1, t);
      const s = fragSetup(1, signedImage(), { mcGroupBitMask: 0b0010 });
      send(dev, 1, 'ts004', [s.cmd], t);
      feed(dev, 1, s.fragments.slice(0, 3), new Set(), t);
      expect(dev.snapshot().frag?.stats.received).toBe(stack.profile === 'lbm' ? 0 : 3);
    }
  });

  it('commands on a multicast address: LoRaMac-node answers them, LBM drops them', () => {
    for (const stack of [LMN, LBM1]) {
      const dev = makeDevice(stack);
      let t = sync(dev, 1, T0);
      t = openSession(dev, 1, t);
      dev.receiveMulticast(mcFrame(1, 200, Uint8Array.from([0x00])), t);
      const heard = collect(dev, 1, t, t).flatMap((h) => h.commands);
      expect(heard).toEqual(stack.profile === 'lbm' ? [] : [{ type: 'PackageVersionAns', packageIdentifier: 2, packageVersion: 1 }]);
    }
  });
});

describe('answers and timing', () => {
  it('keeps every uplink within the answer buffer (LBM: 15 bytes for TS005) and loses no answer', () => {
    const dev = makeDevice(LBM1);
    collect(dev, 1, T0, T0);
    dev.receiveUnicast(200, new Uint8Array(6), T0); // six PackageVersionReq
    const heard = collect(dev, 1, T0, T0);
    expect(heard.map((h) => h.data.length)).toEqual([15, 3]);
    expect(heard.flatMap((h) => h.commands)).toHaveLength(6);
  });

  it('ForceDeviceResync: AppTimeReq on up to NbTransmissions uplinks, stopping at a valid answer', () => {
    const dev = makeDevice(LBM2);
    collect(dev, 2, T0, T0);
    send(dev, 2, 'ts003', [{ type: 'ForceDeviceResyncCmd', nbTransmissions: 3 }], T0 + 1000);
    const first = only(collect(dev, 2, T0 + 1000, T0 + 1000)) as { ansRequired: boolean; tokenReq: number; deviceTime: number };
    expect(first).toMatchObject({ type: 'AppTimeReq', ansRequired: false, tokenReq: 0 });
    const second = only(collect(dev, 2, T0 + 2000, T0 + 2000)) as { tokenReq: number; deviceTime: number };
    send(dev, 2, 'ts003', [{ type: 'AppTimeAns', timeCorrection: gpsAt(T0 + 2000) - second.deviceTime, tokenAns: second.tokenReq }], T0 + 3000);
    expect(collect(dev, 2, T0 + 3000, T0 + 60_000)).toEqual([]);
    expect(dev.snapshot().clockSynced).toBe(true);
  });

  it('TS006 reboot time and delete-image errors', () => {
    const dev = makeDevice(LMN);
    send(dev, 1, 'ts006', [{ type: 'DevRebootTimeReq', rebootTime: gpsAt(T0) + 3600 }], T0);
    const heard = collect(dev, 1, T0, T0);
    expect(heard.find((h) => h.fPort === 203)?.commands).toEqual([{ type: 'DevRebootTimeAns', rebootTime: 0 }]); // no time yet
    const req = heard.find((h) => h.fPort === 202)!.commands[0] as { deviceTime: number; tokenReq: number };
    send(dev, 1, 'ts003', [{ type: 'AppTimeAns', timeCorrection: gpsAt(T0) - req.deviceTime, tokenAns: req.tokenReq }], T0 + 1000);
    const t = T0 + 1000;
    send(dev, 1, 'ts006', [{ type: 'DevRebootTimeReq', rebootTime: gpsAt(t) + 3600 }], t);
    expect(only(collect(dev, 1, t, t))).toEqual({ type: 'DevRebootTimeAns', rebootTime: 3600 });
    send(dev, 1, 'ts006', [{ type: 'DevRebootTimeReq', rebootTime: 0xffffffff }], t);
    expect(only(collect(dev, 1, t, t))).toEqual({ type: 'DevRebootTimeAns', rebootTime: 0xffffffff });
    expect(dev.snapshot().rebootAtMs).toBeNull();
    send(dev, 1, 'ts006', [{ type: 'DevDeleteImageReq', firmwareToDeleteVersion: 0x01010000 }], t);
    expect(only(collect(dev, 1, t, t))).toEqual({ type: 'DevDeleteImageAns', errorInvalidVersion: false, errorNoValidImage: true });
  });

  it('is deterministic: the same seed gives the same uplinks at the same times', () => {
    const run = (): string[] => {
      const dev = makeDevice(LBM2, { seed: 7 });
      let t = sync(dev, 2, T0);
      t = openSession(dev, 2, t);
      send(dev, 2, 'ts004', [{ type: 'FragSessionStatusReq', fragIndex: 0, participants: true }], t);
      send(dev, 2, 'ts006', [{ type: 'DevVersionReq' }], t);
      return collect(dev, 2, t, t + 100_000).map((h) => `${h.atMs - t}:${h.fPort}:${Buffer.from(h.data).toString('hex')}`);
    };
    const a = run();
    expect(a.length).toBe(2);
    expect(run()).toEqual(a);
  });
});
