// Delta and compressed images on real firmware: `npm run build && npm run bench -- --only delta`.
// For each pair of ../shared/firmware/pairs.json: our signed delta image (header and signature included) next to
// the bsdiff, xdelta3 and zstd --patch-from patch sizes recorded there, the signed compressed full image, and the
// device RAM of the patcher / decompressor. Every image is applied through the device-side path and compared.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchResult } from './run.js';
import { applyImage } from '../src/device/image-apply.js';
import { findFirmwareDir, loadFirmwarePairs, type FirmwarePair } from '../src/image/firmware-pairs.js';
import { generateKeyPair } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import { medianMs } from './timing.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = findFirmwareDir(repoRoot);
const key = generateKeyPair('ed25519');
const totals = { delta: 0, bsdiff: 0, xdelta3: 0, zstdPatchFrom: 0, compressed: 0, full: 0, ram: 0 };
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function pairBench(p: FirmwarePair): Bench {
  return {
    name: `delta ${p.name}`,
    run: (): BenchResult => {
      let t = performance.now();
      const delta = signImage(p.new, { key, version: '2.0.0', deviceClass: 'bench', deltaFrom: { firmware: p.old, version: '1.0.0' } });
      const encodeMs = performance.now() - t;
      const full = signImage(p.new, { key, version: '2.0.0', deviceClass: 'bench', encoding: 'compressed' });
      const opts = { trustedKeys: [key], deviceClass: 'bench' };
      let applied = applyImage(delta, { ...opts, base: p.old });
      if (!applied.ok || !sameBytes(applied.firmware, p.new)) throw new Error(`${p.name}: delta does not rebuild the new firmware`);
      const unpacked = applyImage(full, opts);
      if (!unpacked.ok || !sameBytes(unpacked.firmware, p.new)) throw new Error(`${p.name}: compressed image does not rebuild the firmware`);
      const applyMs = medianMs(3, () => (applied = applyImage(delta, { ...opts, base: p.old })));
      t = performance.now();
      const ram = Math.max(applied.ramBytes, unpacked.ramBytes);
      if (p.kind === 'release' || p.kind === 'distant') {
        totals.delta += delta.length;
        totals.bsdiff += p.sizes.bsdiff ?? 0;
        totals.xdelta3 += p.sizes.xdelta3 ?? 0;
        totals.zstdPatchFrom += p.sizes.zstd19_patch_from ?? 0;
      }
      totals.compressed += full.length;
      totals.full += p.new.length;
      totals.ram = Math.max(totals.ram, ram);
      return {
        medianMs: applyMs,
        memoryBytes: ram,
        kind: p.kind,
        deltaImage: delta.length,
        bsdiff: p.sizes.bsdiff ?? 0,
        xdelta3: p.sizes.xdelta3 ?? 0,
        zstdPatchFrom: p.sizes.zstd19_patch_from ?? 0,
        vsBsdiff: delta.length / (p.sizes.bsdiff ?? NaN),
        compressedImage: full.length,
        vsRaw: full.length / p.new.length,
        zstd19: p.sizes.zstd19 ?? 0,
        encodeMs: Math.round(encodeMs),
      };
    },
  };
}

function makeBenches(): Bench[] {
  if (!dir) {
    return [
      {
        name: 'delta pairs',
        run: () => {
          process.stdout.write(`delta: skipped: no ../shared/firmware/pairs.json next to ${repoRoot} (set LORAFUOTA_FIRMWARE_DIR)\n`);
          return { medianMs: 0, skipped: 'no firmware pairs' };
        },
      },
    ];
  }
  const pairs = loadFirmwarePairs(dir);
  return [
    ...pairs.map(pairBench),
    {
      name: 'delta total release+distant',
      run: () => ({
        medianMs: 0,
        memoryBytes: totals.ram,
        deltaImages: totals.delta,
        bsdiff: totals.bsdiff,
        xdelta3: totals.xdelta3,
        zstdPatchFrom: totals.zstdPatchFrom,
        vsBsdiff: totals.delta / totals.bsdiff,
        compressedVsRaw: totals.compressed / totals.full,
      }),
    },
  ];
}

export const benches: Bench[] = makeBenches();
