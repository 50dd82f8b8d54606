/**
 * The ChirpStack v4 API versions the client speaks. They differ in one field the service writes: MulticastGroup
 * field 14 is `class_b_ping_slot_periodicity` (p: a ping slot every 2^p s, 2^(7-p) per beacon period) from v4.13
 * on, and `class_b_ping_slot_nb_k` (k: 2^k ping slots per beacon period) before. The same periodicity is therefore
 * written as k = 7 - p to a v4.12 server. The npm stubs name the field after the newer meaning.
 */
export type ChirpStackApiVersion = '4.12' | '4.19';
export const CHIRPSTACK_API_VERSIONS: readonly ChirpStackApiVersion[] = ['4.12', '4.19'];
export const DEFAULT_CHIRPSTACK_VERSION: ChirpStackApiVersion = '4.19';

/**
 * Reads a version as an operator writes it ("4.12", "4.12.3", "v4.19.0"): releases before 4.13 speak the older
 * field, 4.13 and later the newer one. Throws naming `field` otherwise.
 */
export function parseChirpStackVersion(text: string, field = 'chirpstack-version'): ChirpStackApiVersion {
  const m = /^v?4\.(\d+)(?:\.\d+)?$/.exec(text.trim());
  if (!m) throw new Error(`${field}: expected a ChirpStack v4 version such as 4.12 or 4.19, got "${text}"`);
  return Number(m[1]) < 13 ? '4.12' : '4.19';
}

/** The wire value of MulticastGroup field 14 for a Class B ping-slot periodicity (0..7). */
export function field14For(version: ChirpStackApiVersion, periodicity: number): number {
  if (!Number.isInteger(periodicity) || periodicity < 0 || periodicity > 7) throw new RangeError(`pingSlotPeriodicity: expected 0..7, got ${periodicity}`);
  return version === '4.12' ? 7 - periodicity : periodicity;
}

/** The periodicity a field 14 value read back means. */
export function periodicityOf(version: ChirpStackApiVersion, field14: number): number {
  return version === '4.12' ? 7 - field14 : field14;
}
