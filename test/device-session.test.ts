// A whole FUOTA session driven by bytes alone, for LoRaMac-node (v1) and LBM (v1, v2): clock sync, package versions,
// multicast keys, fragmentation over encrypted multicast frames with loss, status, TS006 upgrade and reboot.
import { describe, expect, it } from 'vitest';
import { encodeCommands, type AnyCommand } from '../src/codec/frame.js';
import { fecEncode } from '../src/codec/fec.js';
import { dataBlockIntKey, mcSessionKeys } from '../src/codec/keys.js';
import { dataBlockMic } from '../src/codec/mic.js';
import type { DeviceAppLayer } from '../src/device/app-layer.js';
import {
  collect, gpsAt, groupSetup, makeDevice, MC_ADDR, MC_KEY, mcFrame, only, ROOT_KEY, send, signedImage, STACKS, T0, V1_0_0, V1_1_0,
  versionsOf, type Stack,
} from './device-harness.js';

const FRAG_SIZE = 48;
const BLOCK_ACK_DELAY = 1; // answers within 2^5 s

/** Answers the boot AppTimeReq like the server (correction = true GPS time − DeviceTime) and returns the time after. */
function syncClock(dev: DeviceAppLayer, v: 1 | 2, nowMs: number): number {
  const req = only(collect(dev, v, nowMs, nowMs));
  if (req.type !== 'AppTimeReq') throw new Error(`expected AppTimeReq, got ${req.type}`);
  send(dev, v, 'ts003', [{ type: 'AppTimeAns', timeCorrection: gpsAt(nowMs) - req.deviceTime, tokenAns: req.tokenReq }], nowMs + 1000);
  return nowMs + 1000;
}

interface SessionOptions {
  image: Uint8Array;
  lost: Set<number>;
  redundancy: number;
  serverRootKey?: Uint8Array;
  ackReception?: boolean;
}

/** Runs setup → Class C session → fragments; returns the time after the last fragment. */
function deliver(dev: DeviceAppLayer, stack: Stack, o: SessionOptions, startMs: number): { t: number; nbFrag: number } {
  const { v } = stack;
  let t = startMs;
  send(dev, v, 'ts005', [groupSetup(o.serverRootKey ?? ROOT_KEY, '1.0')], t);
  expect(only(collect(dev, v, t, t))).toEqual({ type: 'McGroupSetupAns', mcGroupId: 0, idError: false });

  const rule = v;
  const enc = fecEncode(o.image, { fragSize: FRAG_SIZE, redundancy: o.redundancy, rule });
  const setup: AnyCommand = {
    type: 'FragSessionSetupReq', fragIndex: 0, mcGroupBitMask: 1, nbFrag: enc.nbFrag, fragSize: FRAG_SIZE, fragAlgo: 0,
    blockAckDelay: BLOCK_ACK_DELAY, padding: enc.padding, descriptor: 0x01020304,
    ...(v === 2
      ? {
          ackReception: o.ackReception ?? false,
          sessionCnt: 0,
          mic: dataBlockMic(dataBlockIntKey(o.serverRootKey ?? ROOT_KEY), { sessionCnt: 0, fragIndex: 0, descriptor: 0x01020304, data: o.image }),
        }
      : {}),
  };
  send(dev, v, 'ts004', [setup], t);
  const setupAns = only(collect(dev, v, t, t));
  expect(setupAns).toMatchObject({ type: 'FragSessionSetupAns', fragIndex: 0, fragAlgoUnsupported: false, notEnoughMemory: false });

  const sessionTime = gpsAt(t) + 600;
  send(dev, v, 'ts005', [{ type: 'McClassCSessionReq', mcGroupId: 0, sessionTime, timeOut: 12, dlFrequencyHz: 869_525_000, dr: 0 }], t);
  const sessionAns = only(collect(dev, v, t, t));
  expect(sessionAns).toMatchObject({ type: 'McClassCSessionAns', mcGroupId: 0, mcGroupUndefined: false, timeToStart: 600 });

  t = T0 + (sessionTime - gpsAt(T0)) * 1000 + 2000;
  enc.fragments.forEach((payload, i) => {
    const n = i + 1;
    if (!o.lost.has(n)) {
      const cmd = encodeCommands('ts004', 'downlink', [{ type: 'DataFragment', fragIndex: 0, n, payload }], versionsOf(v));
      dev.receiveMulticast(mcFrame(n, 201, cmd), t);
    }
    t += 2000;
  });
  return { t, nbFrag: enc.nbFrag };
}

