/**
 * The signed firmware image format: a compact header, a 64-byte signature over the header, then the payload.
 * Pure byte encoding and decoding; no hashing or signature checks here (see src/device/image-check.ts).
 *
 * Byte table (all integers little-endian):
 *   0   4  magic "LFWI" (4C 46 57 49)
 *   4   1  format version (1)
 *   5   1  signature algorithm: 1 = ECDSA P-256/SHA-256, 2 = Ed25519
 *   6   1  flags: bit 0 = delta payload, bit 1 = compressed payload (never both); bits 7:2 RFU (must be 0)
 *   7   1  key id: first byte of SHA-256 of the signer's canonical public key
 *   8   2  manufacturer id (u16)
 *  10   2  hardware compatibility: bit n set = hardware revision n accepted (0xFFFF = any)
 *  12   4  device class id: first 4 bytes of SHA-256(UTF-8 class name)
 *  16   4  firmware version (u32, major 8 | minor 8 | patch 16 bits)
 *  20   4  payload length
 *  24  32  SHA-256 of the payload
 *  56   4  [delta only] base firmware version
 *  60  32  [delta only] SHA-256 of the base firmware
 *  E    4  [delta or compressed] firmware length (the decoded firmware), E = 56 (compressed) or 92 (delta)
 *  E+4 32  [delta or compressed] SHA-256 of the decoded firmware
 *  E+36 1  [delta or compressed] payload codec: 1 = LFD1 (docs/delta.md)
 *  E+37 3  [delta or compressed] RFU (must be 0)
 *  56 / 96 / 132  64  signature over bytes 0 .. header end (ECDSA: r || s, 32 bytes each; Ed25519: R || S)
 *  then the payload (raw firmware, LFD1 compressed stream, or LFD1 patch)
 */
import { CodecError } from './errors.js';

export const IMAGE_MAGIC = Uint8Array.of(0x4c, 0x46, 0x57, 0x49);
export const IMAGE_FORMAT_VERSION = 1;
export const IMAGE_BASE_HEADER_SIZE = 56;
export const IMAGE_DELTA_EXTENSION_SIZE = 36;
export const IMAGE_ENCODING_EXTENSION_SIZE = 40;
export const PAYLOAD_CODEC_LFD1 = 1;
export const IMAGE_SIGNATURE_SIZE = 64;
export const HW_COMPAT_ANY = 0xffff;
const FLAG_DELTA = 0x01;
const FLAG_COMPRESSED = 0x02;

/** How the payload encodes the firmware. */
export type ImageEncoding = 'raw' | 'compressed' | 'delta';

/** The decoded firmware a compressed or delta payload stands for. */
export interface EncodedFirmware {
  /** Length of the decoded firmware in bytes. */
  length: number;
  /** SHA-256 of the decoded firmware (32 bytes). */
  digest: Uint8Array;
}

export type SignatureAlgorithm = 'ecdsa-p256' | 'ed25519';
const ALGORITHM_CODES: Record<SignatureAlgorithm, number> = { 'ecdsa-p256': 1, ed25519: 2 };

export interface DeltaBase {
  /** Firmware version (u32) the delta applies to. */
  baseVersion: number;
  /** SHA-256 of the base firmware (the running image's decoded firmware, 32 bytes). */
  baseDigest: Uint8Array;
}

/** The signed fields of an image header. */
export interface ImageHeaderFields {
  algorithm: SignatureAlgorithm;
  keyId: number;
  manufacturer: number;
  hwCompat: number;
  /** 4 bytes, see deviceClassId() in src/device/image-check.ts. */
  deviceClassId: Uint8Array;
  /** u32, see versionToU32(). */
  firmwareVersion: number;
  payloadLength: number;
  payloadDigest: Uint8Array;
  /** Required for a delta; with `firmware` and no `delta` the payload is a compressed full image. */
  delta?: DeltaBase;
  /** Present when the payload is compressed or a delta: what it decodes to. */
  firmware?: EncodedFirmware;
}

export interface ImageHeader extends ImageHeaderFields {
  formatVersion: number;
  /** Derived, non-enumerable (like firmwareLength, firmwareDigest, installedLength): how the payload is encoded. */
  readonly encoding: ImageEncoding;
  /** Derived: length and SHA-256 of the firmware the image installs (the payload's own for a raw image). */
  readonly firmwareLength: number;
  readonly firmwareDigest: Uint8Array;
  /** Bytes 0 .. header end: the signed part. */
  headerLength: number;
  /** headerLength + signature + payloadLength: how many bytes of a slot or buffer the image occupies. */
  imageLength: number;
  /** Derived: headerLength + signature + firmwareLength, the slot bytes of the image once decoded (installed form). */
  readonly installedLength: number;
}

/** The parts of an image, as views into the input. */
export interface ImageParts {
  header: ImageHeader;
  signedBytes: Uint8Array;
  signature: Uint8Array;
  payload: Uint8Array;
}

