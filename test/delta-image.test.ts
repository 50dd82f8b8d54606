// Signed delta and compressed images end to end: the real firmware pairs (skipped when ../shared/firmware is
// absent) through `lorafuota image sign --delta-from` and `image apply`, size and RAM targets, and refusals.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeImageHeader, splitImage } from '../src/codec/image-header.js';
import { encodeDelta } from '../src/codec/delta-encoder.js';
import { applyImage } from '../src/device/image-apply.js';
import { checkImage } from '../src/device/image-check.js';
import { findFirmwareDir, loadFirmwarePairs } from '../src/image/firmware-pairs.js';
import { signImage } from '../src/image/sign.js';
import { DEVICE_CLASS, firmware, fixedKey } from './image-fixtures.js';
import { encodeImageHeader } from '../src/codec/image-header.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { deviceClassId, keyId } from '../src/device/image-check.js';

const MAIN = join(process.cwd(), 'dist/src/cli/main.js');
const FW_DIR = findFirmwareDir(process.cwd());
const RAM_LIMIT = 16 * 1024;
const key = fixedKey('ed25519', 'delta');
const tmp = mkdtempSync(join(tmpdir(), 'lorafuota-delta-'));
const at = (name: string) => join(tmp, name);

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [MAIN, 'image', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lastJson = (stderr: string) => JSON.parse(stderr.trim().split('\n').at(-1)!) as { ramBytes: number; payloadBytes: number; firmwareBytes: number };

/** A firmware-like base and a new version with code inserted (so later code and its calls move). */
const BASE = firmware('delta base', 6000);
const NEXT = Uint8Array.from([...BASE.subarray(0, 2000), ...firmware('inserted', 120), ...BASE.subarray(2000, 5000), ...BASE.subarray(5100)]);

describe('delta images (fixtures)', () => {
  const opts = { trustedKeys: [key], deviceClass: DEVICE_CLASS };
  const delta = signImage(NEXT, { key, version: '1.1.0', deviceClass: DEVICE_CLASS, deltaFrom: { firmware: BASE, version: '1.0.0' } });

  it('signs the encoding, base and final firmware digest, and rebuilds the firmware', () => {
    const h = decodeImageHeader(delta);
    expect(h).toMatchObject({ encoding: 'delta', headerLength: 132, firmwareLength: NEXT.length, delta: { baseVersion: 0x01000000 } });
    expect(Buffer.from(h.firmwareDigest)).toEqual(Buffer.from(sha256(NEXT)));
    expect(Buffer.from(h.delta!.baseDigest)).toEqual(Buffer.from(sha256(BASE)));
    expect(delta.length).toBeLessThan(NEXT.length / 4);
    const r = applyImage(delta, { ...opts, base: BASE });
    expect(r.ok && Buffer.from(r.firmware).equals(Buffer.from(NEXT))).toBe(true);
    expect(r.ramBytes).toBeGreaterThan(0);
    expect(r.ramBytes).toBeLessThanOrEqual(RAM_LIMIT);
  });

  it('refuses a wrong base, a missing base, a flipped byte anywhere, a truncated delta, each with its reason', () => {
    expect(applyImage(delta, { ...opts, base: NEXT })).toMatchObject({ ok: false, reason: 'wrong-base', upImageStatus: 2 });
    expect(applyImage(delta, opts)).toMatchObject({ ok: false, reason: 'wrong-base' });
    for (let i = 0; i < delta.length; i += 7) {
      const bad = delta.slice();
      bad[i]! ^= 0x10;
      const r = applyImage(bad, { ...opts, base: BASE });
      expect(r.ok, `byte ${i}`).toBe(false);
    }
    const payloadAt = 132 + 64;
    const flipped = delta.slice();
    flipped[payloadAt + 20]! ^= 1;
    expect(applyImage(flipped, { ...opts, base: BASE })).toMatchObject({ ok: false, reason: 'digest-mismatch' });
    expect(applyImage(delta.subarray(0, delta.length - 1), { ...opts, base: BASE })).toMatchObject({ ok: false, reason: 'truncated' });
  });

  it('refuses a signed delta whose payload does not rebuild the signed firmware (final digest)', () => {
    // The signer's bug or a tampered build: a valid signature over a payload that decodes to other bytes.
    const other = NEXT.slice();
    other[3000]! ^= 0xff;
    const good = decodeImageHeader(delta);
    const lying = signImage(other, { key, version: '1.1.0', deviceClass: DEVICE_CLASS, deltaFrom: { firmware: BASE, version: '1.0.0' } });
    // Re-sign: header claims NEXT's digest, payload decodes to `other`.
    const payload = splitImage(lying).payload;
    const forged = resign(payload, good.firmwareDigest, NEXT.length);
    expect(applyImage(forged, { ...opts, base: BASE })).toMatchObject({ ok: false, reason: 'digest-mismatch', detail: expect.stringMatching(/decoded firmware/) });
  });

  it('refuses a payload the patcher cannot decode with bad-payload', () => {
    const garbage = Uint8Array.from([1, ...firmware('garbage', 200)]);
    const forged = resign(garbage, sha256(NEXT), NEXT.length);
    expect(applyImage(forged, { ...opts, base: BASE })).toMatchObject({ ok: false, reason: 'bad-payload', upImageStatus: 1 });
  });

  it('anti-rollback refuses an older image unless a downgrade is allowed', () => {
    const older = signImage(NEXT, { key, version: '0.9.0', deviceClass: DEVICE_CLASS, encoding: 'compressed' });
    expect(applyImage(older, { ...opts, currentVersion: 0x01000000 })).toMatchObject({ ok: false, reason: 'rollback' });
    expect(applyImage(older, { ...opts, currentVersion: 0x01000000, allowDowngrade: true }).ok).toBe(true);
    expect(checkImage(older, { ...opts, currentVersion: 0x01000000, allowDowngrade: true }).ok).toBe(true);
  });

  function resign(payload: Uint8Array, firmwareDigest: Uint8Array, firmwareLength: number): Uint8Array {
    return signWith(payload, { firmware: { length: firmwareLength, digest: firmwareDigest }, delta: { baseVersion: 0x01000000, baseDigest: sha256(BASE) } });
  }
});

function signWith(payload: Uint8Array, extra: Pick<Parameters<typeof encodeImageHeader>[0], 'firmware' | 'delta'>): Uint8Array {
  const header = encodeImageHeader({
    algorithm: 'ed25519',
    keyId: keyId(key),
    manufacturer: 0,
    hwCompat: 0xffff,
    deviceClassId: deviceClassId(DEVICE_CLASS),
    firmwareVersion: 0x01010000,
    payloadLength: payload.length,
    payloadDigest: sha256(payload),
    ...extra,
  });
  return Uint8Array.from([...header, ...ed25519.sign(header, key.privateKey), ...payload]);
}

describe.skipIf(!FW_DIR)('real firmware pairs (../shared/firmware)', () => {
  const pairs = FW_DIR ? loadFirmwarePairs(FW_DIR) : [];
  const sizes = { delta: 0, bsdiff: 0 };

  beforeAll(() => {
    expect(cli('keygen', '--out', at('k'), '--algorithm', 'ed25519').code).toBe(0);
    expect(cli('keygen', '--out', at('other')).code).toBe(0);
  });

  for (const [i, p] of pairs.entries()) {
    it(`${p.name}: image sign --delta-from and image apply rebuild it byte-exactly`, () => {
      writeFileSync(at(`old${i}.bin`), p.old);
      writeFileSync(at(`new${i}.bin`), p.new);
      const signed = cli('sign', at(`new${i}.bin`), '--key', at('k.key'), '--version', '2.0.0', '--device-class', 'l476', '--delta-from', at(`old${i}.bin`), '-o', at(`d${i}.img`));
      expect(signed.code, signed.stderr).toBe(0);
      const applied = cli('apply', at(`d${i}.img`), '--pubkey', at('k.pub'), '--base', at(`old${i}.bin`), '-o', at(`out${i}.bin`));
      expect(applied.code, applied.stderr).toBe(0);
      expect(Buffer.from(readFileSync(at(`out${i}.bin`))).equals(Buffer.from(p.new))).toBe(true);
      const fig = lastJson(applied.stderr);
      const img = readFileSync(at(`d${i}.img`));
      expect(fig).toEqual({ ramBytes: fig.ramBytes, payloadBytes: decodeImageHeader(img).payloadLength, firmwareBytes: p.new.length });
      expect(fig.ramBytes).toBeLessThanOrEqual(RAM_LIMIT);
      if (p.kind === 'release' || p.kind === 'distant') {
        sizes.delta += img.length;
        sizes.bsdiff += p.sizes.bsdiff!;
      }
    });
  }

  it('signed delta images (header and signature included) sum to at most the bsdiff patches', () => {
    expect(sizes.bsdiff).toBeGreaterThan(0);
    expect(sizes.delta).toBeLessThanOrEqual(sizes.bsdiff);
  });

  it('compressed full images are at most 0.75x the raw firmware, and decompress within the RAM limit', () => {
    for (const p of pairs) {
      const img = signImage(p.new, { key, version: '2.0.0', deviceClass: 'l476', encoding: 'auto' });
      expect(decodeImageHeader(img).encoding).toBe('compressed');
      expect(img.length).toBeLessThanOrEqual(0.75 * p.new.length);
      const r = applyImage(img, { trustedKeys: [key], deviceClass: 'l476' });
      expect(r.ok && Buffer.from(r.firmware).equals(Buffer.from(p.new))).toBe(true);
      expect(r.ramBytes).toBeLessThanOrEqual(RAM_LIMIT);
    }
  });

  it('image apply refuses a wrong base, a flipped byte, a truncated delta and a wrong key, naming the reason', () => {
    const p = pairs[0]!;
    const img = new Uint8Array(readFileSync(at('d0.img')));
    writeFileSync(at('other-base.bin'), pairs[1]!.new);
    const wrongBase = cli('apply', at('d0.img'), '--pubkey', at('k.pub'), '--base', at('other-base.bin'), '-o', at('x.bin'));
    expect(wrongBase.code).toBe(1);
    expect(wrongBase.stderr).toMatch(/^lorafuota: image: wrong base: /m);
    const flipped = img.slice();
    flipped[img.length - 100]! ^= 0x04;
    writeFileSync(at('flipped.img'), flipped);
    const f = cli('apply', at('flipped.img'), '--pubkey', at('k.pub'), '--base', at('old0.bin'), '-o', at('x.bin'));
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/^lorafuota: image: digest mismatch: /m);
    const header = img.slice();
    header[17]! ^= 0x01;
    writeFileSync(at('header.img'), header);
    expect(cli('apply', at('header.img'), '--pubkey', at('k.pub'), '--base', at('old0.bin'), '-o', at('x.bin')).stderr).toMatch(/^lorafuota: image: bad signature: /m);
    writeFileSync(at('short.img'), img.subarray(0, img.length - 500));
    const t = cli('apply', at('short.img'), '--pubkey', at('k.pub'), '--base', at('old0.bin'), '-o', at('x.bin'));
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/^lorafuota: image: truncated: /m);
    expect(lastJson(t.stderr)).toMatchObject({ firmwareBytes: p.new.length });
    expect(cli('apply', at('d0.img'), '--pubkey', at('other.pub'), '--base', at('old0.bin'), '-o', at('x.bin')).stderr).toMatch(/^lorafuota: image: bad signature: /m);
  });

  it('the encoder fits the device segment table on the distant pair', () => {
    const distant = pairs.find((p) => p.kind === 'distant');
    if (!distant) return;
    const patch = encodeDelta(distant.old, distant.new, { maxSegments: 512 });
    expect(new DataView(patch.buffer).getUint16(9, true)).toBeLessThanOrEqual(512);
  });
});