function upgradeAndReboot(dev: DeviceAppLayer, v: 1 | 2, t: number): number {
  send(dev, v, 'ts006', [{ type: 'DevRebootCountdownReq', countdown: 60 }], t);
  const ans = only(collect(dev, v, t, t + 3000));
  expect(ans.type).toBe('DevRebootCountdownAns');
  expect((ans as { countdown: number }).countdown).toBeGreaterThanOrEqual(57);
  expect((ans as { countdown: number }).countdown).toBeLessThanOrEqual(60);
  expect(dev.snapshot().reboots).toBe(0);
  dev.advance(t + 61_000);
  expect(dev.snapshot().reboots).toBe(1);
  // After the reset the device asks for the time again (LBM restarts its uptime clock).
  expect(dev.snapshot().clockSynced).toBe(dev.profile.name === 'loramac-node');
  return syncClock(dev, v, t + 61_000);
}

describe.each(STACKS)('device session: $profile v$v', (stack) => {
  const { v } = stack;

  it('answers PackageVersionReq on every port with its package id and version', () => {
    const dev = makeDevice(stack);
    let t = syncClock(dev, v, T0);
    const ids = { ts003: 1, ts005: 2, ts004: 3, ts006: 4 } as const;
    for (const pkg of ['ts003', 'ts005', 'ts004', 'ts006'] as const) {
      send(dev, v, pkg, [{ type: 'PackageVersionReq' }], t);
      expect(only(collect(dev, v, t, t + 3000))).toEqual({
        type: 'PackageVersionAns',
        packageIdentifier: ids[pkg],
        packageVersion: pkg === 'ts006' ? 1 : v,
      });
      t += 3000;
    }
  });

  it('syncs its clock with a token-checked AppTimeAns', () => {
    const dev = makeDevice(stack, { clockOffsetMs: -250_000 });
    const req = only(collect(dev, v, T0, T0));
    expect(req).toMatchObject({ type: 'AppTimeReq', tokenReq: 0, ansRequired: stack.profile === 'lbm' });
    // LBM counts uptime before its first sync; LoRaMac-node reads its (wrong) clock.
    if (stack.profile === 'lbm') expect((req as { deviceTime: number }).deviceTime).toBe(0);
    else expect((req as { deviceTime: number }).deviceTime).toBe(gpsAt(T0) - 250);
    const correction = gpsAt(T0) - (req as { deviceTime: number }).deviceTime;
    send(dev, v, 'ts003', [{ type: 'AppTimeAns', timeCorrection: correction, tokenAns: 5 }], T0 + 1000);
    expect(dev.snapshot().clockSynced).toBe(false);
    send(dev, v, 'ts003', [{ type: 'AppTimeAns', timeCorrection: correction, tokenAns: 0 }], T0 + 1000);
    expect(dev.snapshot().clockSynced).toBe(true);
    expect(Math.abs(dev.snapshot().clockOffsetMs)).toBeLessThan(1000);
  });

  it('derives the same multicast session keys as the server', () => {
    const dev = makeDevice(stack);
    send(dev, v, 'ts005', [groupSetup(ROOT_KEY, '1.0')], T0);
    const keys = mcSessionKeys(MC_KEY, MC_ADDR);
    const g = dev.snapshot().groups[0]!;
    expect(g.mcAppSKey).toBe(Buffer.from(keys.mcAppSKey).toString('hex'));
    expect(g.mcNwkSKey).toBe(Buffer.from(keys.mcNwkSKey).toString('hex'));
    expect(g.mcAppSKey).toBe('dc6ca426806cdd74a62ba5877466f6b3'); // own key-chain vector (docs/protocol.md §6)
  });

  it('reassembles an image from lossy multicast, reports status, installs it at reboot', () => {
    const dev = makeDevice(stack);
    const image = signedImage();
    let t = syncClock(dev, v, T0);
    const lost = new Set([2, 5, 9]);
    const r = deliver(dev, stack, { image, lost, redundancy: 12 }, t);
    t = r.t;
    const snap = dev.snapshot();
    expect(snap.frag?.status).toBe('done');
    expect(snap.frag?.receivedN.every((n) => !lost.has(n))).toBe(true);
    expect(snap.frag?.receivedN.length).toBe(snap.frag?.stats.received);
    expect(snap.imageStatus).toBe(3);
    const doneAt = snap.frag!.stats.doneAtN!;
    expect(doneAt).toBeGreaterThan(r.nbFrag);

    send(dev, v, 'ts004', [{ type: 'FragSessionStatusReq', fragIndex: 0, participants: true }], t);
    const heard = collect(dev, v, t, t + 40_000);
    expect(heard[0]!.atMs - t).toBeLessThanOrEqual(2 ** (BLOCK_ACK_DELAY + 4) * 1000);
    const status = only(heard);
    if (stack.profile === 'loramac-node') {
      // Last N received, cumulative uncoded losses.
      expect(status).toEqual({ type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: doneAt, missingFrag: 3, notEnoughMatrixMemory: false });
    } else if (v === 1) {
      expect(status).toEqual({ type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: doneAt - 3, missingFrag: 0, notEnoughMatrixMemory: false });
    } else {
      expect(status).toEqual({
        type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: doneAt - 3, missingFrag: 0,
        memoryError: false, micError: false, sessionDoesNotExist: false,
      });
    }
    t = heard[0]!.atMs;

    send(dev, v, 'ts006', [{ type: 'DevUpgradeImageReq' }], t);
    expect(only(collect(dev, v, t, t + 3000))).toEqual({ type: 'DevUpgradeImageAns', status: 3, nextFirmwareVersion: V1_1_0 });
    t += 3000;
    t = upgradeAndReboot(dev, v, t);
    send(dev, v, 'ts006', [{ type: 'DevVersionReq' }], t);
    expect(only(collect(dev, v, t, t + 3000))).toEqual({ type: 'DevVersionAns', fwVersion: V1_1_0, hwVersion: 0xabcd });
    expect(dev.snapshot().runningVersion).toBe(V1_1_0);
  });

  it('drops every multicast frame when the server derived the keys from the wrong root key', () => {
    const dev = makeDevice(stack);
    const t = syncClock(dev, v, T0);
    const wrongRoot = Uint8Array.from(ROOT_KEY, (b) => b ^ 0xff);
    const r = deliver(dev, stack, { image: signedImage(), lost: new Set(), redundancy: 4, serverRootKey: wrongRoot }, t);
    const snap = dev.snapshot();
    expect(snap.groups[0]!.accepted).toBe(0);
    expect(snap.groups[0]!.dropped.mic).toBe(r.nbFrag + 4);
    expect(snap.frag?.stats.received).toBe(0);
    expect(snap.frag?.receivedN).toEqual([]);
  });

  it('reports a corrupt image with status 1 and keeps its version across the reboot', () => {
    const dev = makeDevice(stack);
    const image = signedImage();
    image[image.length - 10]! ^= 0x40; // payload byte: the digest no longer matches
    let t = syncClock(dev, v, T0);
    t = deliver(dev, stack, { image, lost: new Set([3]), redundancy: 8 }, t).t;
    expect(dev.snapshot().frag?.status).toBe('done');
    send(dev, v, 'ts006', [{ type: 'DevUpgradeImageReq' }], t);
    expect(only(collect(dev, v, t, t + 3000))).toEqual({ type: 'DevUpgradeImageAns', status: 1 });
    t = upgradeAndReboot(dev, v, t + 3000);
    send(dev, v, 'ts006', [{ type: 'DevVersionReq' }], t);
    expect(only(collect(dev, v, t, t + 3000))).toEqual({ type: 'DevVersionAns', fwVersion: V1_0_0, hwVersion: 0xabcd });
  });
});
