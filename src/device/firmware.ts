/**
 * TS006 firmware management, device side (port 203): the running version, the received slot and its check result
 * (DevUpgradeImageAns), one programmed reboot (time or countdown) and, at reboot, the bootloader model that installs
 * only a valid image. Flash is modelled only once an image has been received, to keep idle devices small.
 */
import { createHash } from 'node:crypto';
import type { AnyCommand } from '../codec/frame.js';
import { Bootloader, type BootResult } from './bootloader.js';
import { DeviceFlash } from './flash.js';
import { checkImage, type ImageCheckResult, type TrustedKey } from './image-check.js';
import type { ClockSync } from './clock-sync.js';
import type { HandlerContext } from './handler-context.js';
import type { DeviceProfile } from './profiles.js';
import type { Rng } from './rng.js';

export const TS006_PACKAGE_ID = 4;
const REBOOT_TIME_CANCEL = 0xffffffff;
const COUNTDOWN_CANCEL = 0xffffff;
/** Largest seconds-to-reboot a DevRebootTimeAns can carry (0xFFFFFFFF means cancel). */
const REBOOT_SECONDS_MAX = 0xfffffffe;
const SECTOR_SIZE = 4096;

export interface FirmwareOptions {
  deviceClass: string;
  trustedKeys: TrustedKey[];
  /** u32 version of the factory firmware. */
  firmwareVersion: number;
  hwVersion: number;
}

export class FirmwareManagement {
  runningVersion: number;
  /** Check result of the image in the received slot, null when the slot is empty. */
  received: ImageCheckResult | null = null;
  /** True time of the programmed reboot, or null. */
  rebootAtMs: number | null = null;
  reboots = 0;
  lastBoot: BootResult | null = null;
  private flash: DeviceFlash | null = null;

  constructor(
    private readonly profile: DeviceProfile,
    private readonly rng: Rng,
    private readonly clock: ClockSync,
    private readonly opts: FirmwareOptions,
  ) {
    this.runningVersion = opts.firmwareVersion >>> 0;
  }

  /** A reassembled data block: check it and store it in the received slot (flagged for install when valid). */
  receiveImage(block: Uint8Array): void {
    const check = cachedCheck(block, this.opts.trustedKeys, this.opts.deviceClass, this.runningVersion);
    this.received = check;
    if (!check.ok) return;
    const flash = this.flashFor(block.length);
    flash.writeReceived(block);
    flash.setUpgradeFlag();
  }

  handle(cmd: AnyCommand, ctx: HandlerContext): void {
    if (ctx.mcGroupId !== null && !this.profile.executesMulticastCommands) return;
    const delayMs = this.rng.int(this.profile.fmpDelayMaxMs);
    const reply = (make: (txMs: number) => AnyCommand): void => ctx.reply(make, { delayMs });
    switch (cmd.type) {
      case 'PackageVersionReq':
        reply(() => ({ type: 'PackageVersionAns', packageIdentifier: TS006_PACKAGE_ID, packageVersion: 1 }));
        return;
      case 'DevVersionReq':
        reply(() => ({ type: 'DevVersionAns', fwVersion: this.runningVersion, hwVersion: this.opts.hwVersion >>> 0 }));
        return;
      case 'DevRebootTimeReq':
        this.rebootTime(cmd.rebootTime, ctx.nowMs, reply);
        return;
      case 'DevRebootCountdownReq':
        this.countdown(cmd.countdown, ctx.nowMs, reply);
        return;
      case 'DevUpgradeImageReq': {
        const r = this.received;
        reply(() => (r?.ok ? { type: 'DevUpgradeImageAns', status: 3, nextFirmwareVersion: r.version } : { type: 'DevUpgradeImageAns', status: r?.upImageStatus ?? 0 }));
        return;
      }
      case 'DevDeleteImageReq': {
        const r = this.received;
        const errorNoValidImage = !r?.ok;
        const errorInvalidVersion = !errorNoValidImage && r.version !== cmd.firmwareToDeleteVersion;
        if (!errorNoValidImage && !errorInvalidVersion) {
          this.flash?.eraseReceived();
          this.received = null;
        }
        reply(() => ({ type: 'DevDeleteImageAns', errorInvalidVersion, errorNoValidImage }));
        return;
      }
      default:
        return;
    }
  }

