/**
 * The largest multicast FRMPayload ChirpStack lets a gateway send, per its region configuration.
 *
 * Read from ChirpStack v4.19.0: `chirpstack/src/downlink/multicast.rs` (validate_payload_size asks the gateway's
 * region config with MacVersion::Latest / Revision::Latest) and `lrwn/src/region/{eu868,us915}.rs`
 * (`max_dl_payload_size_per_dr`, one table when the region's `repeater_compatible` is true, another when false;
 * false is the default in the shipped region_*.toml files). The `n` column (FRMPayload without FOpts) is used.
 *
 * The codec's `dataRate()` table (src/codec/region.ts, being completed to RP002) is the fallback for regions and data
 * rates not listed here; EU868 and US915 are listed in full because ChirpStack's table is what decides, and it differs
 * from RP002 in one place (EU868 DR4 without repeater: ChirpStack says 222, not 242).
 */
import { dataRate, type RegionName } from '../codec/region.js';

/** Simulator-local copy of ChirpStack v4.19.0's `n` values (downlink data rates only). */
const CHIRPSTACK_MAX_DL: Partial<Record<RegionName, { plain: Record<number, number>; repeater: Record<number, number> }>> = {
  EU868: {
    plain: { 0: 51, 1: 51, 2: 51, 3: 115, 4: 222, 5: 242, 6: 242, 7: 242 },
    repeater: { 0: 51, 1: 51, 2: 51, 3: 115, 4: 222, 5: 222, 6: 222, 7: 222 },
  },
  US915: {
    plain: { 8: 53, 9: 129, 10: 242, 11: 242, 12: 242, 13: 242 },
    repeater: { 8: 53, 9: 129, 10: 222, 11: 222, 12: 222, 13: 222 },
  },
};

/** `dwellTime`: the region config's downlink dwell-time limit (AS923's `downlink_dwell_time_400ms`). */
export function chirpstackMaxDlPayload(region: RegionName, dr: number, repeaterCompatible: boolean, dwellTime = false): number {
  const o = CHIRPSTACK_MAX_DL[region];
  const v = o && (repeaterCompatible ? o.repeater[dr] : o.plain[dr]);
  if (v !== undefined) return v;
  return dataRate(region, dr, 'downlink', { repeaterCompatible, dwellTime }).maxAppPayload;
}
