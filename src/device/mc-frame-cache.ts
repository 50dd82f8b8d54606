/**
 * Caches shared by every simulated device in the process. Devices in the same group derive identical session keys
 * and hear identical frames, so one AES/CMAC run and one command decode serve the whole fleet.
 * - decrypt/MIC results per (frame, group key): first by the frame's bytes object (the network hands the same frame
 *   to every device), then by (key, FCnt, MIC) in a small LRU for networks that copy frames. A frame that verifies
 *   under a key has exactly one plaintext.
 * - decoded commands per (plaintext object, package versions). Cached results are shared: read-only.
 */
import { CodecError } from '../codec/errors.js';
import { decodeCommands, type AnyCommand, type PackageName, type Versions } from '../codec/frame.js';
import { decodeDownlinkFrame } from '../codec/lorawan-frame.js';
import type { MulticastFrame } from './radio-frames.js';

export interface DecodedMulticast {
  fPort: number;
  /** Plaintext FRMPayload; shared between devices, read-only. */
  payload: Uint8Array;
}

export interface McKeys {
  /** Stable identifier of the key pair (hex of both keys). */
  keyId: string;
  mcAppSKey: Uint8Array;
  mcNwkSKey: Uint8Array;
}

const LRU_CAPACITY = 256;
const byFrame = new WeakMap<Uint8Array, Map<string, DecodedMulticast | null>>();
const lru = new Map<string, DecodedMulticast | null>();
const commandsByPayload = new WeakMap<Uint8Array, Map<string, AnyCommand[]>>();

/** Decrypts and MIC-checks a multicast frame with the device's own keys; null when the MIC fails. */
export function decodeMulticast(frame: MulticastFrame, keys: McKeys): DecodedMulticast | null {
  let perKey = byFrame.get(frame.phyPayload);
  const hit = perKey?.get(keys.keyId);
  if (hit !== undefined) return hit;
  const mic = frame.mic;
  const id = `${keys.keyId}:${frame.fCnt}:${mic[0]},${mic[1]},${mic[2]},${mic[3]}:${frame.phyPayload.length}`;
  let result = lru.get(id);
  if (result === undefined) {
    result = verify(frame, keys);
    if (lru.size >= LRU_CAPACITY) lru.delete(lru.keys().next().value as string);
    lru.set(id, result);
  }
  if (!perKey) byFrame.set(frame.phyPayload, (perKey = new Map()));
  perKey.set(keys.keyId, result);
  return result;
}

/** decodeCommands for a shared multicast plaintext, decoded once per package version set. */
export function decodeShared(pkg: PackageName, payload: Uint8Array, versions: Versions): AnyCommand[] {
  const v = `${pkg}/${versions.ts003 ?? 1}${versions.ts004 ?? 1}${versions.ts005 ?? 1}`;
  let perVersion = commandsByPayload.get(payload);
  let commands = perVersion?.get(v);
  if (!commands) {
    commands = decodeCommands(pkg, 'downlink', payload, versions).commands;
    if (!perVersion) commandsByPayload.set(payload, (perVersion = new Map()));
    perVersion.set(v, commands);
  }
  return commands;
}

function verify(frame: MulticastFrame, keys: McKeys): DecodedMulticast | null {
  try {
    const d = decodeDownlinkFrame(frame.phyPayload, { appSKey: keys.mcAppSKey, nwkSKey: keys.mcNwkSKey, fCntFull: frame.fCnt });
    return d && d.devAddr === frame.mcAddr && d.fCnt === frame.fCnt ? { fPort: d.fPort, payload: d.payload } : null;
  } catch (e) {
    if (e instanceof CodecError) return null;
    throw e;
  }
}
