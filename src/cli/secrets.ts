/**
 * Secrets for the CLI: tokens come from an environment variable or a file, never from a flag (a flag is visible to
 * every user in `ps` and lands in shell history). A token flag is refused with the way to pass it instead.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { MIN_TOKEN_LENGTH } from '../api/auth.js';

/** Shortest API token the server accepts (a bearer token is the only credential of the API). */
export const MIN_API_TOKEN_LENGTH = MIN_TOKEN_LENGTH;

export interface SecretSource {
  /** Field name in errors, e.g. `api-token`. */
  field: string;
  /** The file flag, e.g. `--api-token-file`. */
  fileFlag: string;
  /** The environment variable, e.g. `LORAFUOTA_API_TOKEN`. */
  envVar: string;
}

/**
 * Declares the refused token flag (hidden from help) so that using it gives a clear message instead of
 * "unknown option".
 */
export function refusedFlag(cmd: Command, flag: string): Command {
  return cmd.addOption(new Option(`${flag} <token>`, 'refused: tokens are read from a file or the environment').hideHelp());
}

export function refuseTokenFlag(value: string | undefined, flag: string, src: SecretSource): void {
  if (value !== undefined) {
    throw new Error(`${src.field}: ${flag} is refused (a token on the command line is visible to every user in ps); use ${src.fileFlag} FILE or ${src.envVar}`);
  }
}

/** The secret from the file (first line, trimmed) or else the environment; `undefined` when neither is set. */
export function readSecret(src: SecretSource, file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`${src.field}: cannot read ${src.fileFlag} ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const token = text.split(/\r?\n/, 1)[0]!.trim();
    if (!token) throw new Error(`${src.field}: ${file} is empty`);
    return token;
  }
  const v = env[src.envVar];
  return v ? v : undefined;
}

/** As readSecret, but required. */
export function requireSecret(src: SecretSource, file: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const v = readSecret(src, file, env);
  if (v === undefined) throw new Error(`${src.field}: required (${src.fileFlag} FILE or ${src.envVar})`);
  return v;
}

export const API_TOKEN: SecretSource = { field: 'api-token', fileFlag: '--api-token-file', envVar: 'LORAFUOTA_API_TOKEN' };
export const CHIRPSTACK_TOKEN: SecretSource = { field: 'chirpstack-token', fileFlag: '--chirpstack-token-file', envVar: 'CHIRPSTACK_API_TOKEN' };

export function readFileFlag(field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`${field}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
