/**
 * GPS time (TS003-2.0.0 §3.2; docs/protocol.md §2): seconds since 1980-01-06T00:00:00Z without leap seconds.
 * gps = unix − 315 964 800 + leapSeconds(unix); GPS − UTC = 18 s since 2017-01-01.
 * On air GPS times are u32 (mod 2^32); the wrap helpers map between full and on-air values.
 */

/** Unix seconds of 1980-01-06T00:00:00Z. */
export const GPS_EPOCH_UNIX = 315_964_800;

/** UTC instants (Unix seconds) from which GPS − UTC has the given number of seconds. */
export const LEAP_SECONDS: readonly { fromUnix: number; gpsMinusUtc: number }[] = [
  ['1981-07-01', 1],
  ['1982-07-01', 2],
  ['1983-07-01', 3],
  ['1985-07-01', 4],
  ['1988-01-01', 5],
  ['1990-01-01', 6],
  ['1991-01-01', 7],
  ['1992-07-01', 8],
  ['1993-07-01', 9],
  ['1994-07-01', 10],
  ['1996-01-01', 11],
  ['1997-07-01', 12],
  ['1999-01-01', 13],
  ['2006-01-01', 14],
  ['2009-01-01', 15],
  ['2012-07-01', 16],
  ['2015-07-01', 17],
  ['2017-01-01', 18],
].map(([d, n]) => ({ fromUnix: Date.parse(`${d}T00:00:00Z`) / 1000, gpsMinusUtc: n as number }));

/** The same instants on the GPS time scale. */
const LEAPS_GPS = LEAP_SECONDS.map((l) => ({ fromGps: l.fromUnix - GPS_EPOCH_UNIX + l.gpsMinusUtc, gpsMinusUtc: l.gpsMinusUtc }));

function leapsAt<T>(table: readonly T[], key: (t: T) => number, v: number, value: (t: T) => number): number {
  for (let i = table.length - 1; i >= 0; i--) if (v >= key(table[i]!)) return value(table[i]!);
  return 0;
}

/** GPS seconds (integer, not wrapped) of a Unix time in milliseconds; fractions of a second are dropped. */
export function unixMsToGps(ms: number): number {
  const unix = Math.floor(ms / 1000);
  return unix - GPS_EPOCH_UNIX + leapsAt(LEAP_SECONDS, (l) => l.fromUnix, unix, (l) => l.gpsMinusUtc);
}

/** GPS time in milliseconds (since the GPS epoch, fractions kept) of a Unix time in milliseconds. */
export function unixMsToGpsMs(ms: number): number {
  return ms - GPS_EPOCH_UNIX * 1000 + 1000 * leapsAt(LEAP_SECONDS, (l) => l.fromUnix, Math.floor(ms / 1000), (l) => l.gpsMinusUtc);
}

/** Unix milliseconds of a GPS time in seconds (not wrapped). */
export function gpsToUnixMs(gpsSeconds: number): number {
  const leaps = leapsAt(LEAPS_GPS, (l) => l.fromGps, gpsSeconds, (l) => l.gpsMinusUtc);
  return (gpsSeconds + GPS_EPOCH_UNIX - leaps) * 1000;
}

const TWO32 = 2 ** 32;

/** The on-air u32 of a GPS time (mod 2^32). */
export const wrapU32 = (v: number): number => ((Math.floor(v) % TWO32) + TWO32) % TWO32;

/** The full value congruent to `u32` mod 2^32 that lies closest to `reference` (e.g. the current GPS time). */
export function unwrapU32(u32: number, reference: number): number {
  const base = reference - wrapU32(reference);
  let best = base + wrapU32(u32);
  for (const c of [best - TWO32, best + TWO32]) if (Math.abs(c - reference) < Math.abs(best - reference)) best = c;
  return best;
}
