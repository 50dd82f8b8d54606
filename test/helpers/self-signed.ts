/**
 * A self-signed ECDSA P-256 certificate for 127.0.0.1, built with node:crypto (DER by hand), for TLS tests that
 * must not depend on an openssl binary.
 */
import { generateKeyPairSync, sign } from 'node:crypto';

const len = (n: number): Buffer => (n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff));
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), len(body.length), body]);
};
const seq = (...p: Buffer[]) => tlv(0x30, ...p);
const oid = (s: string): Buffer => {
  const [a, b, ...rest] = s.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const n of rest) {
    const bytes = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
};
const utcTime = (d: Date) => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));

export interface SelfSigned {
  certPem: string;
  keyPem: string;
}

export function selfSignedCert(cn = '127.0.0.1', ip = [127, 0, 0, 1]): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const algo = seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
  const now = Date.now();
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), tlv(0x01, Buffer.of(0xff)), tlv(0x04, seq(tlv(0x01, Buffer.of(0xff))))), // basicConstraints CA
      seq(oid('2.5.29.17'), tlv(0x04, seq(tlv(0x87, Buffer.from(ip))))), // subjectAltName IP
    ),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.of(2))),
    tlv(0x02, Buffer.of(0x01, ...Array.from({ length: 7 }, (_, i) => (now >> (i * 4)) & 0x7f))),
    algo,
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const sig = sign('sha256', tbs, privateKey);
  const der = seq(tbs, algo, tlv(0x03, Buffer.of(0), sig));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`.replace('\n\n', '\n'),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
