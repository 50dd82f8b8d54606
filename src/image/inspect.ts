/** A JSON view of an image header, for `lorafuota image inspect` and logs. No verification. */
import { splitImage, u32ToVersion } from '../codec/image-header.js';

export interface ImageSummary {
  formatVersion: number;
  algorithm: string;
  keyId: string;
  manufacturer: number;
  hwCompat: string;
  deviceClassId: string;
  version: string;
  versionU32: string;
  payloadLength: number;
  payloadSha256: string;
  headerLength: number;
  imageLength: number;
  signature: string;
  encoding: 'raw' | 'compressed' | 'delta';
  firmware?: { length: number; sha256: string };
  delta?: { baseVersion: string; baseSha256: string };
  trailingBytes: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const hexU = (n: number, digits: number): string => '0x' + n.toString(16).padStart(digits, '0');

/** Throws CodecError (naming the field) when the header cannot be read. */
export function inspectImage(image: Uint8Array): ImageSummary {
  const { header: h, signature } = splitImage(image);
  return {
    formatVersion: h.formatVersion,
    algorithm: h.algorithm,
    keyId: hexU(h.keyId, 2),
    manufacturer: h.manufacturer,
    hwCompat: hexU(h.hwCompat, 4),
    deviceClassId: hex(h.deviceClassId),
    version: u32ToVersion(h.firmwareVersion),
    versionU32: hexU(h.firmwareVersion, 8),
    payloadLength: h.payloadLength,
    payloadSha256: hex(h.payloadDigest),
    headerLength: h.headerLength,
    imageLength: h.imageLength,
    signature: hex(signature),
    encoding: h.encoding,
    ...(h.firmware ? { firmware: { length: h.firmware.length, sha256: hex(h.firmware.digest) } } : {}),
    ...(h.delta ? { delta: { baseVersion: u32ToVersion(h.delta.baseVersion), baseSha256: hex(h.delta.baseDigest) } } : {}),
    trailingBytes: image.length - h.imageLength,
  };
}
