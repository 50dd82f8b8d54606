// The device's TS006 path for compressed and delta images: receive (check, patch from the running image into the
// secondary slot, final digest), DevUpgradeImageAns, reboot (bootloader swap), every header field checked, and
// power loss at every flash step of patching and installing.
import { describe, it, expect } from 'vitest';
import type { AnyCommand } from '../src/codec/frame.js';
import { decodeImageHeader } from '../src/codec/image-header.js';
import type { ClockSync } from '../src/device/clock-sync.js';
import { FirmwareManagement, type FirmwareOptions } from '../src/device/firmware.js';
import { PowerLoss } from '../src/device/flash.js';
import { LORAMAC_NODE } from '../src/device/profiles.js';
import { Rng } from '../src/device/rng.js';
import { signImage, type SignOptions } from '../src/image/sign.js';
import { DEVICE_CLASS, firmware, fixedKey } from './image-fixtures.js';
import { makeFleetSpecs } from '../src/sim/fleet.js';
import { SimDevice } from '../src/sim/sim-device.js';

const key = fixedKey('ed25519', 'device delta');
const V1 = 0x01000000;
const V2 = 0x01010000;
const V3 = 0x01020000;
const FW1 = firmware('device fw 1', 7000);
const FW2 = Uint8Array.from([...FW1.subarray(0, 1000), ...firmware('new code', 300), ...FW1.subarray(1000, 6000), ...FW1.subarray(6200)]);
const FW3 = Uint8Array.from([...FW2.subarray(0, 4000), 1, 2, 3, 4, ...FW2.subarray(4000)]);
const BASE_IMAGE = signImage(FW1, { key, version: V1, deviceClass: DEVICE_CLASS });
const sign = (fw: Uint8Array, version: number, extra: Partial<SignOptions> = {}) => signImage(fw, { key, version, deviceClass: DEVICE_CLASS, ...extra });
const DELTA_1_2 = sign(FW2, V2, { deltaFrom: { firmware: FW1, version: V1 } });

function device(over: Partial<FirmwareOptions> = {}): FirmwareManagement {
  const opts: FirmwareOptions = { deviceClass: DEVICE_CLASS, trustedKeys: [key], firmwareVersion: V1, hwVersion: 3, baseImage: BASE_IMAGE, ...over };
  return new FirmwareManagement(LORAMAC_NODE, new Rng(1), {} as ClockSync, opts);
}

/** DevUpgradeImageReq answer. */
function upgradeAns(fm: FirmwareManagement): AnyCommand {
  const out: AnyCommand[] = [];
  fm.handle({ type: 'DevUpgradeImageReq' } as AnyCommand, { nowMs: 0, mcGroupId: null, reply: (make) => out.push(make(0)), cancel: () => {} });
  return out[0]!;
}

/** The primary slot holds `fw` as the firmware of a verified image of `version`. */
function runs(fm: FirmwareManagement, fw: Uint8Array, version: number): void {
  expect(fm.runningVersion).toBe(version);
  const primary = fm.deviceFlash!.slotImage('primary')!;
  const h = decodeImageHeader(primary);
  expect(h.firmwareVersion).toBe(version);
  const at = h.headerLength + 64;
  expect(Buffer.from(primary.subarray(at, at + h.firmwareLength)).equals(Buffer.from(fw))).toBe(true);
}

