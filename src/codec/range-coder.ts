/**
 * Adaptive binary range coder (LZMA style, with 15-bit probabilities and adaptation shift 4, 32-bit range, byte-wise
 * carry propagation). The encoder runs on the server; the decoder is the device-side half, with no allocation:
 * it reads its input through a callback and keeps four numbers of state.
 */

export const PROB_BITS = 15;
export const PROB_INIT = 1 << (PROB_BITS - 1);
const MOVE_BITS = 4;
const TOP = 2 ** 24;
const TWO32 = 2 ** 32;

/** Server-side encoder; output grows as needed. */
export class RangeEncoder {
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private out: number[] = [];

  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= TWO32) {
      const carry = this.low >= TWO32 ? 1 : 0;
      let temp = this.cache;
      do {
        this.out.push((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor(this.low / TOP) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low % TOP) * 256;
  }

  bit(probs: Uint16Array, i: number, bit: number): void {
    const p = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * p;
    if (bit === 0) {
      this.range = bound;
      probs[i] = p + (((1 << PROB_BITS) - p) >> MOVE_BITS);
    } else {
      this.low += bound;
      this.range -= bound;
      probs[i] = p - (p >> MOVE_BITS);
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  /** `count` equiprobable bits of `value`, most significant first. */
  direct(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.range = this.range >>> 1;
      if ((value >>> i) & 1) this.low += this.range;
      while (this.range < TOP) {
        this.range = (this.range * 256) >>> 0;
        this.shiftLow();
      }
    }
  }

  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    return Uint8Array.from(this.out);
  }
}

/** Reads the next input byte or returns -1 at the end of the input. */
export type ByteSource = () => number;

/** Thrown by the decoder when its input ends before the stream does. */
export class RangeInputEnded extends Error {
  override readonly name = 'RangeInputEnded';
}

/** Device-side decoder: fixed state, input through a callback. */
export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private src: ByteSource = () => -1;

  /** Starts decoding a stream (reads its first 5 bytes). */
  init(src: ByteSource): void {
    this.src = src;
    this.range = 0xffffffff;
    this.code = 0;
    for (let i = 0; i < 5; i++) this.code = ((this.code * 256) % TWO32) + this.next();
  }

  private next(): number {
    const b = this.src();
    if (b < 0) throw new RangeInputEnded('input ended inside the coded stream');
    return b;
  }

  bit(probs: Uint16Array, i: number): number {
    const p = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + (((1 << PROB_BITS) - p) >> MOVE_BITS);
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      probs[i] = p - (p >> MOVE_BITS);
      bit = 1;
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.code = this.code * 256 + this.next();
    }
    return bit;
  }

  direct(count: number): number {
    let v = 0;
    for (let i = 0; i < count; i++) {
      this.range = this.range >>> 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      v = v * 2 + b;
      while (this.range < TOP) {
        this.range = (this.range * 256) >>> 0;
        this.code = this.code * 256 + this.next();
      }
    }
    return v;
  }
}
