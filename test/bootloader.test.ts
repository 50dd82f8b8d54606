import { describe, it, expect } from 'vitest';
import { versionToU32 } from '../src/codec/image-header.js';
import { Bootloader, type BootPolicy, type BootResult } from '../src/device/bootloader.js';
import { DeviceFlash, PowerLoss, type StepHook } from '../src/device/flash.js';
import { DEVICE_CLASS, fixedKey, image } from './image-fixtures.js';

const key = fixedKey('ed25519', 'boot');
const policy: BootPolicy = { trustedKeys: [key], deviceClass: DEVICE_CLASS };
const OLD = image(key, '1.0.0', {}, 150); // 270 B: 5 sectors of 64 B
const NEW = image(key, '1.1.0', {}, 200); // 320 B: 5 sectors
const V_OLD = versionToU32('1.0.0');
const V_NEW = versionToU32('1.1.0');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function flashWith(primary: Uint8Array | null): DeviceFlash {
  const flash = new DeviceFlash({ slotSize: 512, sectorSize: 64 });
  if (primary) {
    flash.writeReceived(primary);
    flash.setUpgradeFlag();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', action: 'installed', confirmed: true });
  }
  return flash;
}

/** The primary slot holds exactly `img` (then erased bytes up to the end of the image's last sector). */
function primaryHolds(flash: DeviceFlash, img: Uint8Array): boolean {
  return hex(flash.slotImage('primary')!.subarray(0, img.length)) === hex(img);
}

function upgradeReady(): DeviceFlash {
  const flash = flashWith(OLD);
  flash.writeReceived(NEW);
  flash.setUpgradeFlag();
  return flash;
}

/** Resets until a boot completes without power loss; each reset runs `hook` (or none). */
function bootThrough(flash: DeviceFlash, hooks: (StepHook | undefined)[] = []): { result: BootResult; losses: number } {
  for (let losses = 0; ; losses++) {
    flash.onStep = hooks[losses];
    try {
      const result = Bootloader.boot(flash, policy);
      flash.onStep = undefined;
      return { result, losses };
    } catch (err) {
      if (!(err instanceof PowerLoss)) throw err;
      if (losses > 1000) throw new Error('no progress');
    }
  }
}

const cutAt = (index: number, tear = false): StepHook => (s) => {
  if (s.index === index) {
    if (tear && s.kind === 'program') return 'tear';
    throw new PowerLoss(`cut at step ${index}`);
  }
};

describe('DeviceFlash', () => {
  it('validates its geometry and image sizes', () => {
    expect(() => new DeviceFlash({ slotSize: 100, sectorSize: 64 })).toThrow(/^slotSize/);
    expect(() => new DeviceFlash({ slotSize: 128, sectorSize: 0 })).toThrow(/^sectorSize/);
    const flash = new DeviceFlash({ slotSize: 128, sectorSize: 64 });
    expect(() => flash.writeReceived(new Uint8Array(129))).toThrow(/^image: 129 bytes/);
    expect(() => flash.readSector('scratch', 1)).toThrow(/^sector/);
    expect(flash.slotImage('secondary')).toBeNull();
  });
});

describe('Bootloader', () => {
  it('waits idle with no valid image, and installs the first image permanently', () => {
    const flash = new DeviceFlash({ slotSize: 512, sectorSize: 64 });
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'idle', action: 'none' });
    flash.writeReceived(OLD);
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'idle' }); // no upgrade flag yet
    flash.setUpgradeFlag();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: V_OLD, action: 'installed', confirmed: true });
    expect(primaryHolds(flash, OLD)).toBe(true);
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: V_OLD, action: 'none' });
  });

  it('installs a new image as a test boot; a confirmed image stays', () => {
    const flash = upgradeReady();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: V_NEW, action: 'installed', confirmed: false });
    expect(primaryHolds(flash, NEW)).toBe(true);
    expect(hex(flash.slotImage('secondary')!.subarray(0, OLD.length))).toBe(hex(OLD));
    flash.confirm();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: V_NEW, action: 'none', confirmed: true });
    expect(Bootloader.boot(flash, policy)).toMatchObject({ version: V_NEW, action: 'none' });
  });

  it('rolls an unconfirmed image back at the next reset', () => {
    const flash = upgradeReady();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ version: V_NEW, confirmed: false });
    expect(() => flash.writeReceived(NEW)).toThrow(/not confirmed/);
    expect(() => flash.setUpgradeFlag()).toThrow(/not confirmed/);
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: V_OLD, action: 'reverted', confirmed: true });
    expect(primaryHolds(flash, OLD)).toBe(true);
    expect(Bootloader.boot(flash, policy)).toMatchObject({ version: V_OLD, action: 'none' });
  });

  const refused: [string, () => Uint8Array, string][] = [
    ['a tampered payload byte', () => flip(NEW, NEW.length - 1), 'digest-mismatch'],
    ['a tampered header byte', () => flip(NEW, 17), 'bad-signature'],
    ['a tampered signature byte', () => flip(NEW, 80), 'bad-signature'],
    ['a wrong key', () => image(fixedKey('ed25519', 'attacker'), '1.1.0', {}, 200), 'bad-signature'],
    // In a slot, the erased byte (0xFF) stands in for the missing last byte: the digest no longer matches.
    ['a truncated image', () => NEW.subarray(0, NEW.length - 1), 'digest-mismatch'],
    ['an image cut inside its signature', () => NEW.subarray(0, 100), 'bad-signature'],
    ['a wrong device class', () => image(key, '1.1.0', { deviceClass: 'water-meter' }, 200), 'wrong-device-class'],
    ['a rollback', () => image(key, '0.9.9', {}, 200), 'rollback'],
  ];
  for (const [what, make, reason] of refused) {
    it(`refuses ${what} and keeps running the current image`, () => {
      const flash = flashWith(OLD);
      flash.writeReceived(make());
      flash.setUpgradeFlag();
      const r = Bootloader.boot(flash, policy);
      expect(r).toMatchObject({ state: 'running', version: V_OLD, action: 'rejected', confirmed: true, rejected: { ok: false, reason } });
      expect(primaryHolds(flash, OLD)).toBe(true);
      expect(flash.state().upgradePending).toBe(false);
      expect(Bootloader.boot(flash, policy)).toMatchObject({ version: V_OLD, action: 'none' });
    });
  }

  it('refuses every flipped byte of a received image and keeps the old one', () => {
    for (let i = 0; i < NEW.length; i += 1) {
      const flash = flashWith(OLD);
      flash.writeReceived(flip(NEW, i));
      flash.setUpgradeFlag();
      const r = Bootloader.boot(flash, policy);
      expect(r, `byte ${i}`).toMatchObject({ state: 'running', version: V_OLD, action: 'rejected' });
      expect(primaryHolds(flash, OLD), `byte ${i}`).toBe(true);
    }
  });

  it('never starts a corrupted primary image', () => {
    const flash = flashWith(OLD);
    const sector = flash.readSector('primary', 2);
    sector[0]! ^= 0xff;
    flash.programSector('primary', 2, sector);
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'idle', reason: expect.stringMatching(/digest-mismatch/) });
  });

  it('erases the received image on request and drops the pending flag', () => {
    const flash = upgradeReady();
    flash.eraseReceived();
    expect(flash.slotImage('secondary')).toBeNull();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ version: V_OLD, action: 'none' });
  });
});

