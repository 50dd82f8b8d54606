// The simulated fleet: deterministic specs, Class A timing, and a whole campaign through a tiny in-test network
// (unicast queue per device, one downlink per uplink; multicast fragments with per-device loss).
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, decodeCommands, encodeCommands, packageForPort, type AnyCommand, type PackageName } from '../src/codec/frame.js';
import { fecEncode } from '../src/codec/fec.js';
import { dataBlockIntKey, encryptMcKey, mcKEKey, mcRootKey } from '../src/codec/keys.js';
import { dataBlockMic } from '../src/codec/mic.js';
import { Rng } from '../src/device/rng.js';
import { createSimDevice, KEEPALIVE_PORT, makeFleetSpecs, type FleetDeviceSpec } from '../src/sim/fleet.js';
import { DEVICE_CLASS, gpsAt, MC_KEY, mcFrame, signedImage, T0, TRUSTED, V1_0_0, V1_1_0 } from './device-harness.js';

const SEED = 1234;
const fleetOpts = { seed: SEED, deviceClass: DEVICE_CLASS, firmwareVersion: V1_0_0, trustedKeys: TRUSTED };

describe('makeFleetSpecs', () => {
  it('is deterministic and follows the mix, silent share and LoRaWAN share', () => {
    const a = makeFleetSpecs({ ...fleetOpts, count: 600, silentFraction: 0.1, lorawan11Fraction: 0.5, mix: { 'loramac-node': 1, 'lbm-v2': 1 } });
    expect(makeFleetSpecs({ ...fleetOpts, count: 600, silentFraction: 0.1, lorawan11Fraction: 0.5, mix: { 'loramac-node': 1, 'lbm-v2': 1 } })).toEqual(a);
    expect(new Set(a.map((s) => s.devEui)).size).toBe(600);
    const lmn = a.filter((s) => s.profile === 'loramac-node');
    expect(lmn.every((s) => s.versions.ts004 === 1)).toBe(true);
    expect(a.filter((s) => s.profile === 'lbm').every((s) => s.versions.ts004 === 2)).toBe(true);
    expect(lmn.length).toBeGreaterThan(240);
    expect(lmn.length).toBeLessThan(360);
    const silent = a.filter((s) => s.silent).length;
    expect(silent).toBeGreaterThan(30);
    expect(silent).toBeLessThan(90);
    expect(a.filter((s) => s.lorawan === '1.1').length).toBeGreaterThan(240);
  });

  it('rejects bad options with the field name', () => {
    expect(() => makeFleetSpecs({ ...fleetOpts, count: -1 })).toThrow(/count/);
    expect(() => makeFleetSpecs({ ...fleetOpts, count: 1, silentFraction: 2 })).toThrow(/silentFraction/);
    expect(() => makeFleetSpecs({ ...fleetOpts, count: 1, mix: {} })).toThrow(/mix/);
    const [spec] = makeFleetSpecs({ ...fleetOpts, count: 1, mix: { 'loramac-node': 1 } });
    expect(() => createSimDevice({ ...spec!, devEui: 'xyz' }, 1)).toThrow(/devEui/);
    expect(() => createSimDevice({ ...spec!, versions: { ts003: 1, ts004: 2, ts005: 1 } }, 1).nextUplinkAt(T0)).toThrow(/versions\.ts004/);
  });
});

describe('simulated device', () => {
  it('transmits answers when ready and keep-alives every interval ± jitter; a silent device never transmits', () => {
    const [spec] = makeFleetSpecs({ ...fleetOpts, count: 1, mix: { 'lbm-v1': 1 } });
    const dev = createSimDevice(spec!, 5);
    const times: number[] = [];
    const ports: number[] = [];
    let now = T0;
    for (let i = 0; i < 20; i++) {
      now = dev.nextUplinkAt(now);
      const up = dev.transmit(now);
      times.push(now);
      ports.push(up!.fPort);
    }
    expect(times[0]).toBe(T0); // the boot AppTimeReq leaves at once
    expect(ports[0]).toBe(202);
    expect(times[1]! - T0).toBeLessThanOrEqual(spec!.uplinkIntervalMs);
    for (let i = 2; i < times.length; i++) {
      expect(Math.abs(times[i]! - times[i - 1]! - spec!.uplinkIntervalMs)).toBeLessThanOrEqual(spec!.jitterMs);
    }
    expect(ports.slice(1).every((p) => p === KEEPALIVE_PORT)).toBe(true);

    // A delayed answer (FragSessionStatusAns after its BlockAckDelay draw) wakes the device at its ready time.
    dev.receiveUnicast(201, Uint8Array.from([0x01, 0x01]), now + 10);
    const at = dev.nextUplinkAt(now + 10);
    expect(at).toBeLessThanOrEqual(now + 10 + 16_000);
    expect(dev.transmit(at)?.fPort).toBe(201);

    const silent = createSimDevice({ ...spec!, silent: true }, 5);
    expect(silent.nextUplinkAt(T0)).toBe(Infinity);
    expect(silent.transmit(T0 + 1e6)).toBeNull();
  });
});

