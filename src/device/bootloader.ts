/**
 * The bootloader model (MCUboot-style swap with scratch and test boots), written to port to C: fixed memory,
 * explicit persistent state, one flash operation per step.
 *
 * At every reset:
 *   1. a swap in progress (power was lost) is resumed from the step recorded in the boot state;
 *   2. otherwise, an unconfirmed primary image (a test boot that never confirmed) is reverted: the previous image,
 *      kept in the secondary slot, is verified and swapped back;
 *   3. otherwise, when the upgrade flag is set, the received image is verified (signature, digest, device class,
 *      no rollback below the running version) and swapped into the primary slot as a test boot, or rejected and the
 *      flag cleared;
 *   4. the primary image is verified and started; if it does not verify, the bootloader stays idle, waiting for an
 *      upgrade.
 * The swap exchanges the slots sector by sector through the scratch sector, recording progress after each copy, so
 * every copy can be redone after a power loss and the device always ends up with the old or the new image.
 */
import { checkImage, type ImageCheckResult, type ImagePolicy } from './image-check.js';
import type { ImageHeader } from '../codec/image-header.js';
import type { BootState, DeviceFlash, SwapProgress } from './flash.js';

export type BootPolicy = Omit<ImagePolicy, 'currentVersion'>;

/** What this boot did before starting (or not starting) an image. */
export type BootAction = 'none' | 'installed' | 'reverted' | 'rejected';

export type BootResult =
  | { state: 'running'; slot: 'primary'; version: number; header: ImageHeader; confirmed: boolean; action: BootAction; rejected?: ImageCheckResult }
  | { state: 'idle'; reason: string; action: BootAction; rejected?: ImageCheckResult };

export class Bootloader {
  /** Runs one reset of the device. May throw PowerLoss from a flash step; call boot() again to model the next reset. */
  static boot(flash: DeviceFlash, policy: BootPolicy): BootResult {
    let action: BootAction = 'none';
    let rejected: ImageCheckResult | undefined;
    const state = flash.state();
    // Slots hold images in installed form (a compressed or delta payload was decoded when it was received).
    const primary = () => checkImage(flash.slotImage('primary'), { ...policy, currentVersion: 0, allowRollback: true, form: 'installed' });

    if (state.swap) {
      Bootloader.runSwap(flash, state, state.swap);
      action = state.swap.kind === 'install' ? 'installed' : 'reverted';
    } else if (!state.confirmed) {
      const previous = checkImage(flash.slotImage('secondary'), { ...policy, currentVersion: 0, allowRollback: true, form: 'installed' });
      // Without a valid previous image there is nothing to revert to: keep the test image until it confirms.
      if (previous.ok) {
        Bootloader.startSwap(flash, state, 'revert', true);
        action = 'reverted';
      }
    } else if (state.upgradePending) {
      const running = primary();
      const received = checkImage(flash.slotImage('secondary'), { ...policy, currentVersion: running.ok ? running.version : 0, form: 'installed' });
      if (received.ok) {
        // With no valid running image there is nothing to revert to, so the install is permanent.
        Bootloader.startSwap(flash, { ...state, upgradePending: false, confirmed: !running.ok }, 'install', !running.ok);
        action = 'installed';
      } else {
        flash.writeState({ ...state, upgradePending: false });
        action = 'rejected';
        rejected = received;
      }
    }

    const booted = primary();
    const extra = rejected ? { rejected } : {};
    if (!booted.ok) return { state: 'idle', reason: `primary slot: ${booted.reason}: ${booted.detail}`, action, ...extra };
    const confirmed = flash.state().confirmed;
    return { state: 'running', slot: 'primary', version: booted.version, header: booted.header, confirmed, action, ...extra };
  }

  private static startSwap(flash: DeviceFlash, state: BootState, kind: SwapProgress['kind'], confirmOnDone: boolean): void {
    const used = Math.max(flash.usedLength('primary'), flash.usedLength('secondary'));
    const sectors = Math.max(1, Math.ceil(used / flash.sectorSize));
    const swap: SwapProgress = { kind, sectors, sector: 0, step: 0, confirmOnDone };
    const next = { ...state, swap };
    flash.writeState(next);
    Bootloader.runSwap(flash, next, swap);
  }

  /** Runs the swap from `from` to completion; each copy is followed by one state write recording the next step. */
  private static runSwap(flash: DeviceFlash, state: BootState, from: SwapProgress): void {
    const p = { ...from };
    while (p.sector < p.sectors) {
      if (p.step === 0) flash.programSector('scratch', 0, flash.readSector('secondary', p.sector));
      else if (p.step === 1) flash.programSector('secondary', p.sector, flash.readSector('primary', p.sector));
      else flash.programSector('primary', p.sector, flash.readSector('scratch', 0));
      if (p.step < 2) p.step = (p.step + 1) as 1 | 2;
      else {
        p.sector += 1;
        p.step = 0;
      }
      const done = p.sector === p.sectors;
      flash.writeState(done ? { upgradePending: state.upgradePending, confirmed: p.confirmOnDone, swap: null } : { ...state, swap: { ...p } });
    }
  }
}