  /**
   * Reset: the bootloader runs (installing the received image only if it verifies), the running firmware confirms
   * itself, and the programmed reboot is consumed. Without modelled flash the factory firmware simply restarts.
   */
  reboot(): void {
    this.rebootAtMs = null;
    this.reboots++;
    if (!this.flash) return;
    const boot = Bootloader.boot(this.flash, { trustedKeys: this.opts.trustedKeys, deviceClass: this.opts.deviceClass });
    this.lastBoot = boot;
    if (boot.state === 'running') {
      this.runningVersion = boot.version;
      this.flash.confirm();
    }
    if (boot.action !== 'none') this.received = null;
  }

  private rebootTime(rebootTime: number, nowMs: number, reply: (make: (txMs: number) => AnyCommand) => void): void {
    if (rebootTime === 0) {
      this.rebootAtMs = nowMs;
      return;
    }
    if (rebootTime === REBOOT_TIME_CANCEL) {
      this.rebootAtMs = null;
      reply(() => ({ type: 'DevRebootTimeAns', rebootTime: REBOOT_TIME_CANCEL }));
      return;
    }
    if (!this.clock.clock.synced || rebootTime <= this.clock.gpsNow(nowMs)) {
      reply(() => ({ type: 'DevRebootTimeAns', rebootTime: 0 }));
      return;
    }
    const at = this.clock.trueTimeOfGps(rebootTime, nowMs);
    // A clock far behind GPS (e.g. after a large negative correction) puts the time beyond what the answer can carry.
    if (!((at - nowMs) / 1000 <= REBOOT_SECONDS_MAX)) {
      reply(() => ({ type: 'DevRebootTimeAns', rebootTime: 0 }));
      return;
    }
    this.rebootAtMs = at;
    reply((txMs) => ({ type: 'DevRebootTimeAns', rebootTime: Math.min(REBOOT_SECONDS_MAX, Math.max(1, Math.ceil((at - txMs) / 1000))) }));
  }

  private countdown(countdown: number, nowMs: number, reply: (make: (txMs: number) => AnyCommand) => void): void {
    if (countdown === 0) {
      this.rebootAtMs = nowMs;
      return;
    }
    if (countdown === COUNTDOWN_CANCEL) {
      this.rebootAtMs = null;
      reply(() => ({ type: 'DevRebootCountdownAns', countdown: COUNTDOWN_CANCEL }));
      return;
    }
    const at = nowMs + countdown * 1000;
    this.rebootAtMs = at;
    reply((txMs) => ({ type: 'DevRebootCountdownAns', countdown: Math.max(1, Math.ceil((at - txMs) / 1000)) }));
  }

  private flashFor(imageLength: number): DeviceFlash {
    const needed = Math.ceil(imageLength / SECTOR_SIZE) * SECTOR_SIZE;
    const old = this.flash;
    if (old && old.slotSize >= needed) return old;
    const flash = new DeviceFlash({ slotSize: needed, sectorSize: SECTOR_SIZE });
    const primary = old?.slotImage('primary');
    if (old && primary) {
      for (let s = 0; s < old.sectorCount; s++) flash.programSector('primary', s, old.readSector('primary', s));
    }
    this.flash = flash;
    return flash;
  }
}

/**
 * Image checks shared by the fleet: devices with the same policy that receive the same bytes get the same result,
 * so one signature verification serves them all.
 */
const CHECK_CACHE_SIZE = 64;
const checkCache = new Map<string, ImageCheckResult>();
const keySetIds = new WeakMap<TrustedKey[], number>();
let nextKeySetId = 0;

function cachedCheck(image: Uint8Array, trustedKeys: TrustedKey[], deviceClass: string, currentVersion: number): ImageCheckResult {
  let keys = keySetIds.get(trustedKeys);
  if (keys === undefined) keySetIds.set(trustedKeys, (keys = nextKeySetId++));
  const digest = createHash('sha256').update(image).digest('hex');
  const id = `${digest}|${keys}|${deviceClass}|${currentVersion}`;
  let result = checkCache.get(id);
  if (!result) {
    result = checkImage(image, { trustedKeys, deviceClass, currentVersion });
    if (checkCache.size >= CHECK_CACHE_SIZE) checkCache.delete(checkCache.keys().next().value as string);
    checkCache.set(id, result);
  }
  return result;
}
