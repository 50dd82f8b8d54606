// A signed image through the TS004 FEC encoder, a lossy channel and the device's fragment decoder, into a verified
// boot. Uses src/codec/fec.ts and src/device/frag-decoder.ts as they are.
import { describe, it, expect } from 'vitest';
import { fecEncode } from '../src/codec/fec.js';
import { versionToU32 } from '../src/codec/image-header.js';
import { FragDecoder } from '../src/device/frag-decoder.js';
import { checkImage } from '../src/device/image-check.js';
import { Bootloader, type BootPolicy } from '../src/device/bootloader.js';
import { DeviceFlash } from '../src/device/flash.js';
import { DEVICE_CLASS, fixedKey, image } from './image-fixtures.js';

const key = fixedKey('ecdsa-p256', 'fec');
const policy: BootPolicy = { trustedKeys: [key], deviceClass: DEVICE_CLASS };
const OLD = image(key, '1.0.0', {}, 900);
const NEW = image(key, '1.1.0', {}, 1500); // 1620 B, not a multiple of the fragment size: the last one is padded

/** Deterministic loss pattern (xorshift32). */
function lossy(seed: number, lossRate: number): () => boolean {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32 >= lossRate;
  };
}

function transfer(img: Uint8Array, rule: 1 | 2, seed: number, lossRate: number): { decoder: FragDecoder; delivered: number; lost: number } {
  const fragSize = 48;
  const { nbFrag, padding, fragments } = fecEncode(img, { fragSize, redundancy: Math.ceil(img.length / fragSize), rule });
  const decoder = new FragDecoder({ maxNbFrag: 64, maxFragSize: 64, maxLost: 64 });
  decoder.begin({ fragIndex: 0, nbFrag, fragSize, padding, rule });
  const survives = lossy(seed, lossRate);
  let delivered = 0;
  let lost = 0;
  for (let n = 1; n <= fragments.length && decoder.status === 'receiving'; n++) {
    if (!survives()) {
      lost++;
      continue;
    }
    delivered++;
    decoder.push(n, fragments[n - 1]!);
  }
  return { decoder, delivered, lost };
}

function deviceRunning(img: Uint8Array): DeviceFlash {
  const flash = new DeviceFlash({ slotSize: 2048, sectorSize: 256 });
  flash.writeReceived(img);
  flash.setUpgradeFlag();
  expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: versionToU32('1.0.0') });
  return flash;
}

describe('signed image over FEC', () => {
  for (const rule of [1, 2] as const) {
    it(`survives 20% loss (rule ${rule}) and boots verified`, () => {
      const { decoder, lost } = transfer(NEW, rule, 0xc0ffee + rule, 0.2);
      expect(lost).toBeGreaterThan(0);
      expect(decoder.status).toBe('done');
      const received = decoder.block();
      expect(Buffer.from(received).equals(Buffer.from(NEW))).toBe(true);

      // TS006 DevUpgradeImageAns: valid, next version follows.
      const check = checkImage(received, { ...policy, currentVersion: versionToU32('1.0.0') });
      expect(check).toMatchObject({ ok: true, upImageStatus: 3, version: versionToU32('1.1.0') });

      const flash = deviceRunning(OLD);
      flash.writeReceived(received);
      flash.setUpgradeFlag();
      expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: versionToU32('1.1.0'), action: 'installed' });
      flash.confirm();
      expect(Bootloader.boot(flash, policy)).toMatchObject({ version: versionToU32('1.1.0'), action: 'none', confirmed: true });
    });
  }

  it('a corrupt reassembly (completion fired with bad data) is reported corrupt and the device keeps its image', () => {
    const { decoder } = transfer(NEW, 1, 7, 0.1);
    expect(decoder.status).toBe('done');
    const corrupt = decoder.block().slice();
    corrupt[700]! ^= 0x10; // a fragment rebuilt wrongly
    expect(checkImage(corrupt, { ...policy, currentVersion: versionToU32('1.0.0') })).toMatchObject({ ok: false, reason: 'digest-mismatch', upImageStatus: 1 });
    const flash = deviceRunning(OLD);
    flash.writeReceived(corrupt);
    flash.setUpgradeFlag();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: versionToU32('1.0.0'), action: 'rejected' });
  });

  it('too much loss leaves the decoder incomplete: nothing to install (UpImageStatus 0)', () => {
    const { decoder } = transfer(NEW, 1, 99, 0.6);
    expect(decoder.status).toBe('receiving');
    expect(checkImage(null, { ...policy, currentVersion: versionToU32('1.0.0') })).toMatchObject({ ok: false, upImageStatus: 0 });
  });
});
