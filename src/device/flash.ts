/**
 * A model of the device's firmware flash: two image slots (primary = running, secondary = received), one scratch
 * sector for the swap, and a small boot-state record shared by the bootloader and the application (MCUboot's
 * image trailer). Memory is fixed at construction. Every persistent write is one "step": a sector program or an
 * atomic state-record write. Tests inject power loss through `onStep`.
 */
import { decodeImageHeader } from '../codec/image-header.js';

export type FlashArea = 'primary' | 'secondary' | 'scratch';

/** Thrown by a step when the test cuts the power; the operation that was about to run did not complete. */
export class PowerLoss extends Error {
  override readonly name = 'PowerLoss';
}

/** An in-progress slot swap. `sector`/`step` name the next operation to run; 3 steps per sector. */
export interface SwapProgress {
  kind: 'install' | 'revert';
  /** Sectors to swap, fixed when the swap starts. */
  sectors: number;
  sector: number;
  /** 0: secondary -> scratch, 1: primary -> secondary, 2: scratch -> primary. */
  step: 0 | 1 | 2;
  /** Whether the primary image counts as confirmed when the swap completes. */
  confirmOnDone: boolean;
}

/** The persistent boot-state record. Written atomically (one flash word/record in a C port). */
export interface BootState {
  /** Set by the application after it wrote a complete image to the secondary slot. */
  upgradePending: boolean;
  /** The primary image has confirmed itself (or is the factory image); false = test boot, revert at next reset. */
  confirmed: boolean;
  swap: SwapProgress | null;
}

export interface FlashStep {
  /** Count of steps attempted since construction (0-based). */
  index: number;
  kind: 'program' | 'erase' | 'state';
  area?: FlashArea;
  sector?: number;
}

/**
 * Called before every persistent write. Throw PowerLoss to cut the power before the write; return 'tear' to cut it
 * halfway through a sector program (the sector is left half new data, half garbage).
 */
export type StepHook = (step: FlashStep) => void | 'tear';

const ERASED = 0xff;

export class DeviceFlash {
  readonly slotSize: number;
  readonly sectorSize: number;
  readonly sectorCount: number;
  onStep: StepHook | undefined;
  private stepIndex = 0;
  private readonly areas: Record<FlashArea, Uint8Array>;
  private bootState: BootState = { upgradePending: false, confirmed: true, swap: null };

  constructor(opts: { slotSize: number; sectorSize: number }) {
    const { slotSize, sectorSize } = opts;
    if (!Number.isInteger(sectorSize) || sectorSize <= 0) throw new RangeError(`sectorSize: must be a positive integer, got ${sectorSize}`);
    if (!Number.isInteger(slotSize) || slotSize <= 0 || slotSize % sectorSize !== 0) {
      throw new RangeError(`slotSize: must be a positive multiple of sectorSize (${sectorSize}), got ${slotSize}`);
    }
    this.slotSize = slotSize;
    this.sectorSize = sectorSize;
    this.sectorCount = slotSize / sectorSize;
    this.areas = {
      primary: new Uint8Array(slotSize).fill(ERASED),
      secondary: new Uint8Array(slotSize).fill(ERASED),
      scratch: new Uint8Array(sectorSize).fill(ERASED),
    };
  }

  /** Steps attempted so far (including one cut by power loss). */
  get steps(): number {
    return this.stepIndex;
  }

  private step(kind: FlashStep['kind'], area?: FlashArea, sector?: number): void | 'tear' {
    const s: FlashStep = { index: this.stepIndex++, kind };
    if (area !== undefined) s.area = area;
    if (sector !== undefined) s.sector = sector;
    return this.onStep?.(s);
  }

  state(): Readonly<BootState> {
    return structuredClone(this.bootState);
  }

  /** Atomic write of the whole state record (one step). */
  writeState(next: BootState): void {
    this.step('state');
    this.bootState = structuredClone(next);
  }

  /** A copy of one sector (index counted in sectorSize units; the scratch area has only sector 0). */
  readSector(area: FlashArea, sector: number): Uint8Array {
    const at = this.sectorOffset(area, sector);
    return this.areas[area].slice(at, at + this.sectorSize);
  }

  /** Erase + program one sector (one step). Shorter data leaves the rest of the sector erased. */
  programSector(area: FlashArea, sector: number, data: Uint8Array): void {
    const at = this.sectorOffset(area, sector);
    if (data.length > this.sectorSize) throw new RangeError(`data: ${data.length} bytes exceed the ${this.sectorSize}-byte sector`);
    const target = this.areas[area].subarray(at, at + this.sectorSize);
    if (this.step('program', area, sector) === 'tear') {
      const half = this.sectorSize >> 1;
      target.set(data.subarray(0, half));
      target.fill(0xa5, half);
      throw new PowerLoss(`power lost while programming ${area} sector ${sector}`);
    }
    target.fill(ERASED);
    target.set(data);
  }

