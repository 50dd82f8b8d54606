import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  decodeImageHeader,
  encodeImageHeader,
  splitImage,
  u32ToVersion,
  versionToU32,
  type ImageHeaderFields,
} from '../src/codec/image-header.js';
import { CodecError } from '../src/codec/errors.js';
import { checkImage, deviceClassId, keyId, type ImagePolicy } from '../src/device/image-check.js';
import { signImage } from '../src/image/sign.js';
import { verifyImageForCampaign } from '../src/image/verify.js';
import { inspectImage } from '../src/image/inspect.js';
import { DEVICE_CLASS, firmware, fixedKey, image } from './image-fixtures.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ecdsa = fixedKey('ecdsa-p256', 'A');
const ed = fixedKey('ed25519', 'B');
const policy = (over: Partial<ImagePolicy> = {}): ImagePolicy => ({
  trustedKeys: [ecdsa, ed],
  deviceClass: DEVICE_CLASS,
  currentVersion: versionToU32('1.0.0'),
  ...over,
});

describe('versions', () => {
  it('packs major 8 | minor 8 | patch 16 bits', () => {
    expect(versionToU32('1.2.3')).toBe(0x01020003);
    expect(versionToU32('255.255.65535')).toBe(0xffffffff);
    expect(u32ToVersion(0x01020003)).toBe('1.2.3');
    expect(u32ToVersion(0x0a000100)).toBe('10.0.256');
  });
  it('rejects malformed and out-of-range versions naming the field', () => {
    for (const bad of ['1.2', '1.2.3.4', '256.0.0', '0.256.0', '0.0.65536', 'a.b.c', '', ' 1.2.3', '-1.0.0']) {
      expect(() => versionToU32(bad)).toThrow(/^version: /);
    }
    expect(() => u32ToVersion(-1)).toThrow(/version/);
    expect(() => u32ToVersion(2 ** 32)).toThrow(/version/);
  });
  it('round-trips every u32 and orders like the X.Y.Z triple', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => versionToU32(u32ToVersion(n)) === n));
    expect(versionToU32('1.10.0')).toBeGreaterThan(versionToU32('1.9.65535'));
  });
});

