/**
 * TS006 firmware management, device side (port 203): the running version, the received slot and its check result
 * (DevUpgradeImageAns), one programmed reboot (time or countdown) and, at reboot, the bootloader model that installs
 * only a valid image. Flash is modelled only once an image has been received, to keep idle devices small.
 */
import { createHash } from 'node:crypto';
import type { AnyCommand } from '../codec/frame.js';
import { Bootloader, type BootResult } from './bootloader.js';
import { DeviceFlash } from './flash.js';
import { checkImage, type ImageCheckResult, type ImagePolicy, type TrustedKey } from './image-check.js';
import { decodeImageHeader, IMAGE_SIGNATURE_SIZE, splitImage, type ImageHeader } from '../codec/image-header.js';
import { decodePayload } from './image-decode.js';
import { SlotWriter } from './slot-writer.js';
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
/** Largest slot the model grows to (the firmware length of an encoded image is the signer's claim). */
const MAX_SLOT_BYTES = 4 * 1024 * 1024;

export interface FirmwareOptions {
  deviceClass: string;
  trustedKeys: TrustedKey[];
  /** u32 version of the factory firmware. */
  firmwareVersion: number;
  /**
   * TS006 DevVersionAns HW version; also the hardware revision checked against hwCompat unless hwRevision is set
   * (above 15 there is no hwCompat bit: only images for any hardware are accepted).
   */
  hwVersion: number;
  /** Hardware revision checked against an image's hwCompat (default: hwVersion). */
  hwRevision?: number;
  /** Manufacturer id an image must carry (default 0, the signer's default). */
  manufacturer?: number;
  /**
   * The running firmware as a signed image (installed form), programmed into the primary slot at power-up; its
   * version replaces firmwareVersion. Needed to apply delta images.
   */
  baseImage?: Uint8Array;
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
    if (opts.baseImage) {
      const base = checkImage(opts.baseImage, { ...this.policy(), currentVersion: 0, form: 'installed' });
      if (!base.ok) throw new RangeError(`baseImage: ${base.reason}: ${base.detail}`);
      this.flashFor(base.header.installedLength).programFactoryImage(opts.baseImage.subarray(0, base.header.installedLength));
      this.runningVersion = base.version;
    }
  }

  /** The flash model (null until an image is modelled): tests cut its power through `onStep`. */
  get deviceFlash(): DeviceFlash | null {
    return this.flash;
  }

  /** Every header field the device checks: class, keys, hardware revision, manufacturer. */
  private policy(): Omit<ImagePolicy, 'currentVersion'> & { hwRevision: number | null; manufacturer: number } {
    const rev = this.opts.hwRevision ?? this.opts.hwVersion;
    return {
      trustedKeys: this.opts.trustedKeys,
      deviceClass: this.opts.deviceClass,
      hwRevision: Number.isInteger(rev) && rev >= 0 && rev <= 15 ? rev : null,
      manufacturer: this.opts.manufacturer ?? 0,
    };
  }

  /** The primary slot's header (the running image), or null when no image is modelled there. */
  private runningHeader(): ImageHeader | null {
    const primary = this.flash?.slotImage('primary');
    if (!primary) return null;
    try {
      return decodeImageHeader(primary);
    } catch {
      return null;
    }
  }

  /**
   * A reassembled data block: check it and store it in the received slot (flagged for install when valid). A
   * compressed or delta payload is decoded into the slot as it is read (the old firmware read from the primary
   * slot), and flagged only when the decoded firmware's SHA-256 matches the signed one. Throws PowerLoss from a
   * flash step: the running image and the boot state are untouched until the flag is set.
   */
  receiveImage(block: Uint8Array): void {
    // Until the slot is written and flagged, there is no valid received image (a power loss leaves none).
    this.received = null;
    const running = this.runningHeader();
    const check = cachedCheck(block, this.policy(), this.runningVersion, running?.firmwareDigest ?? null);
    if (!check.ok) {
      this.received = check;
      return;
    }
    if (check.header.encoding === 'raw') {
      const flash = this.flashFor(block.length);
      flash.writeReceived(block);
      flash.setUpgradeFlag();
      this.received = check;
      return;
    }
    const installed = this.installEncoded(block, check.header, running);
    this.received = installed.ok ? check : installed;
  }

  private installEncoded(block: Uint8Array, h: ImageHeader, running: ImageHeader | null): ImageCheckResult {
    if (h.installedLength > MAX_SLOT_BYTES) {
      return { ok: false, reason: 'bad-payload', detail: `firmware of ${h.firmwareLength} bytes does not fit the ${MAX_SLOT_BYTES}-byte slot`, upImageStatus: 1 };
    }
    const flash = this.flashFor(h.installedLength);
    if (!flash.state().confirmed) throw new Error('image: the running image is not confirmed yet; its previous image is still needed for a revert');
    const parts = splitImage(block);
    const firmwareAt = h.headerLength + IMAGE_SIGNATURE_SIZE;
    const oldAt = running ? running.headerLength + IMAGE_SIGNATURE_SIZE : 0;
    const writer = new SlotWriter(flash, firmwareAt, oldAt, h.encoding === 'delta' && running ? running.firmwareLength : 0);
    writer.writeRaw(parts.signedBytes);
    writer.writeRaw(parts.signature);
    const decoded = decodePayload(h, parts.payload, writer, flash.slotSize - firmwareAt);
    if (!decoded.ok) return { ok: false, reason: decoded.reason, detail: decoded.detail, upImageStatus: decoded.upImageStatus };
    writer.flush();
    const result = checkImage(flash.slotImage('secondary'), { ...this.policy(), currentVersion: this.runningVersion, form: 'installed' });
    if (!result.ok) return result;
    flash.setUpgradeFlag();
    return result;
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
    const boot = Bootloader.boot(this.flash, this.policy());
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

function cachedCheck(
  image: Uint8Array,
  policy: Omit<ImagePolicy, 'currentVersion'> & { hwRevision: number | null; manufacturer: number },
  currentVersion: number,
  runningDigest: Uint8Array | null,
): ImageCheckResult {
  const { trustedKeys, deviceClass, hwRevision, manufacturer } = policy;
  let keys = keySetIds.get(trustedKeys);
  if (keys === undefined) keySetIds.set(trustedKeys, (keys = nextKeySetId++));
  const digest = createHash('sha256').update(image).digest('hex');
  const running = runningDigest ? Buffer.from(runningDigest).toString('hex') : '-';
  const id = `${digest}|${keys}|${deviceClass}|${currentVersion}|${hwRevision}|${manufacturer}|${running}`;
  let result = checkCache.get(id);
  if (!result) {
    result = checkImage(image, { ...policy, currentVersion, ...(runningDigest ? { runningDigest } : {}) });
    if (checkCache.size >= CHECK_CACHE_SIZE) checkCache.delete(checkCache.keys().next().value as string);
    checkCache.set(id, result);
  }
  return result;
}
