/**
 * A small cache of multicast frame decryptions shared by every simulated device in the process. Devices in the same
 * group derive identical session keys and hear identical frames, so one AES/CMAC run serves the whole fleet.
 * The cache key is (group key id, FCnt, MIC): a frame that verifies under a key has exactly one plaintext.
 */
import { CodecError } from '../codec/errors.js';
import { decodeDownlinkFrame } from '../codec/lorawan-frame.js';
import type { MulticastFrame } from '../sim/types.js';

export interface DecodedMulticast {
  fPort: number;
  /** Plaintext FRMPayload; shared between devices, read-only. */
  payload: Uint8Array;
}

const CAPACITY = 256;
const cache = new Map<string, DecodedMulticast | null>();

export interface McKeys {
  /** Stable identifier of the key pair (hex of both keys). */
  keyId: string;
  mcAppSKey: Uint8Array;
  mcNwkSKey: Uint8Array;
}

/** Decrypts and MIC-checks a multicast frame with the device's own keys; null when the MIC fails. */
export function decodeMulticast(frame: MulticastFrame, keys: McKeys): DecodedMulticast | null {
  const mic = frame.mic;
  const id = `${keys.keyId}:${frame.fCnt}:${mic[0]},${mic[1]},${mic[2]},${mic[3]}:${frame.phyPayload.length}`;
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const result = verify(frame, keys);
  if (cache.size >= CAPACITY) cache.delete(cache.keys().next().value as string);
  cache.set(id, result);
  return result;
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
