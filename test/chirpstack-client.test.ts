import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { ChirpStackError } from '../src/chirpstack/call.js';
import { rootKeyFor } from '../src/chirpstack/keys.js';
import { profileWarnings } from '../src/chirpstack/profile-check.js';
import { SimChirpStack } from '../src/sim/chirpstack-server.js';

const KEY = (b: number) => Buffer.alloc(16, b).toString('hex');
const DEV1 = '0102030405060708';
const DEV2 = '1112131415161718';

function provision(sim: SimChirpStack) {
  const appId = sim.createApplication('fuota-test');
  const dp10 = sim.createDeviceProfile({ name: 'v103-classC', macVersion: '1.0.3' });
  const dp11 = sim.createDeviceProfile({ name: 'v11-ts003', macVersion: '1.1.0', supportsClassC: false, appLayer: { ts003Version: 'V200', ts003FPort: 202 } as never });
  sim.createDevice({ devEui: DEV1, applicationId: appId, deviceProfileId: dp10, keys: { nwkKey: KEY(1), appKey: '', genAppKey: KEY(3) } });
  sim.createDevice({ devEui: DEV2, applicationId: appId, deviceProfileId: dp11, keys: { nwkKey: KEY(4), appKey: KEY(5), genAppKey: '' } });
  return { appId, dp10, dp11 };
}

describe('ChirpStack client against the simulated server over real gRPC', () => {
  const sim = new SimChirpStack();
  let port = 0;
  let client: ChirpStackClient;
  let ids: ReturnType<typeof provision>;

  beforeAll(async () => {
    ids = provision(sim);
    port = await sim.listen('127.0.0.1', 0);
    client = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: sim.apiToken, policy: { deadlineMs: 2000, backoffMs: 50 } });
  });
  afterAll(() => {
    client.close();
    sim.stop();
  });

  it('creates a class C group with McAddr as big-endian hex and session keys, and reads it back', async () => {
    const id = await client.createMulticastGroup({
      name: 'g', applicationId: ids.appId, region: 'EU868', mcAddr: 0x01ab23cd,
      mcAppSKey: 'dc6ca426806cdd74a62ba5877466f6b3', mcNwkSKey: '1c73ee5210a98bf5843faf8264cf1114',
      groupType: 'CLASS_C', dr: 0, frequencyHz: 869_525_000,
    });
    expect(sim.groups.get(id)!.mcAddr).toBe(0x01ab23cd);
    const g = await client.getMulticastGroup(id);
    expect(g).toMatchObject({ mcAddr: 0x01ab23cd, fCnt: 0, groupType: 'CLASS_C', dr: 0, frequencyHz: 869_525_000, region: 'EU868', schedulingType: 'DELAY' });
    expect(g.mcAppSKey).toBe('dc6ca426806cdd74a62ba5877466f6b3');
    await client.addDeviceToMulticastGroup(id, DEV1);
    await client.addGatewayToMulticastGroup(id, '0016c001f153a14c');
    expect([...sim.groups.get(id)!.devices]).toEqual([DEV1]);

    expect(await client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(8, 0, 1) })).toBe(0);
    expect(await client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(8, 0, 2), expectFCnt: 1 })).toBe(1);
    await expect(client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(8, 0, 3), expectFCnt: 7 })).rejects.toThrow(/^fCnt: ChirpStack assigned 2, expected 7/);
    const q = await client.listMulticastQueue(id);
    expect(q.map((x) => [x.fCnt, x.fPort, [...x.data]])).toEqual([[0, 201, [8, 0, 1]], [1, 201, [8, 0, 2]], [2, 201, [8, 0, 3]]]);
    await client.flushMulticastQueue(id);
    expect(await client.listMulticastQueue(id)).toEqual([]);
    expect((await client.getMulticastGroup(id)).fCnt).toBe(3);
    await client.deleteMulticastGroup(id);
    await expect(client.getMulticastGroup(id)).rejects.toMatchObject({ code: 5 });
  });

  it('unicast queue, keys, device and profile', async () => {
    const qid = await client.enqueueDownlink(DEV1, { fPort: 200, data: Uint8Array.of(0) });
    const q = await client.getDeviceQueue(DEV1);
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ id: qid, fPort: 200, fCnt: 0 });
    await client.flushDeviceQueue(DEV1);
    expect(await client.getDeviceQueue(DEV1)).toHaveLength(0);

    const k1 = await client.getDeviceKeys(DEV1);
    expect(rootKeyFor(k1, '1.0.3')).toEqual({ keyHex: KEY(3), source: 'gen_app_key', prefix: 0 });
    const k2 = await client.getDeviceKeys(DEV2);
    expect(rootKeyFor(k2, '1.1.0')).toEqual({ keyHex: KEY(5), source: 'app_key', prefix: 0x20 });
    expect(() => rootKeyFor(k2, '1.0.4')).toThrow(/^gen_app_key: empty for LoRaWAN 1.0.4 device 1112131415161718/);

    const dev = await client.getDevice(DEV2);
    expect(dev).toMatchObject({ devEui: DEV2, applicationId: ids.appId, deviceProfileId: ids.dp11, classEnabled: 'CLASS_A' });
    const p10 = await client.getDeviceProfile(ids.dp10);
    expect(p10.macVersion).toBe('1.0.3');
    // A 1.0.x profile with supports_class_c: ChirpStack makes its devices Class C at join (unicast sent at once).
    expect(profileWarnings(p10)).toEqual([expect.stringMatching(/supports_class_c is set on a LoRaWAN 1\.0\.3 profile.*clear it unless the devices are always Class C/)]);
    expect(profileWarnings({ ...p10, supportsClassC: false })).toEqual([]);
    const p11 = await client.getDeviceProfile(ids.dp11);
    expect(p11.appLayer.ts003Version).toBe('V200');
    const w = profileWarnings(p11);
    // 1.1 devices switch class with DeviceModeInd, and multicast never needs the flag: only the TS003 warning.
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/ts003_version is V200/);
  });

  it('wrong token is UNAUTHENTICATED and not retried; bad input names the field', async () => {
    const bad = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: 'nope' });
    const err = await bad.getDevice(DEV1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChirpStackError);
    expect((err as ChirpStackError).code).toBe(16);
    bad.close();
    await expect(client.getDevice('xyz')).rejects.toThrow(/^devEui:/);
    await expect(client.enqueueDownlink(DEV1, { fPort: 0, data: new Uint8Array() })).rejects.toThrow(/^fPort:/);
    expect(() => new ChirpStackClient({ target: 'x', apiToken: '' })).toThrow(/^apiToken:/);
  });
});

