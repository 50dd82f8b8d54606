/** Small synthetic firmware for delta campaign tests: two base releases, the new firmware, its full and delta images. */
import { versionToU32 } from '../../src/codec/image-header.js';
import { signImage, type SignOptions } from '../../src/image/sign.js';
import { firmware, fixedKey } from '../image-fixtures.js';
import { DEVICE_CLASS } from './pipeline-harness.js';

export const key = fixedKey('ed25519', 'delta campaign');
export const other = fixedKey('ed25519', 'delta campaign, another signer');
export const VA = versionToU32('1.2.0');
export const VB = versionToU32('1.3.0');
export const TARGET = versionToU32('1.4.0');

// Small synthetic firmware: a base, an edited release of it, and the new firmware edited from that.
export const FW_A = firmware('delta campaign fw A', 6000);
export const FW_B = Uint8Array.from([...FW_A.subarray(0, 2000), ...firmware('B insert', 120), ...FW_A.subarray(2000, 4000), 7, 7, 7, 7, ...FW_A.subarray(4004)]);
export const NEW = Uint8Array.from([...FW_B.subarray(0, 1000), ...firmware('new insert', 200), ...FW_B.subarray(1000, 5000), ...FW_B.subarray(5064)]);

export const sign = (fw: Uint8Array, version: number, extra: Partial<SignOptions> = {}) => signImage(fw, { key, version, deviceClass: DEVICE_CLASS, ...extra });
export const BASE_A = sign(FW_A, VA);
export const BASE_B = sign(FW_B, VB);
export const FULL = sign(NEW, TARGET, { encoding: 'auto' });
export const DELTA_A = sign(NEW, TARGET, { deltaFrom: { firmware: FW_A, version: VA } });
export const DELTA_B = sign(NEW, TARGET, { deltaFrom: { firmware: FW_B, version: VB } });