  /** Erases one sector to 0xFF (one step). */
  eraseSector(area: FlashArea, sector: number): void {
    const at = this.sectorOffset(area, sector);
    this.step('erase', area, sector);
    this.areas[area].fill(ERASED, at, at + this.sectorSize);
  }

  /**
   * Programs bytes at `offset` within one sector without erasing it (one step), as NOR flash does: bits can only go
   * from 1 to 0, so the sector must have been erased. A torn program leaves the first half written.
   */
  program(area: FlashArea, offset: number, data: Uint8Array): void {
    const sector = Math.floor(offset / this.sectorSize);
    this.sectorOffset(area, sector);
    if (data.length === 0) return;
    if (Math.floor((offset + data.length - 1) / this.sectorSize) !== sector) throw new RangeError(`program: ${data.length} bytes at ${offset} cross a sector boundary`);
    const target = this.areas[area];
    if (this.step('program', area, sector) === 'tear') {
      const half = data.length >> 1;
      for (let i = 0; i < half; i++) target[offset + i]! &= data[i]!;
      throw new PowerLoss(`power lost while programming ${area} at ${offset}`);
    }
    for (let i = 0; i < data.length; i++) target[offset + i]! &= data[i]!;
  }

  /** One byte of an area (no copy; a memory-mapped flash read on a device). */
  readByte(area: FlashArea, offset: number): number {
    const b = this.areas[area][offset];
    if (b === undefined) throw new RangeError(`offset: ${offset} is outside ${area}`);
    return b;
  }

  /** Factory programming of the primary slot (before the first boot; counts as steps like any program). */
  programFactoryImage(image: Uint8Array): void {
    if (image.length > this.slotSize) throw new RangeError(`image: ${image.length} bytes exceed the ${this.slotSize}-byte slot`);
    for (let s = 0; s * this.sectorSize < image.length; s++) {
      this.programSector('primary', s, image.subarray(s * this.sectorSize, (s + 1) * this.sectorSize));
    }
  }

  private sectorOffset(area: FlashArea, sector: number): number {
    const count = area === 'scratch' ? 1 : this.sectorCount;
    if (!Number.isInteger(sector) || sector < 0 || sector >= count) throw new RangeError(`sector: ${sector} is outside ${area} (0..${count - 1})`);
    return sector * this.sectorSize;
  }

  /** A copy of a slot, or null when its first bytes are erased (no image written). */
  slotImage(area: 'primary' | 'secondary'): Uint8Array | null {
    return this.isEmpty(area) ? null : this.areas[area].slice();
  }

  /** How many bytes of a slot an image occupies: its stated length, or the whole slot when the header is unreadable. */
  usedLength(area: 'primary' | 'secondary'): number {
    if (this.isEmpty(area)) return 0;
    try {
      return Math.min(this.slotSize, decodeImageHeader(this.areas[area]).installedLength);
    } catch {
      return this.slotSize;
    }
  }

  private isEmpty(area: 'primary' | 'secondary'): boolean {
    return this.areas[area].subarray(0, 4).every((b) => b === ERASED);
  }

  // --- Application side (the shared flag API, as MCUboot's boot_set_pending / boot_set_confirmed) ---

  /** Application: store a received image in the secondary slot. Refused while the running image is unconfirmed. */
  writeReceived(image: Uint8Array): void {
    if (image.length > this.slotSize) throw new RangeError(`image: ${image.length} bytes exceed the ${this.slotSize}-byte slot`);
    if (!this.bootState.confirmed) throw new Error('image: the running image is not confirmed yet; its previous image is still needed for a revert');
    for (let s = 0; s < this.sectorCount; s++) {
      this.programSector('secondary', s, image.subarray(s * this.sectorSize, (s + 1) * this.sectorSize));
    }
  }

  /** Application (TS006 DevDeleteImageReq): erase the secondary slot and drop a pending upgrade. */
  eraseReceived(): void {
    if (!this.bootState.confirmed) throw new Error('image: the running image is not confirmed yet; its previous image is still needed for a revert');
    if (this.bootState.upgradePending) this.writeState({ ...this.bootState, upgradePending: false });
    for (let s = 0; s < this.sectorCount; s++) this.programSector('secondary', s, new Uint8Array(0));
  }

  /** Application: the received image is complete; install it at the next reset. */
  setUpgradeFlag(): void {
    if (!this.bootState.confirmed) throw new Error('image: the running image is not confirmed yet; confirm it before requesting an upgrade');
    this.writeState({ ...this.bootState, upgradePending: true });
  }

  /** Application: the running image works; keep it (no revert at the next reset). */
  confirm(): void {
    if (!this.bootState.confirmed) this.writeState({ ...this.bootState, confirmed: true });
  }
}