describe('header codec', () => {
  const fields: ImageHeaderFields = {
    algorithm: 'ed25519',
    keyId: 0xab,
    manufacturer: 0x1234,
    hwCompat: 0x0005,
    deviceClassId: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
    firmwareVersion: 0x01020003,
    payloadLength: 0x00010203,
    payloadDigest: new Uint8Array(32).fill(0x11),
  };

  it('lays out the bytes as in the byte table', () => {
    const bytes = encodeImageHeader(fields);
    expect(bytes.length).toBe(56);
    expect(hex(bytes.subarray(0, 24))).toBe('4c465749' + '01' + '02' + '00' + 'ab' + '3412' + '0500' + 'deadbeef' + '03000201' + '03020100');
    expect(hex(bytes.subarray(24))).toBe('11'.repeat(32));
  });

  it('adds the delta and encoding extensions (flag, base version, base digest, firmware length and digest, codec)', () => {
    const firmware = { length: 0x012345, digest: new Uint8Array(32).fill(0x33) };
    const bytes = encodeImageHeader({ ...fields, delta: { baseVersion: 0x01000000, baseDigest: new Uint8Array(32).fill(0x22) }, firmware });
    expect(bytes.length).toBe(132);
    expect(bytes[6]).toBe(0x01);
    expect(hex(bytes.subarray(56, 60))).toBe('00000001');
    expect(hex(bytes.subarray(60, 92))).toBe('22'.repeat(32));
    expect(hex(bytes.subarray(92, 96))).toBe('45230100');
    expect(hex(bytes.subarray(96, 128))).toBe('33'.repeat(32));
    expect(hex(bytes.subarray(128))).toBe('01000000');
    const h = decodeImageHeader(bytes);
    expect(h).toMatchObject({ encoding: 'delta', headerLength: 132, firmwareLength: 0x012345, delta: { baseVersion: 0x01000000 } });
    expect(() => encodeImageHeader({ ...fields, delta: { baseVersion: 1, baseDigest: new Uint8Array(32) } })).toThrow(/firmware/);
    const compressed = encodeImageHeader({ ...fields, firmware });
    expect(compressed.length).toBe(96);
    expect(compressed[6]).toBe(0x02);
    expect(decodeImageHeader(compressed)).toMatchObject({ encoding: 'compressed', headerLength: 96, firmwareLength: 0x012345 });
    const both = compressed.slice();
    both[6] = 0x03;
    expect(() => decodeImageHeader(both)).toThrow(/flags/);
    const codec = compressed.slice();
    codec[92] = 2;
    expect(() => decodeImageHeader(codec)).toThrow(/payloadCodec/);
  });

  it('round-trips arbitrary headers', () => {
    const arb = fc.record({
      algorithm: fc.constantFrom('ecdsa-p256' as const, 'ed25519' as const),
      keyId: fc.integer({ min: 0, max: 255 }),
      manufacturer: fc.integer({ min: 0, max: 0xffff }),
      hwCompat: fc.integer({ min: 0, max: 0xffff }),
      deviceClassId: fc.uint8Array({ minLength: 4, maxLength: 4 }),
      firmwareVersion: fc.integer({ min: 0, max: 0xffffffff }),
      payloadLength: fc.integer({ min: 0, max: 0xffffffff }),
      payloadDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    });
    fc.assert(
      fc.property(arb, (f) => {
        const h = decodeImageHeader(encodeImageHeader(f));
        expect({ ...h, formatVersion: undefined, headerLength: undefined, imageLength: undefined }).toEqual({
          ...f,
          formatVersion: undefined,
          headerLength: undefined,
          imageLength: undefined,
        });
        expect(h.imageLength).toBe(56 + 64 + f.payloadLength);
      }),
    );
  });

  it('refuses out-of-range fields with the field name and offset', () => {
    const err = (f: Partial<ImageHeaderFields>) => {
      try {
        encodeImageHeader({ ...fields, ...f });
      } catch (e) {
        return e as CodecError;
      }
      throw new Error('no error');
    };
    expect(err({ manufacturer: 0x10000 })).toMatchObject({ field: 'manufacturer', offset: 8 });
    expect(err({ hwCompat: -1 })).toMatchObject({ field: 'hwCompat', offset: 10 });
    expect(err({ deviceClassId: new Uint8Array(3) })).toMatchObject({ field: 'deviceClassId', offset: 12 });
    expect(err({ payloadDigest: new Uint8Array(31) })).toMatchObject({ field: 'payloadDigest', offset: 24 });
    expect(err({ firmwareVersion: 1.5 })).toMatchObject({ field: 'firmwareVersion', offset: 16 });
  });

  it('refuses unknown format versions, algorithms and RFU flags', () => {
    const bytes = encodeImageHeader(fields);
    const mutate = (i: number, v: number) => {
      const b = bytes.slice();
      b[i] = v;
      return b;
    };
    expect(() => decodeImageHeader(mutate(4, 2))).toThrow(/formatVersion/);
    expect(() => decodeImageHeader(mutate(5, 3))).toThrow(/algorithm/);
    expect(() => decodeImageHeader(mutate(6, 0x80))).toThrow(/flags/);
    expect(() => decodeImageHeader(mutate(0, 0x4d))).toThrow(/magic/);
  });

  it('derives the device class id from the SHA-256 of the name', () => {
    expect(hex(deviceClassId('abc'))).toBe('ba7816bf');
    expect(() => deviceClassId('')).toThrow(/deviceClass/);
  });
});