/** A tiny network + FUOTA server for the campaign test. */
class MiniNetwork {
  now = T0;
  readonly devices;
  readonly queues = new Map<string, { fPort: number; data: Uint8Array }[]>();
  readonly heard = new Map<string, AnyCommand[]>();
  readonly delivered = new Map<string, { mcAddr: number; n: number }[]>();
  private mc: { at: number; frame: ReturnType<typeof mcFrame>; n: number }[] = [];

  constructor(readonly specs: FleetDeviceSpec[]) {
    this.devices = specs.map((s) => createSimDevice(s, SEED));
    for (const s of specs) {
      this.queues.set(s.devEui, []);
      this.heard.set(s.devEui, []);
      this.delivered.set(s.devEui, []);
    }
  }

  unicast(spec: FleetDeviceSpec, pkg: PackageName, cmd: AnyCommand): void {
    this.queues.get(spec.devEui)!.push({ fPort: DEFAULT_PORTS[pkg], data: encodeCommands(pkg, 'downlink', [cmd], spec.versions) });
  }

  multicast(at: number, frame: ReturnType<typeof mcFrame>, n: number): void {
    this.mc.push({ at, frame, n });
  }

  run(untilMs: number): void {
    for (;;) {
      let who = -1;
      let best = Infinity;
      this.devices.forEach((d, i) => {
        const t = d.nextUplinkAt(this.now);
        if (t < best) [best, who] = [t, i];
      });
      const mcAt = this.mc[0]?.at ?? Infinity;
      const t = Math.min(best, mcAt);
      if (t > untilMs) {
        this.now = untilMs;
        return;
      }
      this.now = Math.max(this.now, t);
      if (mcAt <= best) {
        const { frame, n } = this.mc.shift()!;
        this.devices.forEach((d) => {
          // 10 % loss, a pure function of (device, frame).
          if (new Rng(Number.parseInt(d.devEui.slice(-6), 16) * 7919 + frame.mcAddr + frame.fCnt).next() < 0.1) return;
          this.delivered.get(d.devEui)!.push({ mcAddr: frame.mcAddr, n });
          d.receiveMulticast(frame, this.now);
        });
        continue;
      }
      this.uplink(who);
    }
  }

  private uplink(i: number): void {
    const dev = this.devices[i]!;
    const spec = this.specs[i]!;
    const up = dev.transmit(this.now);
    if (!up) return;
    const queue = this.queues.get(spec.devEui)!;
    const pkg = packageForPort(up.fPort);
    if (pkg) {
      const { commands, error } = decodeCommands(pkg, 'uplink', up.data, spec.versions);
      expect(error).toBeUndefined();
      for (const c of commands) {
        this.heard.get(spec.devEui)!.push(c);
        if (c.type === 'AppTimeReq') {
          const data = encodeCommands('ts003', 'downlink', [{ type: 'AppTimeAns', timeCorrection: gpsAt(this.now) - c.deviceTime, tokenAns: c.tokenReq }], spec.versions);
          queue.unshift({ fPort: 202, data });
        }
      }
    }
    const dl = queue.shift();
    if (dl) dev.receiveUnicast(dl.fPort, dl.data, this.now + 1000);
  }
}

