import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkImage } from '../src/device/image-check.js';
import { parsePublicKeyFile } from '../src/image/keys.js';
import { firmware } from './image-fixtures.js';

const MAIN = join(process.cwd(), 'dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'lorafuota-image-'));
const at = (name: string) => join(dir, name);

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [MAIN, 'image', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FW = firmware('cli firmware', 300);

describe('lorafuota image', () => {
  beforeAll(() => {
    writeFileSync(at('fw.bin'), FW);
    expect(cli('keygen', '--out', at('ec')).code).toBe(0);
    expect(cli('keygen', '--out', at('ed'), '--algorithm', 'ed25519').code).toBe(0);
    expect(cli('sign', at('fw.bin'), '--key', at('ec.key'), '--version', '1.2.3', '--device-class', 'soil', '-o', at('fw.img')).code).toBe(0);
  });

  it('keygen writes a private key readable only by its owner and a public key file', () => {
    expect(statSync(at('ec.key')).mode & 0o777).toBe(0o600);
    const pub = JSON.parse(readFileSync(at('ec.pub'), 'utf8'));
    expect(pub).toMatchObject({ type: 'lorafuota-image-key', kind: 'public', algorithm: 'ecdsa-p256' });
    expect(pub.key).toMatch(/^04[0-9a-f]{128}$/);
    expect(JSON.parse(readFileSync(at('ed.pub'), 'utf8')).key).toMatch(/^[0-9a-f]{64}$/);
    const again = cli('keygen', '--out', at('ec'));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/^lorafuota: --out: .*exists/);
  });

  it('sign writes header || signature || firmware that the device check accepts', () => {
    const img = new Uint8Array(readFileSync(at('fw.img')));
    expect(img.length).toBe(120 + FW.length);
    expect(Buffer.from(img.subarray(120)).equals(Buffer.from(FW))).toBe(true);
    const key = parsePublicKeyFile(readFileSync(at('ec.pub'), 'utf8'));
    expect(checkImage(img, { trustedKeys: [key], deviceClass: 'soil', currentVersion: 0 })).toMatchObject({ ok: true, version: 0x01020003 });
  });

  it('verify prints ok <class> <version> and exits 0', () => {
    const r = cli('verify', at('fw.img'), '--pubkey', at('ec.pub'), '--device-class', 'soil', '--current-version', '1.2.0');
    expect(r).toEqual({ code: 0, stdout: 'ok soil 1.2.3\n', stderr: '' });
    // Several trusted keys, no class given: the class id is printed.
    const any = cli('verify', at('fw.img'), '--pubkey', at('ed.pub'), '--pubkey', at('ec.pub'));
    expect(any.code).toBe(0);
    expect(any.stdout).toMatch(/^ok [0-9a-f]{8} 1\.2\.3\n$/);
  });

  it('verify exits 1 with one line naming the reason', () => {
    const img = readFileSync(at('fw.img'));
    const variant = (name: string, bytes: Uint8Array) => (writeFileSync(at(name), bytes), at(name));
    const flipped = (i: number) => {
      const b = Buffer.from(img);
      b[i]! ^= 0x40;
      return b;
    };
    const cases: [string[], RegExp][] = [
      [[variant('payload.img', flipped(200)), '--pubkey', at('ec.pub')], /^lorafuota: image: digest mismatch: /],
      [[variant('header.img', flipped(16)), '--pubkey', at('ec.pub')], /^lorafuota: image: bad signature: /],
      [[at('fw.img'), '--pubkey', at('ed.pub')], /^lorafuota: image: bad signature: /],
      [[variant('short.img', img.subarray(0, 119)), '--pubkey', at('ec.pub')], /^lorafuota: image: truncated: /],
      [[at('fw.img'), '--pubkey', at('ec.pub'), '--device-class', 'meter'], /^lorafuota: image: wrong device class: /],
      [[at('fw.img'), '--pubkey', at('ec.pub'), '--current-version', '1.3.0'], /^lorafuota: image: rollback: /],
      [[at('fw.bin'), '--pubkey', at('ec.pub')], /^lorafuota: image: bad magic: /],
    ];
    for (const [args, expected] of cases) {
      const r = cli('verify', ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(expected);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('inspect prints the header as JSON', () => {
    const r = cli('inspect', at('fw.img'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      formatVersion: 1,
      algorithm: 'ecdsa-p256',
      version: '1.2.3',
      versionU32: '0x01020003',
      payloadLength: 300,
      hwCompat: '0xffff',
      headerLength: 56,
      imageLength: 420,
    });
  });

  it('sign takes Ed25519 keys, hardware revisions and a manufacturer', () => {
    const r = cli('sign', at('fw.bin'), '--key', at('ed.key'), '--version', '2.0.1', '--device-class', 'soil', '--hw-compat', '0,3', '--manufacturer', '0x1a2b', '-o', at('ed.img'));
    expect(r.code).toBe(0);
    expect(JSON.parse(cli('inspect', at('ed.img')).stdout)).toMatchObject({ algorithm: 'ed25519', hwCompat: '0x0009', manufacturer: 0x1a2b, version: '2.0.1' });
  });

  it('reports bad arguments as lorafuota: <field>: <reason>', () => {
    const sign = (...extra: string[]) => cli('sign', at('fw.bin'), '--device-class', 'soil', '-o', at('x.img'), ...extra);
    const cases: [{ code: number | null; stderr: string }, RegExp][] = [
      [sign('--key', at('ec.key'), '--version', '1.2'), /^lorafuota: --version: /],
      [sign('--key', at('ec.pub'), '--version', '1.2.0'), /^lorafuota: --key: expected a private key file/],
      [sign('--key', at('missing.key'), '--version', '1.2.0'), /^lorafuota: --key: cannot read/],
      [sign('--key', at('ec.key'), '--version', '1.2.0', '--hw-compat', '16'), /^lorafuota: --hw-compat: /],
      [sign('--key', at('ec.key'), '--version', '1.2.0', '--manufacturer', '70000'), /^lorafuota: --manufacturer: /],
      [cli('keygen', '--out', at('z'), '--algorithm', 'rsa'), /^lorafuota: --algorithm: /],
      [cli('verify', at('nope.img'), '--pubkey', at('ec.pub')), /^lorafuota: IMAGE: cannot read/],
      [cli('inspect', at('fw.bin')), /^lorafuota: IMAGE: .*magic/],
    ];
    for (const [r, expected] of cases) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(expected);
    }
  });
});