describe('gRPC outage in mid-call', () => {
  it('an enqueue whose reply is lost is found in ListQueue after the restart, not enqueued twice', async () => {
    let hang: (() => void) | undefined;
    let outage = true;
    const sim: SimChirpStack = new SimChirpStack({
      beforeReply: (method) => {
        if (method !== 'Enqueue' || !outage) return;
        outage = false;
        // The item has landed; the server hangs (the client's deadline expires), then dies.
        return new Promise<void>((r) => {
          hang = r;
        });
      },
    });
    const { appId } = provision(sim);
    const port = await sim.listen('127.0.0.1', 0);
    const retries: string[] = [];
    const client = new ChirpStackClient({
      target: `127.0.0.1:${port}`, apiToken: sim.apiToken,
      policy: { deadlineMs: 300, backoffMs: 100, retries: 8 },
      onRetry: (e) => {
        retries.push(e.code === 14 ? 'UNAVAILABLE' : e.code === 4 ? 'DEADLINE_EXCEEDED' : String(e.code));
        if (retries.length === 1) sim.stop();
        if (retries.length === 3) void sim.listen('127.0.0.1', port);
      },
    });
    const id = await client.createMulticastGroup({
      name: 'o', applicationId: appId, region: 'EU868', mcAddr: 1, mcAppSKey: KEY(1), mcNwkSKey: KEY(2), groupType: 'CLASS_C', dr: 0, frequencyHz: 869_525_000,
    });
    // A group with its gateway: ChirpStack stores nothing for a group without gateways and without heard devices.
    await client.addGatewayToMulticastGroup(id, '0016c001f153a14c');
    const fCnt = await client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(9, 9) });
    hang?.();
    expect(fCnt).toBe(0);
    expect(retries[0]).toBe('DEADLINE_EXCEEDED');
    expect(retries.slice(1, 3)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
    expect(sim.groups.get(id)!.queue).toHaveLength(1);
    // and a plain call after recovery works
    expect(await client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(9, 10) })).toBe(1);
    client.close();
    sim.stop();
  });

  it('an enqueue whose reply is lost is found by the group f_cnt even after the row left the queue on its TX ack', async () => {
    let hang: (() => void) | undefined;
    let outage = true;
    const sim: SimChirpStack = new SimChirpStack({
      beforeReply: (method) => {
        if (method !== 'Enqueue' || !outage) return;
        outage = false;
        // The item landed and was sent at once (the gateway's TX ack deletes the row); the reply is lost.
        for (const g of sim.groups.values()) g.queue.length = 0;
        return new Promise<void>((r) => {
          hang = r;
        });
      },
    });
    const { appId } = provision(sim);
    const port = await sim.listen('127.0.0.1', 0);
    const client = new ChirpStackClient({
      target: `127.0.0.1:${port}`, apiToken: sim.apiToken, policy: { deadlineMs: 300, backoffMs: 100, retries: 8 },
      onRetry: (_e, n) => {
        if (n === 1) sim.stop();
        if (n === 2) void sim.listen('127.0.0.1', port);
      },
    });
    const id = await client.createMulticastGroup({
      name: 'o', applicationId: appId, region: 'EU868', mcAddr: 1, mcAppSKey: KEY(1), mcNwkSKey: KEY(2), groupType: 'CLASS_C', dr: 0, frequencyHz: 869_525_000,
    });
    await client.addGatewayToMulticastGroup(id, '0016c001f153a14c');
    const expiresAtMs = Date.parse('2030-01-01T00:00:00Z');
    expect(await client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(9, 9), expectFCnt: 0, expiresAtMs })).toBe(0);
    hang?.();
    expect(sim.groups.get(id)!.fCnt).toBe(1); // enqueued once
    // expires_at reaches ChirpStack.
    await client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(9, 10), expectFCnt: 1, expiresAtMs });
    expect(sim.groups.get(id)!.queue[0]!.expiresAtMs).toBe(expiresAtMs);
    await expect(client.enqueueMulticast(id, { fPort: 201, data: Uint8Array.of(1), expiresAtMs: -1 })).rejects.toThrow(/^expiresAtMs:/);
    client.close();
    sim.stop();
  });

  it('a read during an outage is retried until the server is back on the same port', async () => {
    const sim = new SimChirpStack();
    provision(sim);
    const port = await sim.listen('127.0.0.1', 0);
    const client = new ChirpStackClient({
      target: `127.0.0.1:${port}`, apiToken: sim.apiToken, policy: { deadlineMs: 500, backoffMs: 50, retries: 10 },
      onRetry: (_e, n) => { if (n === 3) void sim.listen('127.0.0.1', port); },
    });
    expect((await client.getDevice(DEV1)).devEui).toBe(DEV1);
    sim.stop();
    expect((await client.getDeviceKeys(DEV1)).genAppKey).toBe(KEY(3));
    client.close();
    sim.stop();
  });
});

describe('TLS', () => {
  it('talks to a TLS server that presents a certificate for 127.0.0.1, and refuses an untrusted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lorafuota-tls-'));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      ], { stdio: 'ignore' });
      const cert = readFileSync(join(dir, 'cert.pem'));
      const sim = new SimChirpStack();
      provision(sim);
      const port = await sim.listen('127.0.0.1', 0, { certChain: cert, privateKey: readFileSync(join(dir, 'key.pem')) });
      const ok = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: sim.apiToken, tls: { rootCerts: cert } });
      expect((await ok.getDeviceKeys(DEV1)).genAppKey).toBe(KEY(3));
      const plain = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: sim.apiToken, policy: { retries: 1, backoffMs: 10, deadlineMs: 1000 } });
      await expect(plain.getDevice(DEV1)).rejects.toBeInstanceOf(ChirpStackError);
      const untrusted = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: sim.apiToken, tls: true, policy: { retries: 1, backoffMs: 10, deadlineMs: 1000 } });
      await expect(untrusted.getDevice(DEV1)).rejects.toMatchObject({ code: 14 });
      for (const c of [ok, plain, untrusted]) c.close();
      sim.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