describe('fleet campaign through a mini network', () => {
  it('every answering device reassembles, verifies and installs the image; silent ones keep the old one', () => {
    const specs = makeFleetSpecs({ ...fleetOpts, count: 45, silentFraction: 0.1, lorawan11Fraction: 0.3, maxNbFrag: 40, maxFragSize: 48, maxLost: 20 });
    const net = new MiniNetwork(specs);
    const image = signedImage(V1_1_0, 900);
    const sessionStart = T0 + 20 * 60_000;
    const groupAddr = { 1: 0x0a000001, 2: 0x0a000002 } as const;
    const streams = { 1: fecEncode(image, { fragSize: 48, redundancy: 24, rule: 1 }), 2: fecEncode(image, { fragSize: 48, redundancy: 24, rule: 2 }) };

    for (const s of specs) {
      const v = s.versions.ts004;
      const enc = streams[v];
      const mcKeyEncrypted = encryptMcKey(mcKEKey(mcRootKey(s.rootKey, s.lorawan)), MC_KEY);
      net.unicast(s, 'ts005', { type: 'McGroupSetupReq', mcGroupId: 0, mcAddr: groupAddr[v], mcKeyEncrypted, minMcFCnt: 0, maxMcFCnt: 0xffffffff });
      net.unicast(s, 'ts004', {
        type: 'FragSessionSetupReq', fragIndex: 0, mcGroupBitMask: 1, nbFrag: enc.nbFrag, fragSize: 48, fragAlgo: 0, blockAckDelay: 0,
        padding: enc.padding, descriptor: 0,
        ...(v === 2 ? { ackReception: false, sessionCnt: 0, mic: dataBlockMic(dataBlockIntKey(s.rootKey), { sessionCnt: 0, fragIndex: 0, descriptor: 0, data: image }) } : {}),
      } as AnyCommand);
      net.unicast(s, 'ts005', { type: 'McClassCSessionReq', mcGroupId: 0, sessionTime: gpsAt(sessionStart), timeOut: 10, dlFrequencyHz: 869_525_000, dr: 0 });
    }
    for (const v of [1, 2] as const) {
      streams[v].fragments.forEach((payload, i) => {
        const cmd = encodeCommands('ts004', 'downlink', [{ type: 'DataFragment', fragIndex: 0, n: i + 1, payload }], { ts004: v });
        net.multicast(sessionStart + 5000 + i * 3000, mcFrame(i + 1, 201, cmd, groupAddr[v]), i + 1);
      });
    }
    net.run(sessionStart + 10 * 60_000);

    const live = specs.filter((s) => !s.silent);
    expect(live.length).toBeGreaterThan(30);
    for (const [i, s] of specs.entries()) {
      const st = net.devices[i]!.state;
      if (s.silent) {
        expect(st.frag).toBeNull();
        expect(net.heard.get(s.devEui)).toEqual([]);
        continue;
      }
      expect(st.clockSynced).toBe(true);
      expect(Math.abs(st.clockOffsetMs)).toBeLessThan(2000);
      // The device's record of N received equals what the radio delivered up to completion.
      const done = st.frag!.stats.doneAtN!;
      expect(st.frag!.status).toBe('done');
      const heardOnAir = net.delivered.get(s.devEui)!.filter((f) => f.mcAddr === groupAddr[s.versions.ts004] && f.n <= done);
      expect(st.frag!.receivedN).toEqual(heardOnAir.map((f) => f.n));
      expect(st.imageStatus).toBe(3);
    }

    for (const s of live) {
      net.unicast(s, 'ts006', { type: 'DevUpgradeImageReq' });
      net.unicast(s, 'ts006', { type: 'DevRebootCountdownReq', countdown: 30 });
    }
    net.run(net.now + 10 * 60_000);
    for (const s of live) net.unicast(s, 'ts006', { type: 'DevVersionReq' });
    net.run(net.now + 10 * 60_000);

    for (const [i, s] of specs.entries()) {
      const st = net.devices[i]!.state;
      const heard = net.heard.get(s.devEui)!;
      if (s.silent) {
        expect(st.runningVersion).toBe(V1_0_0);
        continue;
      }
      expect(heard).toContainEqual({ type: 'DevUpgradeImageAns', status: 3, nextFirmwareVersion: V1_1_0 });
      expect(heard).toContainEqual({ type: 'DevVersionAns', fwVersion: V1_1_0, hwVersion: 1 });
      expect(st.reboots).toBe(1);
      expect(st.runningVersion).toBe(V1_1_0);
    }
  });
});
