/**
 * The real-firmware workload for delta images: `../shared/firmware/pairs.json` next to the repository (old -> new
 * firmware pairs and the patch sizes common tools reach on them). Optional: callers skip when it is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface FirmwarePair {
  name: string;
  kind: 'release' | 'distant' | 'const' | string;
  old: Uint8Array;
  new: Uint8Array;
  /** Sizes in bytes from pairs.json: full, zstd19, bsdiff, xdelta3, zstd19_patch_from, ... */
  sizes: Record<string, number>;
}

/**
 * The folder holding pairs.json: $LORAFUOTA_FIRMWARE_DIR when set, else `../shared/firmware` from the repository
 * root (or from its parent, for a working copy kept one level deeper). Null when none exists.
 */
export function findFirmwareDir(repoRoot: string): string | null {
  const env = process.env.LORAFUOTA_FIRMWARE_DIR;
  const candidates = env ? [resolve(env)] : [resolve(repoRoot, '..', 'shared', 'firmware'), resolve(repoRoot, '..', '..', 'shared', 'firmware')];
  return candidates.find((d) => existsSync(join(d, 'pairs.json'))) ?? null;
}

export function loadFirmwarePairs(dir: string): FirmwarePair[] {
  const list = JSON.parse(readFileSync(join(dir, 'pairs.json'), 'utf8')) as { name: string; kind: string; old: string; new: string; sizes: Record<string, number> }[];
  return list.map((p) => ({
    name: p.name,
    kind: p.kind,
    old: new Uint8Array(readFileSync(join(dir, p.old))),
    new: new Uint8Array(readFileSync(join(dir, p.new))),
    sizes: p.sizes,
  }));
}
