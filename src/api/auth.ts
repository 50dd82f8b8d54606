/**
 * Bearer-token check for the API: metadata `authorization: Bearer <token>`, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Shortest token accepted: the bearer token is the API's only credential, so it must not be guessable. */
export const MIN_TOKEN_LENGTH = 16;

/** Returns a checker that accepts only metadata carrying `Bearer <token>`. */
export function bearerChecker(token: string): (md: Metadata) => boolean {
  if (token.length === 0) throw new Error('api-token: must not be empty (set --api-token-file or LORAFUOTA_API_TOKEN)');
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`api-token: ${token.length} characters, at least ${MIN_TOKEN_LENGTH} required`);
  const want = digest(token);
  return (md) => {
    const v = md.get('authorization')[0];
    if (typeof v !== 'string' || !v.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(v.slice('Bearer '.length)), want);
  };
}
