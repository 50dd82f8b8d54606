/**
 * The whole device-side acceptance of an image, over memory (the CLI's `image apply`, tests): authenticate the
 * header, check device class / hardware / manufacturer / base / version, decode the payload (raw, compressed or
 * delta against `base`), and accept the firmware only when its SHA-256 equals the signed one.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { ImageHeader } from '../codec/image-header.js';
import { checkImage, type ImagePolicy, type ImageRejectReason } from './image-check.js';
import { decodePayload, decodeRamBytes } from './image-decode.js';
import { decodeImageHeader, splitImage } from '../codec/image-header.js';
import { memoryIo } from './patcher.js';

export interface ApplyOptions extends Omit<ImagePolicy, 'runningDigest' | 'form' | 'currentVersion'> {
  /** The running firmware a delta applies to. */
  base?: Uint8Array;
  /** Running version for the anti-rollback check (default 0: no check). */
  currentVersion?: number;
  /** Largest firmware the device's slot holds (default 1 MiB). */
  maxFirmware?: number;
}

interface Figures {
  ramBytes: number;
  payloadBytes: number;
  firmwareBytes: number;
}

export type ApplyResult =
  | ({ ok: true; header: ImageHeader; firmware: Uint8Array } & Figures)
  | ({ ok: false; reason: ImageRejectReason; detail: string; upImageStatus: 0 | 1 | 2 } & Figures);

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export function applyImage(image: Uint8Array, opts: ApplyOptions): ApplyResult {
  const maxOutput = opts.maxFirmware ?? 1 << 20;
  const { base, maxFirmware: _m, ...policy } = opts;
  void _m;
  const check = checkImage(image, { ...policy, currentVersion: opts.currentVersion ?? 0, ...(base ? { runningDigest: sha256(base) } : {}) });
  if (!check.ok) {
    let figures = { ramBytes: 0, payloadBytes: 0, firmwareBytes: 0 };
    try {
      const h = decodeImageHeader(image);
      figures = { ramBytes: decodeRamBytes(h.encoding, maxOutput), payloadBytes: h.payloadLength, firmwareBytes: h.firmwareLength };
    } catch {
      // unreadable header: no figures
    }
    return { ...check, ...figures };
  }
  const h = check.header;
  const payload = splitImage(image).payload;
  const figures = { ramBytes: decodeRamBytes(h.encoding, maxOutput), payloadBytes: h.payloadLength, firmwareBytes: h.firmwareLength };
  if (h.encoding === 'raw') return { ok: true, header: h, firmware: payload.slice(), ...figures };
  const out = new Uint8Array(Math.min(maxOutput, h.firmwareLength));
  const r = decodePayload(h, payload, memoryIo(h.encoding === 'delta' ? base! : new Uint8Array(0), out), maxOutput);
  if (!r.ok) return { ...r, ...figures };
  if (!equal(sha256(out), h.firmwareDigest)) {
    return { ok: false, reason: 'digest-mismatch', detail: `SHA-256 of the ${h.firmwareLength}-byte decoded firmware differs from the header`, upImageStatus: 1, ...figures };
  }
  return { ok: true, header: h, firmware: out, ...figures };
}
