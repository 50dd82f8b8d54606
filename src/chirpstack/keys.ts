/** Which ChirpStack device key is the multicast root-key input (TS005-2.0.0 §4.3; docs/protocol.md §6). */
import type { DeviceKeys, MacVersion } from './types.js';

export interface RootKey {
  /** 16-byte key as hex. */
  keyHex: string;
  /** The DeviceKeys field it came from. */
  source: 'gen_app_key' | 'app_key';
  /** McRootKey derivation prefix: 0x00 for 1.0.x (GenAppKey), 0x20 for 1.1 (AppKey). */
  prefix: 0x00 | 0x20;
}

const HEX16 = /^[0-9a-fA-F]{32}$/;

/**
 * GenAppKey for LoRaWAN 1.0.x devices, AppKey for 1.1. Never nwk_key: for 1.0.x ChirpStack stores the join
 * AppKey there, and using it makes every multicast frame fail its MIC on the device.
 */
export function rootKeyFor(keys: DeviceKeys, lorawanVersion: MacVersion | string): RootKey {
  if (/^1\.0(\.[0-4])?$/.test(lorawanVersion)) {
    if (!keys.genAppKey || /^0{32}$/.test(keys.genAppKey)) {
      throw new Error(
        `gen_app_key: empty for LoRaWAN ${lorawanVersion} device ${keys.devEui}; provision GenAppKey in ChirpStack (nwk_key holds the join key and must not be used)`,
      );
    }
    if (!HEX16.test(keys.genAppKey)) throw new Error(`gen_app_key: expected 32 hex digits for device ${keys.devEui}`);
    return { keyHex: keys.genAppKey.toLowerCase(), source: 'gen_app_key', prefix: 0x00 };
  }
  if (/^1\.1(\.0)?$/.test(lorawanVersion)) {
    if (!keys.appKey || !HEX16.test(keys.appKey)) throw new Error(`app_key: missing or not 32 hex digits for LoRaWAN 1.1 device ${keys.devEui}`);
    return { keyHex: keys.appKey.toLowerCase(), source: 'app_key', prefix: 0x20 };
  }
  throw new Error(`lorawanVersion: unsupported "${lorawanVersion}" (expected 1.0.0-1.0.4 or 1.1.0)`);
}