describe('power loss', () => {
  function stepsOf(setup: () => DeviceFlash): number {
    const flash = setup();
    const before = flash.steps;
    Bootloader.boot(flash, policy);
    return flash.steps - before;
  }

  for (const tear of [false, true]) {
    it(`install: a cut ${tear ? 'inside' : 'before'} every step leaves a bootable device with the old or the new image`, () => {
      const total = stepsOf(upgradeReady);
      expect(total).toBe(1 + 5 * 3 * 2); // start record + (copy + record) per step, 3 steps per sector
      const seen = new Set<number>();
      for (let k = 0; k < total; k++) {
        const flash = upgradeReady();
        const { result, losses } = bootThrough(flash, [cutAt(flash.steps + k, tear)]);
        expect(losses, `cut ${k}`).toBe(1);
        expect(result.state, `cut ${k}`).toBe('running');
        if (result.state !== 'running') continue;
        seen.add(result.version);
        // A cut before the swap record is written leaves the flag set: the next reset installs the image.
        expect(result.version, `cut ${k}`).toBe(V_NEW);
        expect(primaryHolds(flash, NEW), `cut ${k}`).toBe(true);
        expect(result.confirmed).toBe(false);
        // Not confirmed: the reset after that brings the old image back, intact.
        expect(Bootloader.boot(flash, policy)).toMatchObject({ version: V_OLD, action: 'reverted' });
        expect(primaryHolds(flash, OLD), `cut ${k}`).toBe(true);
      }
      expect([...seen]).toEqual([V_NEW]);
    });

    it(`revert: a cut ${tear ? 'inside' : 'before'} every step still ends on the old image`, () => {
      const tested = () => {
        const flash = upgradeReady();
        Bootloader.boot(flash, policy);
        return flash;
      };
      const total = stepsOf(tested);
      for (let k = 0; k < total; k++) {
        const flash = tested();
        const { result } = bootThrough(flash, [cutAt(flash.steps + k, tear)]);
        expect(result, `cut ${k}`).toMatchObject({ state: 'running', version: V_OLD, confirmed: true });
        expect(primaryHolds(flash, OLD), `cut ${k}`).toBe(true);
        expect(hex(flash.slotImage('secondary')!.subarray(0, NEW.length)), `cut ${k}`).toBe(hex(NEW));
      }
    });
  }

  it('power lost at every reset right after one copy and its record still completes the install', () => {
    const flash = upgradeReady();
    // Each reset may run two flash operations, then the power goes: the swap advances one step per reset.
    const twoOps = (): StepHook => {
      let first = -1;
      return (s) => {
        if (first < 0) first = s.index;
        if (s.index >= first + 2) throw new PowerLoss('storm');
      };
    };
    const { result, losses } = bootThrough(flash, Array.from({ length: 100 }, twoOps));
    expect(losses).toBe(15); // 5 sectors x 3 copies, one per reset
    expect(result).toMatchObject({ state: 'running', version: V_NEW, action: 'installed', confirmed: false });
    expect(primaryHolds(flash, NEW)).toBe(true);
    flash.confirm();
    expect(Bootloader.boot(flash, policy)).toMatchObject({ version: V_NEW, action: 'none' });
  });

  it('a cut while the application writes the received image changes nothing running', () => {
    const flash = flashWith(OLD);
    flash.onStep = cutAt(flash.steps + 3, true);
    expect(() => flash.writeReceived(NEW)).toThrow(PowerLoss);
    flash.onStep = undefined;
    expect(Bootloader.boot(flash, policy)).toMatchObject({ state: 'running', version: V_OLD, action: 'none' });
  });
});

function flip(img: Uint8Array, i: number): Uint8Array {
  const out = img.slice();
  out[i]! ^= 0x01;
  return out;
}
