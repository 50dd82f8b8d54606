/**
 * ChirpStack v4 errors by meaning rather than by gRPC code. ChirpStack maps few storage errors to precise codes:
 * - a second AddDevice / AddGateway of a member already in a multicast group is PostgreSQL's unique-key violation,
 *   which reaches the API as INTERNAL `duplicate key value violates unique constraint "multicast_group_device_pkey"`
 *   (or `…_gateway_pkey`), not ALREADY_EXISTS;
 * - a missing object is NOT_FOUND `Object does not exist (id: …)` for an admin key, but UNAUTHENTICATED with an
 *   EMPTY message for a tenant-scoped key (the access check runs first and cannot find the object's tenant);
 * - a wrong or revoked token is also UNAUTHENTICATED, with a message (`authorization: …`, `no authorization …`) —
 *   or empty when a valid tenant key touches another tenant's object.
 * So "absent" is never certain from one UNAUTHENTICATED answer: `isMaybeGone` says it may be, and the caller
 * confirms with a read of something it knows exists (see workers/pipeline/effects.ts `deleteGroup`).
 */
import { status } from '@grpc/grpc-js';

interface RpcLike {
  code?: number;
  details?: string;
  message?: string;
}

function codeOf(e: unknown): number | undefined {
  const c = (e as RpcLike | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

function detailsOf(e: unknown): string {
  const r = e as RpcLike | null;
  if (typeof r?.details === 'string') return r.details;
  return typeof r?.message === 'string' ? r.message : String(e);
}

/** The member (device or gateway) is already in the multicast group: ALREADY_EXISTS, or INTERNAL duplicate key. */
export function isAlreadyMember(e: unknown): boolean {
  const code = codeOf(e);
  if (code === status.ALREADY_EXISTS) return true;
  return code === status.INTERNAL && /duplicate key value violates unique constraint/i.test(detailsOf(e));
}

/** Certainly absent: NOT_FOUND (admin key). */
export function isNotFound(e: unknown): boolean {
  return codeOf(e) === status.NOT_FOUND;
}

/**
 * Absent, or not this key's to see: NOT_FOUND, or UNAUTHENTICATED with an empty message (what a tenant-scoped key
 * gets for an object that does not exist). Needs confirming before it is taken as "gone".
 */
export function isMaybeGone(e: unknown): boolean {
  const code = codeOf(e);
  return code === status.NOT_FOUND || (code === status.UNAUTHENTICATED && detailsOf(e).trim() === '');
}

/** The key itself is refused (wrong, revoked or missing token): UNAUTHENTICATED with a message. */
export function isBadKey(e: unknown): boolean {
  return codeOf(e) === status.UNAUTHENTICATED && detailsOf(e).trim() !== '';
}
