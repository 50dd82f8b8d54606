// `lorafuota keys` and `lorafuota uplink decode` as child processes (run `npx tsc -p tsconfig.json` first).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const json = (...args: string[]): unknown => {
  const r = run(...args);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(r.stdout);
};
const ROOT = '000102030405060708090a0b0c0d0e0f';

describe('lorafuota keys multicast', () => {
  const args = (lorawan: string) => ['keys', 'multicast', '--lorawan', lorawan, '--root-key', ROOT, '--mc-key', '0102030405060708090a0b0c0d0e0f10', '--mc-addr', '01ab23cd'];
  it('prints the §7.4 chain for LoRaWAN 1.0.x', () => {
    expect(json(...args('1.0'))).toEqual({
      mcRootKey: 'c6a13b37878f5b826f4f8162a1c8d879',
      mcKEKey: '2c578f7927a949d3b511ae8fb69145c6',
      mcKeyEncrypted: '015e85f4b99dc0b944066cd07498330b',
      mcAppSKey: 'dc6ca426806cdd74a62ba5877466f6b3',
      mcNwkSKey: '1c73ee5210a98bf5843faf8264cf1114',
    });
  });
  it('and for 1.1', () => {
    expect(json(...args('1.1'))).toMatchObject({ mcRootKey: '430bff9b049f19279455bd564133c73b', mcKeyEncrypted: '67608274fdd6c3937da6c58030273c60' });
  });
  it('names the bad field', () => {
    const r = run('keys', 'multicast', '--lorawan', '1.0', '--root-key', ROOT, '--mc-key', '0102', '--mc-addr', '01ab23cd');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toBe('lorafuota: --mc-key: expected 16 bytes (32 hex digits), got 2\n');
    expect(run(...args('1.2')).stderr).toMatch(/^lorafuota: --lorawan: expected 1\.0 or 1\.1/);
  });
});

describe('lorafuota keys mic', () => {
  const data = '0102030405060708090a0b0c0d0e0f1011121314';
  it('prints the §4.9 vectors', () => {
    expect(json('keys', 'mic', '--root-key', ROOT, '--session-cnt', '0', '--frag-index', '0', '--descriptor', '00000000', '--data', data)).toEqual({
      dataBlockIntKey: '017a8bd9ecd102ba4bb7946d3d8707e0',
      mic: '1984b5f5',
    });
    expect(json('keys', 'mic', '--root-key', ROOT, '--session-cnt', '5', '--frag-index', '0', '--descriptor', '01020304', '--data', data)).toMatchObject({ mic: '8881c3cf' });
  });
  it('rejects a frag index out of range', () => {
    const r = run('keys', 'mic', '--root-key', ROOT, '--session-cnt', '0', '--frag-index', '4', '--descriptor', '00000000', '--data', data);
    expect([r.status, r.stderr]).toEqual([1, "lorafuota: --frag-index: expected an integer 0..3, got '4'\n"]);
  });
});

describe('lorafuota uplink decode', () => {
  it('decodes concatenated TS005 v2 answers from hex', () => {
    expect(json('uplink', 'decode', '--port', '200', '--ts005', '2', '00 02 02 02 00 04 20')).toEqual({
      port: 200,
      package: 'ts005',
      commands: [
        { type: 'PackageVersionAns', packageIdentifier: 2, packageVersion: 2 },
        { type: 'McGroupSetupAns', mcGroupId: 0, idError: false },
        { type: 'McClassCSessionAns', mcGroupId: 0, drError: false, freqError: false, mcGroupUndefined: false, startMissed: true },
      ],
    });
  });
  it('reads base64 (ChirpStack event data) and the TS004 version', () => {
    const b64 = Buffer.from('01022c4100', 'hex').toString('base64');
    expect(json('uplink', 'decode', '--port', '201', '--ts004', '2', b64)).toMatchObject({ commands: [{ type: 'FragSessionStatusAns', micError: true, nbFragReceived: 300 }] });
  });
  it('reports errors and unknown CIDs in the JSON; --downlink prints Uint8Arrays as hex', () => {
    expect(json('uplink', 'decode', '--port', '202', '01120b')).toEqual({
      port: 202,
      package: 'ts003',
      commands: [],
      error: { command: 'AppTimeReq', field: 'deviceTime', offset: 1, reason: 'needs 4 bytes, only 2 left (frame too short)' },
    });
    expect(json('uplink', 'decode', '--port', '10', '--package', 'ts006', '0400')).toMatchObject({ commands: [{ type: 'DevUpgradeImageAns', status: 0 }] });
    expect(json('uplink', 'decode', '--port', '203', '0601')).toMatchObject({ commands: [], unknownCid: { cid: 6, offset: 0 } });
    const setup = '0200cd23ab01015e85f4b99dc0b944066cd07498330b00000000ffffffff';
    expect(json('uplink', 'decode', '--port', '200', '--downlink', setup)).toMatchObject({
      commands: [{ type: 'McGroupSetupReq', mcAddr: 0x01ab23cd, mcKeyEncrypted: '015e85f4b99dc0b944066cd07498330b', maxMcFCnt: 0xffffffff }],
    });
  });
  it('rejects an unknown port and bad input', () => {
    expect(run('uplink', 'decode', '--port', '99', '00').stderr).toMatch(/^lorafuota: --port: 99 is not a default FUOTA port/);
    expect(run('uplink', 'decode', '--port', '201', '--ts004', '3', '00').stderr).toBe("lorafuota: --ts004: expected 1 or 2, got '3'\n");
    const r = run('uplink', 'decode', '--port', '201', 'zz!');
    expect([r.status, r.stderr]).toEqual([1, "lorafuota: payload: expected hex or base64, got 'zz!'\n"]);
  });
});
