import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { rootKeyFor } from '../src/chirpstack/keys.js';
import type { Provisioning } from '../src/sim/runner.js';

describe('lorafuota sim (needs a build: npx tsc -p tsconfig.json)', () => {
  it('prints the provisioning as JSON, serves ChirpStack gRPC with it, and stops cleanly on SIGTERM', async () => {
    const child = spawn('node', ['dist/src/cli/main.js', 'sim', '--devices', '4', '--seed', '9', '--loss', '0.2', '--grpc', '127.0.0.1:0', '--speedup', '100'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c));
    for await (const c of child.stdout) {
      out += c;
      if (out.includes('\n')) break;
    }
    const prov = JSON.parse(out.split('\n')[0]!) as Provisioning;
    expect(prov.devices).toHaveLength(4);
    expect(prov.seed).toBe(9);
    const client = new ChirpStackClient({ target: prov.grpc, apiToken: prov.apiToken });
    const d = prov.devices[0]!;
    const info = await client.getDevice(d.devEui);
    expect(info.applicationId).toBe(prov.applicationId);
    const profile = await client.getDeviceProfile(info.deviceProfileId);
    const root = rootKeyFor(await client.getDeviceKeys(d.devEui), profile.macVersion);
    expect(root.source).toBe(d.lorawan === '1.1' ? 'app_key' : 'gen_app_key');
    client.close();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(JSON.parse(err.trim().split('\n').pop()!)).toHaveProperty('airtime');
  });

  it('bad options name the field and exit non-zero', () => {
    for (const [args, msg] of [
      [['--loss', '1.5'], 'lorafuota: --loss: must be a number in 0..1, got "1.5"'],
      [['--grpc', 'nowhere'], 'lorafuota: --grpc: expected HOST:PORT, got "nowhere"'],
      [['--model', 'x'], 'lorafuota: --model: must be uniform or gilbert-elliott, got "x"'],
      [['--devices', '2.5'], 'lorafuota: --devices: must be an integer in 0..100000, got "2.5"'],
      [['--chirpstack-version', '4.7'], 'lorafuota: --chirpstack-version: must be 4.12 or 4.19, got "4.7"'],
      [['--gateways', '0'], 'lorafuota: --gateways: must be an integer in 1..64, got "0"'],
    ] as const) {
      const r = spawnSync('node', ['dist/src/cli/main.js', 'sim', '--grpc', '127.0.0.1:0', ...args], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim()).toBe(msg);
    }
  });

  it('--chirpstack-version 4.12 models ChirpStack v4.12 (field 14 = class_b_ping_slot_nb_k); --gateways 2 provisions two gateways', async () => {
    const child = spawn('node', ['dist/src/cli/main.js', 'sim', '--devices', '2', '--grpc', '127.0.0.1:0', '--chirpstack-version', '4.12', '--gateways', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    for await (const c of child.stdout) {
      out += c;
      if (out.includes('\n')) break;
    }
    const prov = JSON.parse(out.split('\n')[0]!) as Provisioning;
    expect(prov.chirpstackVersion).toBe('4.12');
    expect(prov.gatewayIds).toEqual(['0016c001f153a14c', '0016c001f153a14d']);
    const client = new ChirpStackClient({ target: prov.grpc, apiToken: prov.apiToken });
    const id = await client.createMulticastGroup({
      name: 'b', applicationId: prov.applicationId, region: 'EU868', mcAddr: 7, mcAppSKey: '00'.repeat(16), mcNwkSKey: '11'.repeat(16),
      groupType: 'CLASS_B', dr: 3, frequencyHz: 869_525_000, pingSlotPeriodicity: 3,
    });
    // the value travels as field 14 unchanged; v4.12 reads it as k (8 slots per beacon), v4.19 would read 2^(7-3) = 16
    expect((await client.getMulticastGroup(id)).pingSlotPeriodicity).toBe(3);
    client.close();
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
});
