/**
 * Decoding an authenticated image's payload into firmware: raw payloads are copied, compressed and delta payloads
 * go through the LFD1 patcher with the device's build-time limits. Callers check the decoded firmware's SHA-256
 * against the signed header before accepting it.
 */
import type { ImageHeader } from '../codec/image-header.js';
import { Patcher, PatchError, type PatchIo } from './patcher.js';
import { SlotWriter } from './slot-writer.js';

/** Segment-table capacity of the device patcher (build-time limit; the encoder fits its patches to it). */
export const DEVICE_MAX_SEGMENTS = 512;

export type DecodeOutcome =
  | { ok: true; firmwareLength: number; ramBytes: number }
  | { ok: false; reason: 'bad-payload'; detail: string; upImageStatus: 1; ramBytes: number };

// One patcher per limit set: a device has one statically; the simulated fleet shares them (decoding is synchronous).
const patchers = new Map<string, Patcher>();

export function devicePatcher(encoding: 'compressed' | 'delta', maxOutput: number): Patcher {
  const maxSegments = encoding === 'delta' ? DEVICE_MAX_SEGMENTS : 0;
  const id = `${maxSegments}/${maxOutput}`;
  let p = patchers.get(id);
  if (!p) {
    if (patchers.size >= 16) patchers.clear();
    p = new Patcher({ maxSegments, maxOutput });
    patchers.set(id, p);
  }
  return p;
}

/** RAM the device needs to decode this encoding: patcher tables and state plus the slot writer's page buffer. */
export function decodeRamBytes(encoding: ImageHeader['encoding'], maxOutput: number): number {
  if (encoding === 'raw') return 0;
  return devicePatcher(encoding, maxOutput).ramBytes + SlotWriter.RAM_BYTES;
}

/** Runs the patcher for a compressed or delta payload; `io.oldLength` must be 0 for compressed images. */
export function decodePayload(h: ImageHeader, payload: Uint8Array, io: PatchIo, maxOutput: number): DecodeOutcome {
  if (h.encoding === 'raw') throw new RangeError('decodePayload: raw images need no decoding');
  const patcher = devicePatcher(h.encoding, maxOutput);
  const ramBytes = patcher.ramBytes + SlotWriter.RAM_BYTES;
  const fail = (detail: string): DecodeOutcome => ({ ok: false, reason: 'bad-payload', detail, upImageStatus: 1, ramBytes });
  if (h.firmwareLength > maxOutput) return fail(`firmware of ${h.firmwareLength} bytes does not fit the ${maxOutput}-byte slot`);
  try {
    const n = patcher.apply(payload, h.encoding === 'compressed' ? { ...io, oldLength: 0 } : io);
    if (n !== h.firmwareLength) return fail(`payload decodes to ${n} bytes, header says ${h.firmwareLength}`);
    return { ok: true, firmwareLength: n, ramBytes };
  } catch (err) {
    if (err instanceof PatchError) return fail(`${h.encoding} payload: ${err.code}: ${err.message}`);
    throw err;
  }
}
