/**
 * Key material at rest. With `LORAFUOTA_STORE_KEY` set (32 bytes, as 64 hex digits or base64), the campaign's
 * McKey is stored sealed with AES-256-GCM (`enc1:<iv>:<ciphertext+tag>`, base64, the campaign id as associated
 * data); without it, it is stored in clear while the campaign runs. Either way it is deleted when the campaign
 * ends (CampaignStore.release). Root keys are never stored: they are read from ChirpStack when needed.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 'enc1:';

/** The store key from `LORAFUOTA_STORE_KEY` (null when unset); a malformed one is an error naming the variable. */
export function storeKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer | null {
  const v = env.LORAFUOTA_STORE_KEY?.trim();
  if (!v) return null;
  const key = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (key.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(v) && key.toString('base64').replace(/=+$/, '') !== v.replace(/=+$/, ''))) {
    throw new Error('LORAFUOTA_STORE_KEY: expected 32 bytes as 64 hex digits or base64');
  }
  return key;
}

let cached: { key: Buffer | null } | undefined;
function storeKey(): Buffer | null {
  cached ??= { key: storeKeyFromEnv() };
  return cached.key;
}

/** For tests: use this key (null: none) instead of the environment's. */
export function setStoreKey(key: Buffer | null | undefined): void {
  cached = key === undefined ? undefined : { key };
}

export function isSealed(v: string): boolean {
  return v.startsWith(PREFIX);
}

/** Seals a secret for the store (unchanged when no store key is configured, or when empty). */
export function seal(plain: string, aad: string, key: Buffer | null = storeKey()): string {
  if (!key || plain === '') return plain;
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final(), c.getAuthTag()]);
  return `${PREFIX}${iv.toString('base64')}:${ct.toString('base64')}`;
}

/** Opens a sealed secret (a clear one is returned as is). Throws, naming `field`, when it cannot be opened. */
export function open(stored: string, aad: string, field: string, key: Buffer | null = storeKey()): string {
  if (!isSealed(stored)) return stored;
  if (!key) throw new Error(`${field}: stored sealed, but LORAFUOTA_STORE_KEY is not set`);
  const [ivB64, ctB64] = stored.slice(PREFIX.length).split(':');
  const iv = Buffer.from(ivB64 ?? '', 'base64');
  const all = Buffer.from(ctB64 ?? '', 'base64');
  if (iv.length !== 12 || all.length < 16) throw new Error(`${field}: malformed sealed value`);
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(all.subarray(all.length - 16));
    return Buffer.concat([d.update(all.subarray(0, all.length - 16)), d.final()]).toString('utf8');
  } catch {
    throw new Error(`${field}: cannot be opened with LORAFUOTA_STORE_KEY (wrong key, or altered)`);
  }
}
