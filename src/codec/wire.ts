/**
 * Little-endian byte reading and writing for the command codecs. Every failure is a CodecError that names the
 * command, the field and the byte offset of that field within the frame.
 */
import { CodecError } from './errors.js';

/** Reads fields of one command from a frame; `pos` is an absolute offset into the frame. */
export class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly command: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(field: string, reason: string, offset = this.pos): never {
    throw new CodecError(this.command, field, offset, reason);
  }

  private take(field: string, n: number): number {
    if (this.remaining < n) {
      this.fail(field, `needs ${n} byte${n === 1 ? '' : 's'}, only ${this.remaining} left (frame too short)`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field: string): number {
    return this.bytes[this.take(field, 1)]!;
  }
  u16(field: string): number {
    const i = this.take(field, 2);
    return this.bytes[i]! | (this.bytes[i + 1]! << 8);
  }
  u24(field: string): number {
    const i = this.take(field, 3);
    return this.bytes[i]! | (this.bytes[i + 1]! << 8) | (this.bytes[i + 2]! << 16);
  }
  u32(field: string): number {
    const i = this.take(field, 4);
    return (this.bytes[i]! | (this.bytes[i + 1]! << 8) | (this.bytes[i + 2]! << 16) | (this.bytes[i + 3]! << 24)) >>> 0;
  }
  i32(field: string): number {
    return this.u32(field) | 0;
  }
  raw(field: string, n: number): Uint8Array {
    const i = this.take(field, n);
    return this.bytes.slice(i, i + n);
  }
}

/** Writes one command, checking every value's range; `base` is the frame offset of the command's first byte. */
export class Writer {
  private readonly out: number[] = [];
  constructor(
    readonly command: string,
    readonly base = 0,
  ) {}

  /** Frame offset of the next byte to be written. */
  get offset(): number {
    return this.base + this.out.length;
  }

  fail(field: string, reason: string): never {
    throw new CodecError(this.command, field, this.offset, reason);
  }

  private check(field: string, v: unknown, max: number, min = 0): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `must be an integer in ${min}..${max}, got ${String(v)}`);
    }
    return v;
  }

  /** Packs bit fields into one byte: parts are [field, value, width, shift]. One-bit flags take booleans
   *  (absent = false); wider fields must be integers. */
  bits(parts: [string, number | boolean | undefined, number, number][]): this {
    let b = 0;
    for (const [field, v, width, shift] of parts) {
      const n = width === 1 && (typeof v === 'boolean' || v === undefined) ? Number(v ?? false) : v;
      b |= this.check(field, n, (1 << width) - 1) << shift;
    }
    this.out.push(b);
    return this;
  }
  u8(field: string, v: number): this {
    this.out.push(this.check(field, v, 0xff));
    return this;
  }
  u16(field: string, v: number): this {
    this.check(field, v, 0xffff);
    this.out.push(v & 0xff, v >>> 8);
    return this;
  }
  u24(field: string, v: number): this {
    this.check(field, v, 0xffffff);
    this.out.push(v & 0xff, (v >>> 8) & 0xff, v >>> 16);
    return this;
  }
  u32(field: string, v: number): this {
    this.check(field, v, 0xffffffff);
    this.out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    return this;
  }
  i32(field: string, v: number): this {
    this.check(field, v, 0x7fffffff, -0x80000000);
    return this.u32(field, v >>> 0);
  }
  raw(field: string, v: Uint8Array, n?: number): this {
    if (!(v instanceof Uint8Array)) this.fail(field, 'must be a Uint8Array');
    if (n !== undefined && v.length !== n) this.fail(field, `must be ${n} bytes, got ${v.length}`);
    for (const b of v) this.out.push(b);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** One command of a package: its CID, direction, the versions that define it and its byte layout. */
export interface CommandSpec<C extends { type: string } = { type: string }> {
  cid: number;
  type: C['type'];
  /** Package versions that know this command (absent: all). */
  versions?: readonly (1 | 2)[];
  /** Writes the fields after the CID (the caller has written the CID). */
  encode(cmd: C, w: Writer): void;
  /** Reads the fields after the CID; the reader stands on the first payload byte. */
  decode(r: Reader): C;
}

/** Builds a CommandSpec while keeping the concrete command type for the callbacks. */
export function spec<C extends { type: string }>(s: CommandSpec<C>): CommandSpec<{ type: string }> {
  return s as unknown as CommandSpec<{ type: string }>;
}

export const bit = (b: number, n: number): boolean => ((b >> n) & 1) === 1;