const CMD = 'FirmwareImage';

/** '1.2.3' -> 0x01020003 (major 8 bits, minor 8 bits, patch 16 bits). */
export function versionToU32(version: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,5})$/.exec(version);
  const [major, minor, patch] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  if (!(major <= 0xff && minor <= 0xff && patch <= 0xffff)) {
    throw new RangeError(`version: expected X.Y.Z with X, Y <= 255 and Z <= 65535, got '${version}'`);
  }
  return ((major << 24) | (minor << 16) | patch) >>> 0;
}

/** 0x01020003 -> '1.2.3'. */
export function u32ToVersion(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`version: expected a u32, got ${n}`);
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${n & 0xffff}`;
}

function checkUint(field: string, value: number, max: number, offset: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new CodecError(CMD, field, offset, `must be an integer 0..${max}, got ${value}`);
  }
}

function checkBytes(field: string, value: Uint8Array, size: number, offset: number): void {
  if (value.length !== size) throw new CodecError(CMD, field, offset, `must be ${size} bytes, got ${value.length}`);
}

/** Encodes the signed header bytes (without the signature). */
export function encodeImageHeader(h: ImageHeaderFields): Uint8Array {
  if (h.delta && !h.firmware) throw new CodecError(CMD, 'firmware', IMAGE_BASE_HEADER_SIZE + IMAGE_DELTA_EXTENSION_SIZE, 'a delta image needs the decoded firmware length and digest');
  const encodedAt = IMAGE_BASE_HEADER_SIZE + (h.delta ? IMAGE_DELTA_EXTENSION_SIZE : 0);
  const size = encodedAt + (h.firmware ? IMAGE_ENCODING_EXTENSION_SIZE : 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const alg = ALGORITHM_CODES[h.algorithm];
  if (alg === undefined) throw new CodecError(CMD, 'algorithm', 5, `unknown algorithm '${String(h.algorithm)}'`);
  checkUint('keyId', h.keyId, 0xff, 7);
  checkUint('manufacturer', h.manufacturer, 0xffff, 8);
  checkUint('hwCompat', h.hwCompat, 0xffff, 10);
  checkBytes('deviceClassId', h.deviceClassId, 4, 12);
  checkUint('firmwareVersion', h.firmwareVersion, 0xffffffff, 16);
  checkUint('payloadLength', h.payloadLength, 0xffffffff, 20);
  checkBytes('payloadDigest', h.payloadDigest, 32, 24);
  out.set(IMAGE_MAGIC, 0);
  out[4] = IMAGE_FORMAT_VERSION;
  out[5] = alg;
  out[6] = h.delta ? FLAG_DELTA : h.firmware ? FLAG_COMPRESSED : 0;
  out[7] = h.keyId;
  view.setUint16(8, h.manufacturer, true);
  view.setUint16(10, h.hwCompat, true);
  out.set(h.deviceClassId, 12);
  view.setUint32(16, h.firmwareVersion, true);
  view.setUint32(20, h.payloadLength, true);
  out.set(h.payloadDigest, 24);
  if (h.delta) {
    checkUint('baseVersion', h.delta.baseVersion, 0xffffffff, 56);
    checkBytes('baseDigest', h.delta.baseDigest, 32, 60);
    view.setUint32(56, h.delta.baseVersion, true);
    out.set(h.delta.baseDigest, 60);
  }
  if (h.firmware) {
    checkUint('firmwareLength', h.firmware.length, 0xffffffff, encodedAt);
    checkBytes('firmwareDigest', h.firmware.digest, 32, encodedAt + 4);
    view.setUint32(encodedAt, h.firmware.length, true);
    out.set(h.firmware.digest, encodedAt + 4);
    out[encodedAt + 36] = PAYLOAD_CODEC_LFD1;
  }
  return out;
}

/** The buffer ends before the field at `offset`: the image is truncated. */
export class TruncatedImageError extends CodecError {}

function need(bytes: Uint8Array, field: string, offset: number, size: number): void {
  if (bytes.length < offset + size) {
    throw new TruncatedImageError(CMD, field, offset, `needs ${size} bytes at offset ${offset}, image has ${bytes.length}`);
  }
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();

/**
 * Decodes the header at the start of `bytes`. Throws TruncatedImageError for a short buffer, CodecError for a wrong magic, or a format version, algorithm or flag this code does not know.
 */
export function decodeImageHeader(bytes: Uint8Array): ImageHeader {
  need(bytes, 'magic', 0, 4);
  if (!IMAGE_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new CodecError(CMD, 'magic', 0, `expected 4C465749 ("LFWI"), got ${hex(bytes.subarray(0, 4))}`);
  }
  need(bytes, 'header', 4, IMAGE_BASE_HEADER_SIZE - 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = bytes[4]!;
  if (formatVersion !== IMAGE_FORMAT_VERSION) {
    throw new CodecError(CMD, 'formatVersion', 4, `unsupported format version ${formatVersion} (this code reads ${IMAGE_FORMAT_VERSION})`);
  }
  const algorithm = (Object.keys(ALGORITHM_CODES) as SignatureAlgorithm[]).find((a) => ALGORITHM_CODES[a] === bytes[5]);
  if (!algorithm) throw new CodecError(CMD, 'algorithm', 5, `unknown signature algorithm code ${bytes[5]}`);
  const flags = bytes[6]!;
  if (flags & ~(FLAG_DELTA | FLAG_COMPRESSED)) throw new CodecError(CMD, 'flags', 6, `RFU bits set (0x${flags.toString(16).padStart(2, '0')})`);
  if (flags === (FLAG_DELTA | FLAG_COMPRESSED)) throw new CodecError(CMD, 'flags', 6, 'delta and compressed flags are exclusive');
  const header: ImageHeader = {
    formatVersion,
    algorithm,
    keyId: bytes[7]!,
    manufacturer: view.getUint16(8, true),
    hwCompat: view.getUint16(10, true),
    deviceClassId: bytes.slice(12, 16),
    firmwareVersion: view.getUint32(16, true),
    payloadLength: view.getUint32(20, true),
    payloadDigest: bytes.slice(24, 56),
    headerLength: IMAGE_BASE_HEADER_SIZE,
    imageLength: 0,
  } as ImageHeader;
  if (flags & FLAG_DELTA) {
    need(bytes, 'delta', 56, IMAGE_DELTA_EXTENSION_SIZE);
    header.delta = { baseVersion: view.getUint32(56, true), baseDigest: bytes.slice(60, 92) };
    header.headerLength += IMAGE_DELTA_EXTENSION_SIZE;
  }
  if (flags & (FLAG_DELTA | FLAG_COMPRESSED)) {
    const at = header.headerLength;
    need(bytes, 'encoding', at, IMAGE_ENCODING_EXTENSION_SIZE);
    if (bytes[at + 36] !== PAYLOAD_CODEC_LFD1) throw new CodecError(CMD, 'payloadCodec', at + 36, `unknown payload codec ${bytes[at + 36]}`);
    if (bytes[at + 37] || bytes[at + 38] || bytes[at + 39]) throw new CodecError(CMD, 'encoding', at + 37, 'RFU bytes must be 0');
    header.firmware = { length: view.getUint32(at, true), digest: bytes.slice(at + 4, at + 36) };
    header.headerLength += IMAGE_ENCODING_EXTENSION_SIZE;
  }
  header.imageLength = header.headerLength + IMAGE_SIGNATURE_SIZE + header.payloadLength;
  const firmwareLength = header.firmware?.length ?? header.payloadLength;
  // Derived fields are non-enumerable: a header compares, spreads and serialises as the fields it was encoded from.
  Object.defineProperties(header, {
    encoding: { value: flags & FLAG_DELTA ? 'delta' : flags & FLAG_COMPRESSED ? 'compressed' : 'raw', enumerable: false },
    firmwareLength: { value: firmwareLength, enumerable: false },
    firmwareDigest: { value: header.firmware?.digest ?? header.payloadDigest, enumerable: false },
    installedLength: { value: header.headerLength + IMAGE_SIGNATURE_SIZE + firmwareLength, enumerable: false },
  });
  return header;
}

/**
 * Splits an image into header, signed bytes, signature and payload. Bytes after the image (FEC padding, the rest
 * of a flash slot) are ignored; a buffer shorter than the image throws TruncatedImageError.
 */
export function splitImage(bytes: Uint8Array): ImageParts {
  const header = decodeImageHeader(bytes);
  need(bytes, 'signature', header.headerLength, IMAGE_SIGNATURE_SIZE);
  const payloadAt = header.headerLength + IMAGE_SIGNATURE_SIZE;
  need(bytes, 'payload', payloadAt, header.payloadLength);
  return {
    header,
    signedBytes: bytes.subarray(0, header.headerLength),
    signature: bytes.subarray(header.headerLength, payloadAt),
    payload: bytes.subarray(payloadAt, header.imageLength),
  };
}

/**
 * Splits an image in installed form (header || signature || decoded firmware, as a slot holds it after a compressed
 * or delta payload was decoded); `payload` is then the firmware. For a raw image both forms are the same.
 */
export function splitInstalledImage(bytes: Uint8Array): ImageParts {
  const header = decodeImageHeader(bytes);
  need(bytes, 'signature', header.headerLength, IMAGE_SIGNATURE_SIZE);
  const at = header.headerLength + IMAGE_SIGNATURE_SIZE;
  need(bytes, 'firmware', at, header.firmwareLength);
  return {
    header,
    signedBytes: bytes.subarray(0, header.headerLength),
    signature: bytes.subarray(header.headerLength, at),
    payload: bytes.subarray(at, header.installedLength),
  };
}
