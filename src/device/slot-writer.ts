/**
 * Patcher I/O over the flash model: the old firmware is read from the primary slot, the new image is written in
 * order into the secondary slot through one small page buffer (each sector erased when the writer enters it, each
 * full page programmed in one step), and bytes already written are read back from flash or the buffer.
 */
import type { PatchIo } from './patcher.js';
import { PatchError } from './patcher.js';
import type { DeviceFlash } from './flash.js';

/** Bytes of the page buffer: the only RAM the writer holds (a C port's static buffer). */
export const SLOT_PAGE_BYTES = 256;

export class SlotWriter implements PatchIo {
  private readonly page = new Uint8Array(SLOT_PAGE_BYTES);
  private pageAt = 0;
  private fill = 0;
  /** Bytes written so far, counted from the slot start. */
  private pos: number;

  /**
   * @param base offset of the firmware in the secondary slot (after header and signature, written with writeRaw).
   * @param oldAt offset of the running firmware in the primary slot; oldLength its length (0: none).
   */
  constructor(
    private readonly flash: DeviceFlash,
    private readonly base: number,
    private readonly oldAt: number,
    readonly oldLength: number,
  ) {
    this.pos = 0;
    this.pageAt = 0;
  }

  static readonly RAM_BYTES = SLOT_PAGE_BYTES + 16;

  readonly readOld = (pos: number): number => this.flash.readByte('primary', this.oldAt + pos);

  /** Writes slot bytes (header, signature, then firmware through write()). */
  writeByte(b: number): void {
    if (this.pos >= this.flash.slotSize) throw new PatchError('limit', 'output', `write past the ${this.flash.slotSize}-byte slot`);
    if (this.fill === 0) this.pageAt = this.pos;
    if (this.pos % this.flash.sectorSize === 0) this.flash.eraseSector('secondary', this.pos / this.flash.sectorSize);
    this.page[this.fill++] = b;
    this.pos++;
    if (this.fill === SLOT_PAGE_BYTES || this.pos % this.flash.sectorSize === 0) this.flush();
  }

  writeRaw(bytes: Uint8Array): void {
    for (const b of bytes) this.writeByte(b);
  }

  readonly write = (b: number): void => this.writeByte(b);

  /** pos counts from the firmware start. */
  readonly readNew = (pos: number): number => {
    const at = this.base + pos;
    if (at >= this.pageAt && at < this.pageAt + this.fill) return this.page[at - this.pageAt]!;
    return this.flash.readByte('secondary', at);
  };

  flush(): void {
    if (this.fill === 0) return;
    this.flash.program('secondary', this.pageAt, this.page.subarray(0, this.fill));
    this.pageAt += this.fill;
    this.fill = 0;
  }
}
