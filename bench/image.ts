// Image signing/verification and bootloader swap figures: `npm run build && npm run bench -- --only image`.
import { performance } from 'node:perf_hooks';
import type { Bench } from './run.js';
import type { SignatureAlgorithm } from '../src/codec/image-header.js';
import { checkImage } from '../src/device/image-check.js';
import { Bootloader } from '../src/device/bootloader.js';
import { DeviceFlash } from '../src/device/flash.js';
import { generateKeyPair } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import { median, medianMs } from './timing.js';

const FIRMWARE = new Uint8Array(64 * 1024).map((_, i) => (i * 31 + 7) & 0xff);


function signAndCheck(algorithm: SignatureAlgorithm): Bench[] {
  const key = generateKeyPair(algorithm);
  const policy = { trustedKeys: [key], deviceClass: 'bench', currentVersion: 0 };
  const image = signImage(FIRMWARE, { key, version: '1.0.0', deviceClass: 'bench' });
  return [
    {
      name: `image sign ${algorithm} 64KiB`,
      run: () => ({ medianMs: medianMs(21, () => signImage(FIRMWARE, { key, version: '1.0.0', deviceClass: 'bench' })), overheadBytes: image.length - FIRMWARE.length }),
    },
    {
      name: `image check ${algorithm} 64KiB`,
      run: () => ({
        medianMs: medianMs(21, () => {
          if (!checkImage(image, policy).ok) throw new Error('bench image does not verify');
        }),
      }),
    },
  ];
}

function swapBench(): Bench {
  const key = generateKeyPair('ed25519');
  const policy = { trustedKeys: [key], deviceClass: 'bench' };
  const oldImage = signImage(FIRMWARE.subarray(0, 60 * 1024), { key, version: '1.0.0', deviceClass: 'bench' });
  const newImage = signImage(FIRMWARE, { key, version: '1.1.0', deviceClass: 'bench' });
  const geometry = { slotSize: 68 * 1024, sectorSize: 4096 };
  return {
    name: 'bootloader install 64KiB',
    run: () => {
      let steps = 0;
      const times: number[] = [];
      for (let i = 0; i < 11; i++) {
        const flash = new DeviceFlash(geometry);
        flash.writeReceived(oldImage);
        flash.setUpgradeFlag();
        Bootloader.boot(flash, policy);
        flash.writeReceived(newImage);
        flash.setUpgradeFlag();
        const before = flash.steps;
        const t = performance.now();
        if (Bootloader.boot(flash, policy).action !== 'installed') throw new Error('bench install failed');
        times.push(performance.now() - t);
        steps = flash.steps - before;
      }
      return { medianMs: median(times), memoryBytes: 2 * geometry.slotSize + geometry.sectorSize, flashSteps: steps, sectorSize: geometry.sectorSize };
    },
  };
}

export const benches: Bench[] = [...signAndCheck('ecdsa-p256'), ...signAndCheck('ed25519'), swapBench()];
