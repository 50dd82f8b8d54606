/**
 * Per-device and clean-up errors of ChirpStack calls, handled so that one device or one failed clean-up call never
 * holds a campaign: a device ChirpStack does not know fails alone; clean-up calls are tried a bounded number of
 * times, "not found" counting as done, and a call that still fails is recorded as an event and left behind.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { isNotFound as isNotFoundCode } from '../../chirpstack/errors.js';

/** Tries of one clean-up call (flush, delete, clean-up request) before it is left behind. */
export const CLEANUP_TRIES = 3;

/** NOT_FOUND by code (src/chirpstack/errors.ts), or by the text of an error that lost its code on the way. */
export function isNotFound(e: unknown): boolean {
  return isNotFoundCode(e) || /\bNOT_FOUND\b|not found/i.test(String((e as Error | null)?.message ?? ''));
}

/**
 * Errors that belong to one device and will not go away by asking again: the device is unknown, or the request
 * about it is refused as malformed. (Unavailable, deadline and internal errors are the network's: retried.)
 */
export function isDeviceFault(e: unknown): boolean {
  const code = (e as { code?: number } | null)?.code;
  return isNotFound(e) || code === grpcStatus.INVALID_ARGUMENT || code === grpcStatus.PERMISSION_DENIED;
}

export function reasonOf(call: string, e: unknown): string {
  const msg = String((e as Error | null)?.message ?? e).replace(/\s+/g, ' ').slice(0, 160);
  return `ChirpStack ${call}: ${msg}`;
}

/**
 * Runs a clean-up call up to CLEANUP_TRIES times; "not found" is success. Never throws: a call that still fails
 * returns an event saying what was left behind.
 */
export async function bestEffort(what: Record<string, unknown>, fn: () => Promise<unknown>): Promise<Record<string, unknown> | null> {
  let last: unknown;
  for (let i = 0; i < CLEANUP_TRIES; i++) {
    try {
      await fn();
      return null;
    } catch (e) {
      if (isNotFound(e)) return null;
      last = e;
    }
  }
  return { type: 'cleanupFailed', ...what, tries: CLEANUP_TRIES, error: String((last as Error)?.message ?? last) };
}
