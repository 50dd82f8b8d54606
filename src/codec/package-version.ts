/**
 * PackageVersionReq / PackageVersionAns: CID 0x00 with the same layout in every package (TS004-2.0.0 §3.1; docs/protocol.md §1).
 *
 * | Dir | CID  | Payload                                          |
 * |-----|------|--------------------------------------------------|
 * | DL  | 0x00 | none                                             |
 * | UL  | 0x00 | PackageIdentifier (1 B), PackageVersion (1 B)    |
 */
import { spec } from './wire.js';

export interface PackageVersionReq {
  type: 'PackageVersionReq';
}
export interface PackageVersionAns {
  type: 'PackageVersionAns';
  packageIdentifier: number;
  packageVersion: number;
}

export const packageVersionReq = spec<PackageVersionReq>({
  cid: 0x00,
  type: 'PackageVersionReq',
  encode: () => {},
  decode: () => ({ type: 'PackageVersionReq' }),
});

export const packageVersionAns = spec<PackageVersionAns>({
  cid: 0x00,
  type: 'PackageVersionAns',
  encode: (c, w) => w.u8('packageIdentifier', c.packageIdentifier).u8('packageVersion', c.packageVersion),
  decode: (r) => ({ type: 'PackageVersionAns', packageIdentifier: r.u8('packageIdentifier'), packageVersion: r.u8('packageVersion') }),
});
