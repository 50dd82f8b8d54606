/**
 * Units used on air by TS005 session requests (TS005-2.0.0 §4.5, §4.6; docs/protocol.md §5).
 *
 * | Field              | On air                         | Value                                        |
 * |--------------------|--------------------------------|----------------------------------------------|
 * | DLFrequency        | u24, 100 Hz units              | < 12 000 000 units: units × 100 Hz            |
 * |                    |                                | ≥ 12 000 000 units: units × 200 Hz (2.4 GHz)  |
 * | TimeOut (class C)  | 4 bits, exponent n             | session lasts at most 2^n s                   |
 * | TimeOut (class B)  | 4 bits, exponent n             | at most 128 × 2^n s (2^n beacon periods)      |
 * | Periodicity (B)    | 3 bits, p                      | one ping slot every 2^p s, 2^(7−p) per beacon |
 */
import { CodecError } from './errors.js';

const UNITS_2G4 = 12_000_000;
const U24_MAX = 0xffffff;

/** DLFrequency units → Hz. */
export function dlFrequencyToHz(units: number): number {
  return units >= UNITS_2G4 ? units * 200 : units * 100;
}

/** Hz → DLFrequency units; throws a CodecError if the frequency has no exact encoding. */
export function hzToDlFrequency(hz: number, command = 'DLFrequency', field = 'dlFrequencyHz', offset = 0): number {
  const fail = (reason: string): never => {
    throw new CodecError(command, field, offset, reason);
  };
  if (!Number.isInteger(hz) || hz < 0) fail(`must be a non-negative integer number of Hz, got ${hz}`);
  if (hz < UNITS_2G4 * 100) {
    if (hz % 100 !== 0) fail(`must be a multiple of 100 Hz below 1.2 GHz, got ${hz}`);
    return hz / 100;
  }
  if (hz % 200 !== 0) fail(`must be a multiple of 200 Hz in the 2.4 GHz coding, got ${hz}`);
  const units = hz / 200;
  if (units < UNITS_2G4 || units > U24_MAX) fail(`${hz} Hz is outside both the 100 Hz and the 200 Hz coding ranges`);
  return units;
}

/** Class C session length in seconds for TimeOut n: 2^n. */
export const classCTimeoutSeconds = (timeOut: number): number => 2 ** timeOut;

/** Class B session length in seconds for TimeOut n: 128 × 2^n. */
export const classBTimeoutSeconds = (timeOut: number): number => 128 * 2 ** timeOut;

/** Seconds between class B ping slots for Periodicity p: 2^p. */
export const pingSlotPeriodSeconds = (periodicity: number): number => 2 ** periodicity;

/** Smallest class C TimeOut (0..15) whose session lasts at least `seconds`; undefined if none does. */
export function classCTimeoutFor(seconds: number): number | undefined {
  for (let n = 0; n <= 15; n++) if (classCTimeoutSeconds(n) >= seconds) return n;
  return undefined;
}