describe('signed images', () => {
  for (const key of [ecdsa, ed]) {
    describe(key.algorithm, () => {
      const img = image(key, '1.2.3');

      it('is header || signature || payload, and checks out on the device', () => {
        expect(img.length).toBe(56 + 64 + 64);
        const parts = splitImage(img);
        expect(hex(parts.payload)).toBe(hex(firmware('fw 1.2.3', 64)));
        expect(hex(parts.header.payloadDigest)).toBe(hex(sha256(parts.payload)));
        expect(parts.header.keyId).toBe(keyId(key));
        const r = checkImage(img, policy());
        expect(r).toMatchObject({ ok: true, version: 0x01020003, upImageStatus: 3 });
      });

      it('refuses every single flipped bit position of every byte', () => {
        for (let i = 0; i < img.length; i++) {
          const bad = img.slice();
          bad[i]! ^= 1 << i % 8;
          const r = checkImage(bad, policy());
          expect(r.ok, `byte ${i}`).toBe(false);
          if (!r.ok) {
            expect(r.upImageStatus, `byte ${i}: ${r.reason}`).toBe(1);
            const expected = i < 4 ? 'bad-magic' : i < 56 ? ['bad-signature', 'unsupported', 'truncated'] : i < 120 ? 'bad-signature' : 'digest-mismatch';
            if (Array.isArray(expected)) expect(expected, `byte ${i}`).toContain(r.reason);
            else expect(r.reason, `byte ${i}`).toBe(expected);
          }
        }
      });

      it('refuses every truncation', () => {
        for (let n = 1; n < img.length; n++) {
          const r = checkImage(img.subarray(0, n), policy());
          expect(r, `length ${n}`).toMatchObject({ ok: false, reason: 'truncated', upImageStatus: 1 });
        }
        expect(checkImage(new Uint8Array(0), policy())).toMatchObject({ ok: false, upImageStatus: 0 });
        expect(checkImage(null, policy())).toMatchObject({ ok: false, reason: 'truncated', upImageStatus: 0 });
      });

      it('ignores bytes after the image (FEC padding, rest of a flash slot)', () => {
        const padded = new Uint8Array(img.length + 13);
        padded.set(img);
        expect(checkImage(padded, policy()).ok).toBe(true);
        expect(inspectImage(padded).trailingBytes).toBe(13);
      });
    });
  }

  it('refuses a key the device does not trust, even with a matching key id', () => {
    const other = fixedKey('ecdsa-p256', 'C');
    const img = image(other, '1.2.3');
    expect(checkImage(img, policy())).toMatchObject({ ok: false, reason: 'bad-signature', upImageStatus: 1 });
    // Forge the key id byte to point at the trusted key: the header is signed, so the signature fails.
    const forged = img.slice();
    forged[7] = keyId(ecdsa);
    expect(checkImage(forged, policy())).toMatchObject({ ok: false, reason: 'bad-signature', detail: expect.stringMatching(/does not verify/) });
    expect(checkImage(img, policy({ trustedKeys: [ecdsa, other] })).ok).toBe(true);
    expect(checkImage(image(ecdsa, '1.2.3'), policy({ trustedKeys: [ed] }))).toMatchObject({ reason: 'bad-signature' });
  });

  it('accepts a high-S ECDSA signature, as C verifiers do', () => {
    const img = image(ecdsa, '1.2.3');
    const sig = p256.Signature.fromBytes(img.subarray(56, 120), 'compact');
    const high = new p256.Signature(sig.r, p256.Point.CURVE().n - sig.s).toBytes('compact');
    const flipped = img.slice();
    flipped.set(high, 56);
    expect(hex(flipped)).not.toBe(hex(img));
    expect(checkImage(flipped, policy()).ok).toBe(true);
  });

  it('refuses a wrong device class, hardware revision or manufacturer with status 2', () => {
    const img = image(ecdsa, '1.2.3', { hwCompat: 0b0110, manufacturer: 7 });
    expect(checkImage(img, policy({ deviceClass: 'water-meter' }))).toMatchObject({ ok: false, reason: 'wrong-device-class', upImageStatus: 2 });
    expect(checkImage(img, policy({ hwRevision: 0 }))).toMatchObject({ ok: false, reason: 'wrong-device-class', upImageStatus: 2 });
    expect(checkImage(img, policy({ hwRevision: 2 })).ok).toBe(true);
    expect(() => checkImage(img, policy({ hwRevision: 16 }))).toThrow(/^hwRevision/);
    expect(checkImage(img, policy({ manufacturer: 8 }))).toMatchObject({ ok: false, reason: 'wrong-device-class' });
    expect(checkImage(img, policy({ manufacturer: 7 })).ok).toBe(true);
  });

  it('refuses a rollback unless allowed; the same version may be re-installed', () => {
    const img = image(ecdsa, '1.2.3');
    expect(checkImage(img, policy({ currentVersion: versionToU32('1.2.4') }))).toMatchObject({ ok: false, reason: 'rollback', upImageStatus: 2 });
    expect(checkImage(img, policy({ currentVersion: versionToU32('1.2.4'), allowRollback: true })).ok).toBe(true);
    expect(checkImage(img, policy({ currentVersion: versionToU32('1.2.3') })).ok).toBe(true);
  });

  it('authenticates delta images and applies them only to the base they name', () => {
    const base = firmware('fw 1.0.0', 64);
    const img = image(ed, '1.1.0', { deltaFrom: { firmware: base, version: '1.0.0' } });
    expect(decodeImageHeader(img).headerLength).toBe(132);
    expect(checkImage(img, policy())).toMatchObject({ ok: false, reason: 'wrong-base', upImageStatus: 2 });
    expect(checkImage(img, policy({ runningDigest: sha256(firmware('other', 64)) }))).toMatchObject({ ok: false, reason: 'wrong-base' });
    expect(checkImage(img, policy({ runningDigest: sha256(base) }))).toMatchObject({ ok: true, upImageStatus: 3 });
    const bad = img.slice();
    bad[60]! ^= 0xff;
    expect(checkImage(bad, policy({ runningDigest: sha256(base) }))).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(inspectImage(img)).toMatchObject({ encoding: 'delta', delta: { baseVersion: '1.0.0', baseSha256: hex(sha256(base)) } });
  });

  it('never throws and never accepts random bytes or random multi-byte damage', () => {
    const img = image(ed, '1.2.3');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(checkImage(bytes, policy()).ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(img.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const bad = img.slice();
        for (const [i, x] of edits) bad[i]! ^= x;
        const r = checkImage(bad, policy());
        // Edits may cancel out (same byte, same mask twice); otherwise the image must be refused.
        expect(r.ok).toBe(Buffer.from(bad).equals(Buffer.from(img)));
      }),
      { numRuns: 200 },
    );
  });

  it('signs deterministically with both algorithms', () => {
    expect(hex(image(ecdsa, '2.0.0'))).toBe(hex(image(ecdsa, '2.0.0')));
    expect(hex(image(ed, '2.0.0'))).toBe(hex(image(ed, '2.0.0')));
  });

  it('refuses bad signing options', () => {
    expect(() => signImage(new Uint8Array(4), { key: ecdsa, version: '1.2', deviceClass: DEVICE_CLASS })).toThrow(/^version/);
    expect(() => signImage(new Uint8Array(4), { key: ecdsa, version: '1.2.3', deviceClass: '' })).toThrow(/^deviceClass/);
    expect(() => signImage(new Uint8Array(4), { key: ecdsa, version: '1.2.3', deviceClass: 'x', hwCompat: 0x10000 })).toThrow(/hwCompat/);
  });
});

describe('verifyImageForCampaign', () => {
  const opts = { publicKeys: [ecdsa], deviceClass: DEVICE_CLASS };
  it('returns the header of a valid image', () => {
    expect(verifyImageForCampaign(image(ecdsa, '3.1.4'), opts).firmwareVersion).toBe(versionToU32('3.1.4'));
  });
  it('throws naming the reason', () => {
    const img = image(ecdsa, '3.1.4');
    const tampered = img.slice();
    tampered[150]! ^= 1;
    expect(() => verifyImageForCampaign(tampered, opts)).toThrow(/^image: digest mismatch: /);
    expect(() => verifyImageForCampaign(img, { ...opts, deviceClass: 'other' })).toThrow(/^image: wrong device class: /);
    expect(() => verifyImageForCampaign(img, { ...opts, publicKeys: [ed] })).toThrow(/^image: bad signature: /);
    expect(() => verifyImageForCampaign(img.subarray(0, 100), opts)).toThrow(/^image: truncated: /);
    expect(() => verifyImageForCampaign(new TextEncoder().encode('not an image at all'), opts)).toThrow(/^image: bad magic: /);
  });
});
