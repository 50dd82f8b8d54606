/**
 * The LFD1 patch format (docs/delta.md): constants, the probability-table layout shared by encoder and patcher,
 * the Thumb-2 branch / address-word predictor, and the symbol coders (one encode and one decode function per
 * symbol so both sides stay in step). Pure: no I/O, no allocation on the decode path.
 */
import { PROB_INIT, type RangeDecoder, type RangeEncoder } from './range-coder.js';

export const LFD_FORMAT_ID = 0x01;
/** Plain bytes before the range-coded stream: format id, new length (u32), load address (u32), segment count (u16). */
export const LFD_PREFIX_SIZE = 11;
export const DEFAULT_LOAD_ADDRESS = 0x08000000;
/** Longest LZ match and shortest one (in the extra regions). */
export const MATCH_MIN = 2;
export const MATCH_MAX = 273;

// --- Number coder: value+1 = 1 b_{n-1} ... b_0, n coded with a 5-bit tree, top 2 bits modelled per n, then direct
// bits, then the low 2 bits modelled (when n > 4).
const NUM_N = 0; // 32 probs (tree nodes 1..31)
const NUM_TOP = 32; // 32 * 4
const NUM_LOW = 160; // 4
export const NUM_SIZE = 164;

// Residual kinds (diff bytes): 0 plain, 1..4 branch byte 0..3, 5..8 address word byte 0..3.
export const KIND_PLAIN = 0;
export const KIND_BRANCH = 1;
export const KIND_WORD = 5;

/** Offsets into the one probability table. */
export const P = (() => {
  let at = 0;
  const take = (n: number): number => ((at += n), at - n);
  return {
    segDiff: take(NUM_SIZE),
    segExtra: take(NUM_SIZE),
    segSeek: take(NUM_SIZE),
    seekSign: take(1),
    resZero: take(9 * 2),
    resByte: take(2 * 256),
    isMatch: take(2 * 4),
    isRep: take(2),
    len: take(NUM_SIZE),
    repLen: take(NUM_SIZE),
    dist: take(NUM_SIZE),
    lit: take(4 * 256),
    isOld: take(2),
    oldLen: take(NUM_SIZE),
    oldOff: take(NUM_SIZE),
    oldSign: take(1),
    total: at,
  };
})();

export function resetProbs(probs: Uint16Array): void {
  probs.fill(PROB_INIT);
}

// --- Number coder -------------------------------------------------------------------------------------------------

export function encodeNumber(rc: RangeEncoder, probs: Uint16Array, base: number, value: number): void {
  const v = value + 1;
  const n = 31 - Math.clz32(v);
  let node = 1;
  for (let i = 4; i >= 0; i--) {
    const b = (n >>> i) & 1;
    rc.bit(probs, base + NUM_N + node, b);
    node = (node << 1) | b;
  }
  if (n === 0) return;
  const top = Math.min(n, 2);
  node = 1;
  for (let i = n - 1; i >= n - top; i--) {
    const b = (v >>> i) & 1;
    rc.bit(probs, base + NUM_TOP + (n << 2) + node, b);
    node = (node << 1) | b;
  }
  const rest = n - top;
  if (rest <= 2) {
    if (rest > 0) rc.direct(v & ((1 << rest) - 1), rest);
    return;
  }
  rc.direct((v >>> 2) & ((1 << (rest - 2)) - 1), rest - 2);
  const low = v & 3;
  rc.bit(probs, base + NUM_LOW + 1, low >> 1);
  rc.bit(probs, base + NUM_LOW + 2 + (low >> 1), low & 1);
}

export function decodeNumber(rc: RangeDecoder, probs: Uint16Array, base: number): number {
  let node = 1;
  for (let i = 0; i < 5; i++) node = (node << 1) | rc.bit(probs, base + NUM_N + node);
  const n = node - 32;
  if (n === 0) return 0;
  const top = Math.min(n, 2);
  let v = 1;
  node = 1;
  for (let i = 0; i < top; i++) {
    const b = rc.bit(probs, base + NUM_TOP + (n << 2) + node);
    node = (node << 1) | b;
    v = v * 2 + b;
  }
  const rest = n - top;
  if (rest <= 2) return (rest > 0 ? v * 2 ** rest + rc.direct(rest) : v) - 1;
  v = v * 2 ** (rest - 2) + rc.direct(rest - 2);
  const hi = rc.bit(probs, base + NUM_LOW + 1);
  const lo = rc.bit(probs, base + NUM_LOW + 2 + hi);
  return v * 4 + hi * 2 + lo - 1;
}

// --- Bit trees over bytes -------------------------------------------------------------------------------------

export function encodeByte(rc: RangeEncoder, probs: Uint16Array, base: number, byte: number): void {
  let node = 1;
  for (let i = 7; i >= 0; i--) {
    const b = (byte >> i) & 1;
    rc.bit(probs, base + node, b);
    node = (node << 1) | b;
  }
}

export function decodeByte(rc: RangeDecoder, probs: Uint16Array, base: number): number {
  let node = 1;
  while (node < 256) node = (node << 1) | rc.bit(probs, base + node);
  return node - 256;
}

/** Literal context: byte parity (Thumb halfwords: low byte / high byte) and the previous byte's top bit. */
export const litBase = (pos: number, prev: number): number => P.lit + (((pos & 1) | ((prev >> 7) << 1)) << 8);

// --- Thumb-2 branches -----------------------------------------------------------------------------------------

/** BL (T1) or B.W (T4): hw1 = 11110 S imm10, hw2 = 1x J1 1 J2 imm11 with x = 1 (BL) or 0 (B.W). */
export function isBranch(hw1: number, hw2: number): boolean {
  return (hw1 & 0xf800) === 0xf000 && ((hw2 & 0xd000) === 0xd000 || (hw2 & 0xd000) === 0x9000);
}

/** Branch offset (target - (pc + 4)) of a BL / B.W pair. */
export function branchOffset(hw1: number, hw2: number): number {
  const s = (hw1 >> 10) & 1;
  const i1 = ~((hw2 >> 13) ^ s) & 1;
  const i2 = ~((hw2 >> 11) ^ s) & 1;
  const u = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3ff) << 12) | ((hw2 & 0x7ff) << 1);
  return s ? u - (1 << 25) : u;
}

/** Re-encodes the pair with a new offset; the type bits of hw2 are kept. Returns -1 when out of range. */
export function branchWith(hw2: number, offset: number): number {
  if (offset < -(1 << 24) || offset >= 1 << 24 || offset & 1) return -1;
  const u = offset & 0x1ffffff;
  const s = (u >> 24) & 1;
  const j1 = (((u >> 23) & 1) ^ 1) ^ s;
  const j2 = (((u >> 22) & 1) ^ 1) ^ s;
  const hw1 = 0xf000 | (s << 10) | ((u >> 12) & 0x3ff);
  const nhw2 = (hw2 & 0xd000) | (j1 << 13) | (j2 << 11) | ((u >> 1) & 0x7ff);
  return ((nhw2 << 16) | hw1) >>> 0;
}

/** Address words worth predicting: into the old image, or SRAM (0x1xxxxxxx / 0x2xxxxxxx on Cortex-M). */
export function isAddressWord(w: number, loadAddress: number, oldLength: number): boolean {
  const top = w >>> 28;
  return (w >= loadAddress && w <= loadAddress + oldLength) || top === 1 || top === 2;
}

/** Size of the learnt address cache (entries of old word -> new word). */
export const WORD_CACHE_SIZE = 64;
export const wordCacheIndex = (w: number): number => ((w >>> 2) ^ (w >>> 10)) & (WORD_CACHE_SIZE - 1);
