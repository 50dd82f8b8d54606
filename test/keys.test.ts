import { describe, expect, it } from 'vitest';
import { aesCmac, aesDecryptBlock, aesEncryptBlock } from '../src/codec/aes.js';
import { CodecError } from '../src/codec/errors.js';
import { dataBlockIntKey, decryptMcKey, encryptMcKey, mcKEKey, mcRootKey, mcSessionKeys } from '../src/codec/keys.js';
import { dataBlockMic } from '../src/codec/mic.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** 16 bytes: `first`, then 02 03 .. 10 (the ChirpStack test keys). */
const key = (first: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? first : i + 1));
const ROOT = h('000102030405060708090a0b0c0d0e0f');
const MC_KEY = h('0102030405060708090a0b0c0d0e0f10');

describe('AES-CMAC (RFC 4493 §4 examples)', () => {
  const k = h('2b7e151628aed2a6abf7158809cf4f3c');
  const m = h(
    '6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710',
  );
  it.each([
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('length %i', (len, tag) => {
    expect(hex(aesCmac(k, m.subarray(0, len)))).toBe(tag);
  });
  it('ECB encrypt and decrypt are inverse (FIPS-197 C.1)', () => {
    const k128 = h('000102030405060708090a0b0c0d0e0f');
    const ct = aesEncryptBlock(k128, h('00112233445566778899aabbccddeeff'));
    expect(hex(ct)).toBe('69c4e0d86a7b0430d8cdb78070b4c55a');
    expect(hex(aesDecryptBlock(k128, ct))).toBe('00112233445566778899aabbccddeeff');
  });
  it('rejects a short key naming the field', () => {
    expect(() => aesCmac(new Uint8Array(15), new Uint8Array(0))).toThrow(/aesCmac\.key.*16 bytes, got 15/);
  });
});

describe('multicast keys, ChirpStack lrwn vectors (§7.4)', () => {
  it('McRootKey 1.0.x from GenAppKey', () => expect(hex(mcRootKey(key(3), '1.0'))).toBe('55344e82570eaec8bf03b99962d1f445'));
  it('McRootKey 1.1 from AppKey', () => expect(hex(mcRootKey(key(2), '1.1'))).toBe('264fd859583fcc670241ac071cc9f5bb'));
  it('McKEKey', () => expect(hex(mcKEKey(key(4)))).toBe('9083bebf704257883160dbfcde33ad71'));
  it('session keys', () => {
    const k = mcSessionKeys(key(1), 0x01020304);
    expect(hex(k.mcAppSKey)).toBe('95cb4518ee375606735bbacbdce837fa');
    expect(hex(k.mcNwkSKey)).toBe('c3f6b388bad6c000b23291ad52c11c7b');
  });
  it('McKey_encrypted', () => {
    const enc = encryptMcKey(new Uint8Array(16).fill(1), new Uint8Array(16).fill(2));
    expect(hex(enc)).toBe('3437d6e231d702419b51b4947271b611');
    expect(hex(decryptMcKey(new Uint8Array(16).fill(1), enc))).toBe('02'.repeat(16));
  });
});

describe('full chain, root key 000102..0f, McAddr 0x01AB23CD (§7.4 table)', () => {
  it.each([
    ['1.0', 'c6a13b37878f5b826f4f8162a1c8d879', '2c578f7927a949d3b511ae8fb69145c6', '015e85f4b99dc0b944066cd07498330b'],
    ['1.1', '430bff9b049f19279455bd564133c73b', '0fc43a2a45fdb753dd065270b50ab9f2', '67608274fdd6c3937da6c58030273c60'],
  ] as const)('LoRaWAN %s', (lorawan, root, ke, enc) => {
    const r = mcRootKey(ROOT, lorawan);
    expect(hex(r)).toBe(root);
    const kek = mcKEKey(r);
    expect(hex(kek)).toBe(ke);
    const e = encryptMcKey(kek, MC_KEY);
    expect(hex(e)).toBe(enc);
    expect(decryptMcKey(kek, e)).toEqual(MC_KEY);
    const s = mcSessionKeys(MC_KEY, 0x01ab23cd);
    expect(hex(s.mcAppSKey)).toBe('dc6ca426806cdd74a62ba5877466f6b3');
    expect(hex(s.mcNwkSKey)).toBe('1c73ee5210a98bf5843faf8264cf1114');
  });
  it('rejects a bad LoRaWAN version and McAddr', () => {
    expect(() => mcRootKey(ROOT, '1.2' as '1.0')).toThrow(CodecError);
    expect(() => mcSessionKeys(MC_KEY, 2 ** 32)).toThrow(/mcAddr/);
  });
});

describe('TS004 v2 data-block MIC (§4.9)', () => {
  const block = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
  const k = dataBlockIntKey(ROOT);
  it('DataBlockIntKey', () => expect(hex(k)).toBe('017a8bd9ecd102ba4bb7946d3d8707e0'));
  it('SessionCnt 0, descriptor 0', () => {
    expect(hex(dataBlockMic(k, { sessionCnt: 0, fragIndex: 0, descriptor: 0, data: block }))).toBe('1984b5f5');
  });
  it('SessionCnt 5, descriptor bytes 01 02 03 04 (= u32 0x04030201)', () => {
    const want = '8881c3cf';
    expect(hex(dataBlockMic(k, { sessionCnt: 5, fragIndex: 0, descriptor: h('01020304'), data: block }))).toBe(want);
    expect(hex(dataBlockMic(k, { sessionCnt: 5, fragIndex: 0, descriptor: 0x04030201, data: block }))).toBe(want);
  });
  it('changes with every input', () => {
    const base = { sessionCnt: 0, fragIndex: 0, descriptor: 0, data: block };
    const mics = new Set(
      [base, { ...base, sessionCnt: 1 }, { ...base, fragIndex: 1 }, { ...base, descriptor: 1 }, { ...base, data: block.subarray(1) }].map(
        (m) => hex(dataBlockMic(k, m)),
      ),
    );
    expect(mics.size).toBe(5);
  });
  it('rejects out-of-range fields', () => {
    expect(() => dataBlockMic(k, { sessionCnt: 65536, fragIndex: 0, descriptor: 0, data: block })).toThrow(/sessionCnt/);
    expect(() => dataBlockMic(k, { sessionCnt: 0, fragIndex: 4, descriptor: 0, data: block })).toThrow(/fragIndex/);
  });
});