describe('device: delta and compressed images', () => {
  it('starts from its base image, applies a delta into the secondary slot, answers status 3, and runs it after reboot', () => {
    const fm = device();
    runs(fm, FW1, V1);
    fm.receiveImage(DELTA_1_2);
    expect(fm.received).toMatchObject({ ok: true, version: V2 });
    expect(upgradeAns(fm)).toEqual({ type: 'DevUpgradeImageAns', status: 3, nextFirmwareVersion: V2 });
    fm.reboot();
    expect(fm.lastBoot).toMatchObject({ state: 'running', action: 'installed', version: V2 });
    runs(fm, FW2, V2);
    // The next delta applies to the installed delta image (its firmware digest is the base).
    fm.receiveImage(sign(FW3, V3, { deltaFrom: { firmware: FW2, version: V2 } }));
    expect(fm.received).toMatchObject({ ok: true, version: V3 });
    fm.reboot();
    runs(fm, FW3, V3);
  });

  it('installs a compressed full image, with or without a base', () => {
    for (const over of [{}, { baseImage: undefined }] as Partial<FirmwareOptions>[]) {
      const fm = device(over);
      const img = sign(new Uint8Array(5000).map((_, i) => (i % 97) & 0xff), V2, { encoding: 'compressed' });
      expect(decodeImageHeader(img).encoding).toBe('compressed');
      fm.receiveImage(img);
      expect(upgradeAns(fm)).toMatchObject({ status: 3 });
      fm.reboot();
      expect(fm.runningVersion).toBe(V2);
    }
  });

  it('refuses a delta for another base (status 2, wrong-base) and keeps running its image', () => {
    const fm = device();
    fm.receiveImage(sign(FW3, V3, { deltaFrom: { firmware: FW2, version: V2 } }));
    expect(fm.received).toMatchObject({ ok: false, reason: 'wrong-base', upImageStatus: 2 });
    expect(upgradeAns(fm)).toEqual({ type: 'DevUpgradeImageAns', status: 2 });
    fm.reboot();
    runs(fm, FW1, V1);
    const bare = device({ baseImage: undefined });
    bare.receiveImage(DELTA_1_2);
    expect(bare.received).toMatchObject({ ok: false, reason: 'wrong-base' });
  });

  it('refuses a delta whose payload was altered (status 1) and keeps running its image', () => {
    const fm = device();
    const bad = DELTA_1_2.slice();
    bad[bad.length - 30]! ^= 0x20;
    fm.receiveImage(bad);
    expect(upgradeAns(fm)).toEqual({ type: 'DevUpgradeImageAns', status: 1 });
    fm.reboot();
    runs(fm, FW1, V1);
  });

  it('checks hardware revision and manufacturer from the header (images for revision 5 or manufacturer 7 are refused)', () => {
    const cases: [Partial<SignOptions>, Partial<FirmwareOptions>, boolean][] = [
      [{ hwCompat: 1 << 5 }, {}, false],
      [{ hwCompat: 1 << 3 }, {}, true],
      [{ hwCompat: 1 << 5 }, { hwRevision: 5 }, true],
      [{ manufacturer: 7 }, {}, false],
      [{ manufacturer: 7 }, { manufacturer: 7, baseImage: sign(FW1, V1, { manufacturer: 7 }) }, true],
      [{}, { manufacturer: 7, baseImage: sign(FW1, V1, { manufacturer: 7 }) }, false],
    ];
    for (const [signed, dev, accepted] of cases) {
      const fm = device(dev);
      fm.receiveImage(sign(FW2, V2, signed));
      const label = JSON.stringify({ signed, dev });
      if (accepted) expect(fm.received, label).toMatchObject({ ok: true });
      else expect(fm.received, label).toMatchObject({ ok: false, reason: 'wrong-device-class', upImageStatus: 2 });
      fm.reboot();
      expect(fm.runningVersion, label).toBe(accepted ? V2 : V1);
    }
  });

  it('refuses an older image (anti-rollback)', () => {
    const fm = device();
    fm.receiveImage(sign(FW2, 0x00090000, { encoding: 'compressed' }));
    expect(fm.received).toMatchObject({ ok: false, reason: 'rollback', upImageStatus: 2 });
  });

  for (const tear of [false, true]) {
    it(`keeps the running image and recovers after a power loss ${tear ? 'inside' : 'before'} every flash step of patching and installing`, () => {
      // A clean run counts the steps: receive (erase + page programs + flag) then reboot (swap).
      const clean = device();
      const start = clean.deviceFlash!.steps;
      clean.receiveImage(DELTA_1_2);
      clean.reboot();
      const total = clean.deviceFlash!.steps - start;
      expect(total).toBeGreaterThan(20);
      for (let cut = 0; cut < total; cut++) {
        const fm = device();
        const flash = fm.deviceFlash!;
        const at = flash.steps + cut;
        let lost = false;
        flash.onStep = (s) => {
          if (s.index !== at) return;
          lost = true;
          if (tear && s.kind !== 'state') return 'tear';
          throw new PowerLoss(`cut at ${cut}`);
        };
        let phase = 'receive';
        try {
          fm.receiveImage(DELTA_1_2);
          phase = 'reboot';
          fm.reboot();
        } catch (err) {
          if (!(err instanceof PowerLoss)) throw err;
        }
        expect(lost, `cut ${cut}`).toBe(true);
        flash.onStep = undefined;
        if (phase === 'receive') {
          // Power lost while patching: the running image is untouched and boots; the patch can be received again.
          expect(flash.state().upgradePending, `cut ${cut}`).toBe(false);
          fm.reboot();
          runs(fm, FW1, V1);
          fm.receiveImage(DELTA_1_2);
          expect(fm.received, `cut ${cut}`).toMatchObject({ ok: true });
        }
        fm.reboot();
        expect([V1, V2], `cut ${cut}`).toContain(fm.runningVersion);
        if (fm.runningVersion === V1) {
          fm.receiveImage(DELTA_1_2);
          fm.reboot();
        }
        runs(fm, FW2, V2);
      }
    });
  }
});

describe('simulated fleet: base firmware', () => {
  it('starts every device from the given base image (its version, in flash), ready for a delta', () => {
    const specs = makeFleetSpecs({ count: 3, seed: 5, deviceClass: DEVICE_CLASS, firmwareVersion: 0x00010000, trustedKeys: [key], baseImage: BASE_IMAGE });
    for (const spec of specs) {
      expect(spec.baseImage).toBe(BASE_IMAGE);
      const dev = new SimDevice(spec, 5);
      expect(dev.state.runningVersion).toBe(V1);
      expect(dev.appLayer(Date.UTC(2025, 0, 1)).snapshot().runningVersion).toBe(V1);
    }
    expect(makeFleetSpecs({ count: 1, seed: 5, deviceClass: DEVICE_CLASS, firmwareVersion: V1, trustedKeys: [key] })[0]!.baseImage).toBeUndefined();
  });
});
