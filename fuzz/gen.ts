/**
 * Seeded input generation for the fuzz targets: random byte strings, byte-level mutations of valid samples, and
 * protobuf-shaped noise (tags with huge or truncated lengths). Deterministic for a given seed.
 */
import { Rng } from '../src/device/rng.js';

export { Rng };

/** Varints and lengths that broke decoders before: 2^32-1, 2^31-1, 10-byte varints, zero. */
const INTERESTING: number[][] = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0xff, 0xff, 0xff, 0xff, 0x07],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x00],
  [0x7f],
  [0xff],
  [0x80],
  [0xff, 0xff, 0xff, 0xff],
  [0xfe, 0xff, 0xff, 0xff],
];

export function randomBytes(rng: Rng, maxLen: number): Uint8Array {
  const n = rng.int(maxLen);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(255);
  return out;
}

export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length - 1)]!;
}

function concat(parts: ArrayLike<number>[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One to four random edits of `src` (a copy), splicing in `other` sometimes. */
export function mutate(rng: Rng, src: Uint8Array, other?: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(b.length);
    switch (rng.int(8)) {
      case 0:
        if (b.length) b[Math.min(at, b.length - 1)]! ^= 1 << rng.int(7);
        break;
      case 1:
        if (b.length) b[Math.min(at, b.length - 1)] = rng.int(255);
        break;
      case 2:
        b = concat([b.subarray(0, at), randomBytes(rng, 8), b.subarray(at)]);
        break;
      case 3:
        b = concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(8)))]);
        break;
      case 4:
        b = concat([b.subarray(0, at), pick(rng, INTERESTING), b.subarray(Math.min(b.length, at + rng.int(5)))]);
        break;
      case 5:
        b = b.subarray(0, at).slice();
        break;
      case 6: {
        const s = rng.int(b.length);
        b = concat([b.subarray(0, at), b.subarray(s, Math.min(b.length, s + 1 + rng.int(16))), b.subarray(at)]);
        break;
      }
      default:
        if (other) b = concat([b.subarray(0, at), other.subarray(rng.int(other.length))]);
    }
  }
  return b;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** Protobuf-shaped noise: fields 1..20 of every wire type, nested messages, lengths that lie. */
export function protobufNoise(rng: Rng, depth = 0): Uint8Array {
  const parts: ArrayLike<number>[] = [];
  const fields = rng.int(6);
  for (let i = 0; i < fields; i++) {
    const field = 1 + rng.int(19);
    const wt = rng.int(7);
    parts.push(varint((field << 3) | wt));
    if (wt === 0) parts.push(rng.int(3) === 0 ? pick(rng, INTERESTING) : varint(rng.int(300)));
    else if (wt === 1) parts.push(randomBytes(rng, 8));
    else if (wt === 5) parts.push(randomBytes(rng, 4));
    else if (wt === 2) {
      const body = depth < 3 && rng.int(1) === 0 ? protobufNoise(rng, depth + 1) : randomBytes(rng, 24);
      const r = rng.int(5);
      parts.push(r === 0 ? pick(rng, INTERESTING) : varint(r === 1 ? body.length + 1 + rng.int(1000) : body.length));
      parts.push(body);
    }
  }
  return concat(parts);
}
