/**
 * The gRPC errors ChirpStack v4.19.0 answers, with its texts. Read from `chirpstack/src/api/error.rs` (storage
 * errors to status codes), `chirpstack/src/storage/error.rs` (texts) and `chirpstack/src/api/auth/validator.rs`
 * (a failed access check is UNAUTHENTICATED with an empty message; a validator error is INTERNAL, empty).
 */
import * as grpc from '@grpc/grpc-js';

export class RpcError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

/** storage::Error::NotFound -> NOT_FOUND "Object does not exist (id: ...)". */
export const notFound = (id: string): RpcError => new RpcError(grpc.status.NOT_FOUND, `Object does not exist (id: ${id})`);

/**
 * A second row with the same primary key: diesel's DatabaseError(UniqueViolation) is not mapped by
 * Error::from_diesel, so it reaches the API as storage::Error::Diesel -> INTERNAL with PostgreSQL's text.
 */
export const duplicateKey = (constraint: string): RpcError =>
  new RpcError(grpc.status.INTERNAL, `duplicate key value violates unique constraint "${constraint}"`);

/** An insert that points at a missing parent row (e.g. a multicast group of an unknown application, admin key). */
export const foreignKey = (table: string, constraint: string): RpcError =>
  new RpcError(grpc.status.INTERNAL, `insert or update on table "${table}" violates foreign key constraint "${constraint}"`);

/** The validator's answer when the key may not touch the object (including: the object does not exist). */
export const accessDenied = (): RpcError => new RpcError(grpc.status.UNAUTHENTICATED, '');

/** storage::Error::Validation -> INVALID_ARGUMENT "Validation error: ...". */
export const validation = (msg: string): RpcError => new RpcError(grpc.status.INVALID_ARGUMENT, `Validation error: ${msg}`);

export const invalidArgument = (msg: string): RpcError => new RpcError(grpc.status.INVALID_ARGUMENT, msg);

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** ChirpStack parses ids with Uuid::from_str before any access check: a malformed one is INVALID_ARGUMENT. */
export function parseUuid(s: string): string {
  if (!UUID_RE.test(s)) throw invalidArgument(`invalid UUID: "${s}"`);
  return s.toLowerCase();
}

/** EUI64::from_str: 16 hex digits, else INVALID_ARGUMENT. */
export function parseEui(s: string): string {
  if (!/^[0-9a-fA-F]{16}$/.test(s)) throw invalidArgument(`invalid EUI64: "${s}"`);
  return s.toLowerCase();
}
