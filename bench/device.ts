// Device-stack figures: per-device memory (idle, and in a fragmentation session) and DataFragment deliveries per
// second through 1,000 simulated devices (10 % loss each, multicast frames decrypted via the shared cache).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeCommands } from '../src/codec/frame.js';
import { fecEncode } from '../src/codec/fec.js';
import { encryptMcKey, mcKEKey, mcRootKey, mcSessionKeys } from '../src/codec/keys.js';
import { encodeDownlinkFrame } from '../src/codec/lorawan-frame.js';
import { unixMsToGps } from '../src/codec/gpstime.js';
import { Rng } from '../src/device/rng.js';
import { publicKeyOf, type SigningKey } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import { createSimDevice, makeFleetSpecs, type FleetDeviceSpec } from '../src/sim/fleet.js';
import type { MulticastFrame } from '../src/sim/types.js';
import type { Bench } from './run.js';

const DEVICES = 1000;
const T0 = Date.UTC(2025, 6, 14);
const FRAG_SIZE = 48;
const MC_ADDR = 0x0a000001;
const MC_KEY = new Uint8Array(16).fill(9);
const KEY: SigningKey = { algorithm: 'ed25519', privateKey: new Uint8Array(32).fill(7) };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

function fleet(): FleetDeviceSpec[] {
  return makeFleetSpecs({
    count: DEVICES, seed: 1, deviceClass: 'bench', firmwareVersion: 0x01000000,
    trustedKeys: [{ algorithm: 'ed25519', publicKey: publicKeyOf(KEY) }], mix: { 'loramac-node': 1, 'lbm-v1': 1 },
    maxNbFrag: 256, maxFragSize: FRAG_SIZE, maxLost: 128, maxClockOffsetMs: 0, // unsynced clocks would open windows late
  });
}

/** Boots the devices, sets up group 0 and a fragmentation session, opens the Class C window at T0 + 10 s. */
function setUp(specs: FleetDeviceSpec[], nbFrag: number, padding: number) {
  const devices = specs.map((s) => createSimDevice(s, 1));
  const sessionTime = unixMsToGps(T0) + 10;
  devices.forEach((d, i) => {
    const s = specs[i]!;
    d.nextUplinkAt(T0);
    const mcKeyEncrypted = encryptMcKey(mcKEKey(mcRootKey(s.rootKey, s.lorawan)), MC_KEY);
    const down = (fPort: number, data: Uint8Array) => d.receiveUnicast(fPort, data, T0);
    down(200, encodeCommands('ts005', 'downlink', [{ type: 'McGroupSetupReq', mcGroupId: 0, mcAddr: MC_ADDR, mcKeyEncrypted, minMcFCnt: 0, maxMcFCnt: 0xffffffff }]));
    down(201, encodeCommands('ts004', 'downlink', [{ type: 'FragSessionSetupReq', fragIndex: 0, mcGroupBitMask: 1, nbFrag, fragSize: FRAG_SIZE, fragAlgo: 0, blockAckDelay: 0, padding, descriptor: 0 }]));
    down(200, encodeCommands('ts005', 'downlink', [{ type: 'McClassCSessionReq', mcGroupId: 0, sessionTime, timeOut: 14, dlFrequencyHz: 869_525_000, dr: 0 }]));
  });
  return devices;
}

function frames(image: Uint8Array): { nbFrag: number; padding: number; frames: MulticastFrame[] } {
  const enc = fecEncode(image, { fragSize: FRAG_SIZE, redundancy: 0, rule: 1 });
  const withParity = fecEncode(image, { fragSize: FRAG_SIZE, redundancy: Math.ceil(enc.nbFrag / 2), rule: 1 });
  const { mcAppSKey, mcNwkSKey } = mcSessionKeys(MC_KEY, MC_ADDR);
  return {
    nbFrag: enc.nbFrag,
    padding: enc.padding,
    frames: withParity.fragments.map((payload, i) => {
      const cmd = encodeCommands('ts004', 'downlink', [{ type: 'DataFragment', fragIndex: 0, n: i + 1, payload }]);
      const f = encodeDownlinkFrame({ devAddr: MC_ADDR, fCnt: i + 1, fPort: 201, payload: cmd, appSKey: mcAppSKey, nwkSKey: mcNwkSKey });
      return { mcAddr: MC_ADDR, fCnt: i + 1, fPort: 201, frmPayload: f.frmPayload, mic: f.mic, phyPayload: f.phyPayload };
    }),
  };
}

export const benches: Bench[] = [
  {
    name: 'device-memory',
    run() {
      const specs = fleet();
      const image = signImage(new Uint8Array(10_000).fill(3), { key: KEY, version: 0x01010000, deviceClass: 'bench' });
      const { nbFrag, padding } = frames(image);
      const before = heap();
      const idle = specs.map((s) => createSimDevice(s, 1));
      idle.forEach((d) => d.nextUplinkAt(T0));
      const idleBytes = (heap() - before) / DEVICES;
      idle.length = 0;
      const base = heap();
      const t = performance.now();
      const inSession = setUp(specs, nbFrag, padding);
      const setupMs = performance.now() - t;
      const sessionBytes = (heap() - base) / DEVICES;
      return {
        medianMs: setupMs,
        memoryBytes: Math.round(sessionBytes),
        idleBytesPerDevice: Math.round(idleBytes),
        sessionBytesPerDevice: Math.round(sessionBytes),
        decoderBytesPerDevice: inSession[0]!.state.decoderBytes,
        devices: inSession.length,
      };
    },
  },
  {
    name: 'device-fragments-1000',
    run() {
      const specs = fleet();
      const image = signImage(new Uint8Array(10_000).fill(3), { key: KEY, version: 0x01010000, deviceClass: 'bench' });
      const f = frames(image);
      const runs: number[] = [];
      let delivered = 0;
      let done = 0;
      for (let r = 0; r < 3; r++) {
        const devices = setUp(specs, f.nbFrag, f.padding);
        const loss = devices.map((d) => new Rng(Number.parseInt(d.devEui.slice(-6), 16) + r));
        delivered = 0;
        const t = performance.now();
        f.frames.forEach((frame, i) => {
          const now = T0 + 11_000 + i * 1000;
          devices.forEach((d, k) => {
            if (loss[k]!.next() < 0.1) return;
            d.receiveMulticast(frame, now);
            delivered++;
          });
        });
        runs.push(performance.now() - t);
        done = devices.filter((d) => d.state.frag?.status === 'done').length;
      }
      runs.sort((a, b) => a - b);
      const medianMs = runs[1]!;
      return { medianMs, fragmentsPerSecond: Math.round(delivered / (medianMs / 1000)), delivered, devicesDone: done, devices: DEVICES, nbFrag: f.nbFrag, frames: f.frames.length };
    },
  },
];
