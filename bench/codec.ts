// Codec figures: `npm run build && npm run bench -- --only codec` (or `--only uplink-decode`).
import { performance } from 'node:perf_hooks';
import type { Bench } from './run.js';
import { decodeCommands, encodeCommands, type AnyCommand, type PackageName, type Versions } from '../src/codec/frame.js';
import { decodeDownlinkFrame, encodeDownlinkFrame } from '../src/codec/lorawan-frame.js';
import { dataBlockIntKey } from '../src/codec/keys.js';
import { dataBlockMic } from '../src/codec/mic.js';
import { medianMs } from './timing.js';


const V2: Versions = { ts003: 2, ts004: 2, ts005: 2 };

/** One campaign's uplinks per device, weighted like a fleet update: a few setup answers, many status/time answers. */
const MIX: [PackageName, AnyCommand[], number][] = [
  ['ts005', [{ type: 'PackageVersionAns', packageIdentifier: 2, packageVersion: 2 }, { type: 'McGroupSetupAns', mcGroupId: 0, idError: false }], 1],
  ['ts005', [{ type: 'McClassCSessionAns', mcGroupId: 0, drError: false, freqError: false, mcGroupUndefined: false, startMissed: false, timeToStart: 600 }], 1],
  ['ts004', [{ type: 'FragSessionSetupAns', fragIndex: 0, fragAlgoUnsupported: false, notEnoughMemory: false, fragIndexUnsupported: false, wrongDescriptor: false, sessionCntReplay: false }], 1],
  ['ts004', [{ type: 'FragSessionStatusAns', fragIndex: 0, nbFragReceived: 812, missingFrag: 3, memoryError: false, micError: false, sessionDoesNotExist: false }], 3],
  ['ts004', [{ type: 'FragDataBlockReceivedReq', fragIndex: 0, micError: false }], 1],
  ['ts003', [{ type: 'AppTimeReq', deviceTime: 1436486418, ansRequired: false, tokenReq: 3 }], 2],
  ['ts006', [{ type: 'DevUpgradeImageAns', status: 3, nextFirmwareVersion: 0x01020400 }], 1],
  ['ts006', [{ type: 'DevRebootCountdownAns', countdown: 600 }], 1],
  ['ts006', [{ type: 'DevVersionAns', fwVersion: 0x01020400, hwVersion: 0xabcd }], 1],
];
const FRAMES = MIX.flatMap(([pkg, cmds, weight]) => Array.from({ length: weight }, () => ({ pkg, bytes: encodeCommands(pkg, 'uplink', cmds, V2) })));

function uplinkDecode(): Bench {
  const rounds = 5000;
  return {
    name: 'uplink-decode',
    run: () => {
      let commands = 0;
      const ms = medianMs(11, () => {
        commands = 0;
        for (let i = 0; i < rounds; i++) for (const f of FRAMES) commands += decodeCommands(f.pkg, 'uplink', f.bytes, V2).commands.length;
      });
      return { medianMs: ms, frames: rounds * FRAMES.length, commands, commandsPerSecond: commands / (ms / 1000) };
    },
  };
}

function downlinkFrameDecode(): Bench {
  const appSKey = new Uint8Array(16).fill(1);
  const nwkSKey = new Uint8Array(16).fill(2);
  const payload = new Uint8Array(3 + 48).fill(7); // a DataFragment at EU868 DR0-2
  const frames = Array.from({ length: 1000 }, (_, fCnt) => encodeDownlinkFrame({ devAddr: 0x01ab23cd, fCnt, fPort: 201, payload, appSKey, nwkSKey }).phyPayload);
  return {
    name: 'multicast-frame-decode',
    run: () => {
      const ms = medianMs(11, () => frames.forEach((f, fCnt) => decodeDownlinkFrame(f, { appSKey, nwkSKey, fCntFull: fCnt })));
      return { medianMs: ms, frames: frames.length, framesPerSecond: frames.length / (ms / 1000) };
    },
  };
}

function dataBlockMicBench(): Bench {
  const key = dataBlockIntKey(new Uint8Array(16));
  const data = new Uint8Array(100 * 1024).map((_, i) => i & 0xff);
  return {
    name: 'data-block-mic 100KiB',
    run: () => {
      const ms = medianMs(21, () => dataBlockMic(key, { sessionCnt: 1, fragIndex: 0, descriptor: 0, data }));
      return { medianMs: ms, mbPerSecond: data.length / 2 ** 20 / (ms / 1000) };
    },
  };
}

export const benches: Bench[] = [uplinkDecode(), downlinkFrameDecode(), dataBlockMicBench()];
