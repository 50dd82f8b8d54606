/** Plain TypeScript shapes for what a campaign exchanges with ChirpStack (no protobuf objects). */
import type { RegionName } from '../codec/region.js';

export type MulticastGroupType = 'CLASS_C' | 'CLASS_B';
export type SchedulingType = 'DELAY' | 'GPS_TIME';
export type DeviceClass = 'CLASS_A' | 'CLASS_B' | 'CLASS_C';
export type MacVersion = '1.0.0' | '1.0.1' | '1.0.2' | '1.0.3' | '1.0.4' | '1.1.0';
export type AppLayerVersion = 'NOT_IMPLEMENTED' | 'V100' | 'V200';

export interface MulticastGroupSpec {
  name: string;
  applicationId: string;
  region: RegionName;
  /** McAddr as a number (on air little-endian) or ChirpStack's 8-digit hex string (big-endian display). */
  mcAddr: number;
  /** 16-byte session keys derived from McKey and McAddr (§7.1), hex or bytes. */
  mcAppSKey: string | Uint8Array;
  mcNwkSKey: string | Uint8Array;
  groupType: MulticastGroupType;
  dr: number;
  frequencyHz: number;
  schedulingType?: SchedulingType;
  /** Class B only: ping-slot periodicity 0..7. */
  pingSlotPeriodicity?: number;
}

export interface MulticastGroupInfo extends Omit<MulticastGroupSpec, 'mcAppSKey' | 'mcNwkSKey' | 'region'> {
  id: string;
  /** A region name this code knows, or `REGION_<n>` for another ChirpStack region. */
  region: RegionName | string;
  mcAppSKey: string;
  mcNwkSKey: string;
  /** Next multicast frame counter ChirpStack will assign. */
  fCnt: number;
}

export interface QueueItem {
  fCnt: number;
  fPort: number;
  data: Uint8Array;
}

export interface DeviceQueueEntry extends QueueItem {
  id: string;
  isPending: boolean;
  confirmed: boolean;
}

export interface DeviceKeys {
  devEui: string;
  nwkKey: string;
  appKey: string;
  genAppKey: string;
}

export interface DeviceInfo {
  devEui: string;
  name: string;
  applicationId: string;
  deviceProfileId: string;
  classEnabled: DeviceClass;
  /** Last uplink ChirpStack received (`last_seen_at`), absent when never seen. */
  lastSeenAtMs?: number;
}

export interface AppLayerParams {
  ts003Version: AppLayerVersion;
  ts003FPort: number;
  ts004Version: AppLayerVersion;
  ts004FPort: number;
  ts005Version: AppLayerVersion;
  ts005FPort: number;
}

export interface DeviceProfileInfo {
  id: string;
  name: string;
  region: RegionName | string;
  macVersion: MacVersion;
  supportsClassB: boolean;
  supportsClassC: boolean;
  appLayer: AppLayerParams;
}

export const MAC_VERSIONS: readonly MacVersion[] = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.1.0'];
export const APP_LAYER_VERSIONS: readonly AppLayerVersion[] = ['NOT_IMPLEMENTED', 'V100', 'V200'];
export const DEVICE_CLASSES: readonly DeviceClass[] = ['CLASS_A', 'CLASS_B', 'CLASS_C'];
/** ChirpStack `common.Region` enum values (note: no value 1). */
export const REGION_ENUM: Record<RegionName, number> = {
  EU868: 0, US915: 2, CN779: 3, EU433: 4, AU915: 5, CN470: 6, 'AS923-1': 7, 'AS923-2': 12, 'AS923-3': 13, 'AS923-4': 14, KR920: 8, IN865: 9, RU864: 10,
};

export function regionFromEnum(v: number): RegionName | string {
  const hit = (Object.keys(REGION_ENUM) as RegionName[]).find((r) => REGION_ENUM[r] === v);
  return hit ?? `REGION_${v}`;
}

/** ChirpStack's McAddr string: 8 lower-case hex digits, big-endian display (0x01AB23CD -> "01ab23cd"). */
export function mcAddrToHex(mcAddr: number): string {
  if (!Number.isInteger(mcAddr) || mcAddr < 0 || mcAddr > 0xffffffff) throw new RangeError(`mcAddr: must be a u32, got ${mcAddr}`);
  return mcAddr.toString(16).padStart(8, '0');
}

export function mcAddrFromHex(hex: string): number {
  if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw new RangeError(`mcAddr: expected 8 hex digits, got "${hex}"`);
  return parseInt(hex, 16);
}

export function keyToHex(field: string, key: string | Uint8Array): string {
  const hex = typeof key === 'string' ? key.toLowerCase() : Buffer.from(key).toString('hex');
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`${field}: expected a 16-byte key (32 hex digits)`);
  return hex;
}

export function devEuiHex(devEui: string): string {
  const hex = devEui.toLowerCase();
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new RangeError(`devEui: expected 16 hex digits, got "${devEui}"`);
  return hex;
}
