/**
 * gRPC status for every failure the API reports. Messages name the field and the reason ("id: no campaign x").
 */
import * as grpc from '@grpc/grpc-js';
import { SpecError } from '../campaign/schema.js';

export class ApiError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

function isRedisFailure(e: Error): boolean {
  return (
    e.name === 'ReplyError' ||
    e.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT/.test(e.message)
  );
}

/**
 * ApiError keeps its code; a Redis failure is UNAVAILABLE; a SpecError is INVALID_ARGUMENT. Any other error gets
 * `other`: INVALID_ARGUMENT on the submission path (submitCampaign's errors are the caller's and name the field),
 * INTERNAL elsewhere.
 */
export function toServiceError(e: unknown, other: grpc.status = grpc.status.INTERNAL): Partial<grpc.ServiceError> {
  if (e instanceof ApiError) return { code: e.code, details: e.message };
  if (e instanceof SpecError) return { code: grpc.status.INVALID_ARGUMENT, details: e.message };
  if (e instanceof Error && isRedisFailure(e)) return { code: grpc.status.UNAVAILABLE, details: `redis: ${e.message}` };
  return { code: other, details: e instanceof Error ? e.message : String(e) };
}
