/**
 * The simulated ChirpStack against the behaviour of ChirpStack v4.19.0 (read from its source at tag v4.19.0;
 * docs/sim.md "Fidelity" maps each test to the source file). Each test name says the behaviour it mirrors.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { ManualClock } from '../src/codec/clock.js';
import { unixMsToGpsMs } from '../src/codec/gpstime.js';
import { frameAirtimeMs } from '../src/codec/region.js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { ChirpStackError } from '../src/chirpstack/call.js';
import { DEFAULT_GATEWAY_ID, SimChirpStack, type SimChirpStackOptions } from '../src/sim/chirpstack-server.js';
import { uplinkEventJson } from '../src/sim/integration-out.js';
import { gpsMsToUnixMs, minimumGatewaySet, nextPingSlotAfter, pingNbOf, planEnqueue, DEFAULT_SCHEDULER } from '../src/sim/multicast-scheduler.js';
import { SimNetwork } from '../src/sim/network.js';
import { Radio } from '../src/sim/radio.js';
import { chirpstackMaxDlPayload } from '../src/sim/region-config.js';
import type { SimUplinkEvent } from '../src/sim/integration-out.js';
import type { MulticastFrame, SimulatedDevice, Uplink } from '../src/sim/types.js';

const T0 = Date.parse('2025-07-14T00:00:00Z');
const APP_S = 'dc6ca426806cdd74a62ba5877466f6b3';
const NWK_S = '1c73ee5210a98bf5843faf8264cf1114';
const GW2 = '0016c001f153a14d';
const GW3 = '0016c001f153a14e';
const eui = (i: number) => (0x7000000000000000n + BigInt(i)).toString(16);

class StubDevice implements SimulatedDevice {
  readonly multicast: number[] = [];
  readonly unicast: { data: number[]; at: number }[] = [];
  readonly uplinks: number[] = [];
  private next: number;
  constructor(readonly devEui: string, private readonly intervalMs: number, firstAt: number) {
    this.next = firstAt;
  }
  receiveUnicast(_fPort: number, data: Uint8Array, nowMs: number): void {
    this.unicast.push({ data: [...data], at: nowMs });
  }
  receiveMulticast(frame: MulticastFrame): void {
    this.multicast.push(frame.fCnt);
  }
  nextUplinkAt(): number {
    return this.next;
  }
  transmit(nowMs: number): Uplink | null {
    this.uplinks.push(nowMs);
    this.next = nowMs + this.intervalMs;
    return { fPort: 202, data: Uint8Array.of(1) };
  }
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/** A server over gRPC with an admin client. */
async function served(opts: SimChirpStackOptions = {}) {
  const cs = new SimChirpStack(opts);
  const appId = cs.createApplication('app');
  const dp = cs.createDeviceProfile({ name: 'p', macVersion: '1.0.3', supportsClassC: true });
  cs.createDevice({ devEui: eui(1), applicationId: appId, deviceProfileId: dp, keys: { nwkKey: '', appKey: '', genAppKey: '00'.repeat(16) } });
  const port = await cs.listen();
  const clients: ChirpStackClient[] = [];
  const client = (apiToken = cs.apiToken) => {
    const c = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken, policy: { retries: 0, deadlineMs: 2000 } });
    clients.push(c);
    return c;
  };
  cleanup.push(() => {
    for (const c of clients) c.close();
    cs.stop();
  });
  const admin = client();
  const gid = await admin.createMulticastGroup({
    name: 'g', applicationId: appId, region: 'EU868', mcAddr: 0x01ab23cd, mcAppSKey: APP_S, mcNwkSKey: NWK_S, groupType: 'CLASS_C', dr: 5, frequencyHz: 869_525_000,
  });
  return { cs, appId, dp, admin, client, gid };
}

async function rpcError(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ChirpStackError) return { code: e.code, details: e.details };
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('ChirpStack v4.19 API errors', () => {
  it('ChirpStack v4.19: AddDevice twice -> INTERNAL "duplicate key value violates unique constraint" (multicast_group_device); AddGateway twice likewise', async () => {
    const { admin, gid } = await served();
    await admin.addDeviceToMulticastGroup(gid, eui(1));
    expect(await rpcError(admin.addDeviceToMulticastGroup(gid, eui(1)))).toEqual({ code: 13, details: 'duplicate key value violates unique constraint "multicast_group_device_pkey"' });
    await admin.addGatewayToMulticastGroup(gid, DEFAULT_GATEWAY_ID);
    expect(await rpcError(admin.addGatewayToMulticastGroup(gid, DEFAULT_GATEWAY_ID))).toEqual({ code: 13, details: 'duplicate key value violates unique constraint "multicast_group_gateway_pkey"' });
  });

  it('acceptDuplicateMembers (kinder than ChirpStack, opt-in) makes a second AddDevice / AddGateway succeed', async () => {
    const { cs, admin, gid } = await served({ acceptDuplicateMembers: true });
    await admin.addDeviceToMulticastGroup(gid, eui(1));
    await admin.addDeviceToMulticastGroup(gid, eui(1));
    await admin.addGatewayToMulticastGroup(gid, DEFAULT_GATEWAY_ID);
    await admin.addGatewayToMulticastGroup(gid, DEFAULT_GATEWAY_ID);
    expect([...cs.groups.get(gid)!.devices]).toEqual([eui(1)]);
  });

  it('ChirpStack v4.19: a tenant key gets UNAUTHENTICATED with an empty message for a missing group (access is checked first); the admin key gets NOT_FOUND "Object does not exist (id: ...)"', async () => {
    const { cs, client, admin, gid } = await served();
    const tenantKey = cs.createApiKey({ tenantId: [...cs.tenants.keys()][0]! });
    const tenant = client(tenantKey);
    const missing = '9b1c4c5e-0000-4000-8000-000000000000';
    expect(await rpcError(tenant.getMulticastGroup(missing))).toEqual({ code: 16, details: '' });
    expect(await rpcError(tenant.listMulticastQueue(missing))).toEqual({ code: 16, details: '' });
    expect(await rpcError(admin.getMulticastGroup(missing))).toEqual({ code: 5, details: `Object does not exist (id: ${missing})` });
    // its own group is fine; another tenant's key sees nothing
    expect((await tenant.getMulticastGroup(gid)).id).toBe(gid);
    const other = client(cs.createApiKey({ tenantId: cs.createTenant('other') }));
    expect(await rpcError(other.getMulticastGroup(gid))).toEqual({ code: 16, details: '' });
    expect(await rpcError(other.getDevice(eui(1)))).toEqual({ code: 16, details: '' });
    expect(await rpcError(admin.getDevice(eui(9)))).toEqual({ code: 5, details: `Object does not exist (id: ${eui(9)})` });
    // a read-only key reads, but may not change (validator: "not RO" for Create/Update/Delete)
    const ro = client(cs.createApiKey({ readOnly: true }));
    expect((await ro.getMulticastGroup(gid)).id).toBe(gid);
    expect(await rpcError(ro.addDeviceToMulticastGroup(gid, eui(1)))).toEqual({ code: 16, details: '' });
    expect(await rpcError(ro.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(1) }))).toEqual({ code: 16, details: '' });
  });

  it('ChirpStack v4.19: AddDevice of a device of another application -> NOT_FOUND naming the DevEUI; AddGateway of a gateway of another tenant -> NOT_FOUND naming the gateway', async () => {
    const { cs, admin, gid, dp } = await served();
    const otherApp = cs.createApplication('other');
    cs.createDevice({ devEui: eui(2), applicationId: otherApp, deviceProfileId: dp, keys: { nwkKey: '', appKey: '', genAppKey: '' } });
    expect(await rpcError(admin.addDeviceToMulticastGroup(gid, eui(2)))).toEqual({ code: 5, details: `Object does not exist (id: ${eui(2)})` });
    cs.createGateway({ gatewayId: GW2, region: 'EU868', tenantId: cs.createTenant('t2') });
    expect(await rpcError(admin.addGatewayToMulticastGroup(gid, GW2))).toEqual({ code: 5, details: `Object does not exist (id: ${GW2})` });
    expect(await rpcError(admin.addGatewayToMulticastGroup(gid, GW3))).toEqual({ code: 5, details: `Object does not exist (id: ${GW3})` });
  });

  it('ChirpStack v4.19: Enqueue with FPort 0 -> INVALID_ARGUMENT "Validation error: FPort must be between 1 - 255"', async () => {
    const { cs, gid } = await served();
    expect(() => cs.enqueueMulticast(gid, { fPort: 0, data: Uint8Array.of(1) })).toThrow('Validation error: FPort must be between 1 - 255');
  });
});

describe('ChirpStack v4.19 multicast enqueue: gateway selection and scheduling', () => {
  it('ChirpStack v4.19: Enqueue for a group without gateways whose devices were never heard advances f_cnt and stores nothing', async () => {
    const { cs, admin, gid } = await served();
    await admin.addDeviceToMulticastGroup(gid, eui(1));
    expect(await admin.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(1) })).toBe(0);
    expect(await admin.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(2) })).toBe(1);
    expect(await admin.listMulticastQueue(gid)).toEqual([]);
    expect((await admin.getMulticastGroup(gid)).fCnt).toBe(2);
    expect(cs.log.filter((l) => /enqueued for no gateway/.test(l))).toHaveLength(2);
    // once the device was heard, its gateway carries the group
    cs.devices.get(eui(1))!.lastGateways = [DEFAULT_GATEWAY_ID];
    expect(await admin.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(3) })).toBe(2);
    expect((await admin.listMulticastQueue(gid)).map((q) => q.fCnt)).toEqual([2]);
    expect(cs.groups.get(gid)!.queue.map((r) => r.gatewayId)).toEqual([DEFAULT_GATEWAY_ID]);
  });

  it('ChirpStack v4.19: without explicit gateways, the fewest gateways covering the heard devices (min spanning tree) are used', () => {
    const h = new Map<string, string[]>([
      ['d1', ['a', 'c']],
      ['d2', ['a']],
      ['d3', ['a', 'b']],
      ['d4', ['b']],
    ]);
    expect(minimumGatewaySet(h)).toEqual(['a', 'b']);
    expect(minimumGatewaySet(new Map())).toEqual([]);
  });

  it('ChirpStack v4.19: class C DELAY rows are one per gateway, each margin (5 s) after the latest queued row; GPS_TIME rows share one emit time one margin later', () => {
    const cfg = DEFAULT_SCHEDULER;
    const delay = { groupType: 'CLASS_C', schedulingType: 'DELAY', mcAddr: 1, pingNb: 1 } as const;
    const first = planEnqueue(delay, [], ['g1', 'g2', 'g3'], T0, cfg);
    expect(first.map((r) => [r.gatewayId, r.schedulerRunAfterMs - T0])).toEqual([['g1', 0], ['g2', 5000], ['g3', 10000]]);
    const rows = first.map((r, i) => ({ ...r, id: `${i}`, createdSeq: i, fCnt: 0, fPort: 1, data: new Uint8Array() }));
    const second = planEnqueue(delay, rows, ['g1', 'g2', 'g3'], T0 + 1000, cfg);
    expect(second.map((r) => r.schedulerRunAfterMs - T0)).toEqual([15000, 20000, 25000]);
    const gps = planEnqueue({ ...delay, schedulingType: 'GPS_TIME' }, [], ['g1', 'g2'], T0, cfg);
    expect(gps.map((r) => r.schedulerRunAfterMs - T0)).toEqual([5000, 5000]);
    expect(gps.map((r) => r.emitAtGpsMs)).toEqual([unixMsToGpsMs(T0 + 5000), unixMsToGpsMs(T0 + 5000)]);
    expect(planEnqueue(delay, [], ['g1', 'g2'], T0, { ...cfg, classCMarginMs: 2000 }).map((r) => r.schedulerRunAfterMs - T0)).toEqual([0, 2000]);
  });

  it('ChirpStack v4.19: class B ping slots at the McAddr\'s AES ping offset (classb.rs reference values)', () => {
    expect(nextPingSlotAfter(0, 0, 1)).toBe(74_300);
    expect(nextPingSlotAfter(120_000, 0, 1)).toBe(185_620);
    expect(nextPingSlotAfter(0, 0, 2)).toBe(12_860);
    expect(nextPingSlotAfter(13_000, 0, 2)).toBe(74_300);
    expect(nextPingSlotAfter(124_000, 0, 128)).toBe(124_220);
    // rows run 2 scheduler intervals before the slot, after now + class B margin
    const [row] = planEnqueue({ groupType: 'CLASS_B', schedulingType: 'DELAY', mcAddr: 0x01ab23cd, pingNb: 8 }, [], ['g1'], T0, DEFAULT_SCHEDULER);
    expect(row!.emitAtGpsMs).toBe(nextPingSlotAfter(unixMsToGpsMs(T0 + 5000), 0x01ab23cd, 8));
    expect(gpsMsToUnixMs(row!.emitAtGpsMs!) - row!.schedulerRunAfterMs).toBe(2000);
  });

  it('ChirpStack v4.12 reads MulticastGroup field 14 as class_b_ping_slot_nb_k (2^k slots), v4.19 as periodicity (2^(7-p) slots)', async () => {
    expect(pingNbOf('4.19', 4)).toBe(8);
    expect(pingNbOf('4.12', 4)).toBe(16);
    expect(() => pingNbOf('4.19', 8)).toThrow(/field 14/);
    for (const version of ['4.12', '4.19'] as const) {
      const { cs, admin, appId } = await served({ version });
      const id = await admin.createMulticastGroup({
        name: 'b', applicationId: appId, region: 'EU868', mcAddr: 7, mcAppSKey: APP_S, mcNwkSKey: NWK_S, groupType: 'CLASS_B', dr: 3, frequencyHz: 869_525_000, pingSlotPeriodicity: 4,
      });
      expect(cs.groups.get(id)!.pingNb).toBe(version === '4.12' ? 16 : 8);
      expect((await admin.getMulticastGroup(id)).pingSlotPeriodicity).toBe(4);
    }
  });
});

/** A network of `n` devices and the given gateways (each with optional reach), in virtual time. */
function net(n: number, o: SimChirpStackOptions & { profile?: { macVersion: '1.0.3' | '1.1.0'; supportsClassC: boolean } } = {}, intervalMs = 60_000) {
  const cs = new SimChirpStack(o);
  const appId = cs.createApplication('sim');
  const dp = cs.createDeviceProfile({ name: 'p', ...(o.profile ?? { supportsClassC: false }) });
  const devices = Array.from({ length: n }, (_, i) => {
    cs.createDevice({ devEui: eui(i), applicationId: appId, deviceProfileId: dp, keys: { nwkKey: '', appKey: '', genAppKey: '00'.repeat(16) } });
    return new StubDevice(eui(i), intervalMs, T0 + 1000 + i * 10);
  });
  const events: SimUplinkEvent[] = [];
  const network = new SimNetwork({ clock: new ManualClock(T0), devices, chirpstack: cs, radio: new Radio({ seed: 1, loss: 0, badFraction: 0 }), out: { emit: (e) => events.push(e) } });
  const group = (over: { dr?: number; gateways?: string[]; schedulingType?: 'DELAY' | 'GPS_TIME' } = {}) => {
    const id = cs.createMulticastGroup({
      name: 'g', applicationId: appId, region: 'EU868', mcAddr: 0x01ab23cd, mcAppSKey: APP_S, mcNwkSKey: NWK_S, groupType: 'CLASS_C',
      dr: over.dr ?? 5, frequencyHz: 869_525_000, schedulingType: over.schedulingType ?? 'DELAY',
    });
    const g = cs.groups.get(id)!;
    for (const d of devices) g.devices.add(d.devEui);
    for (const gw of over.gateways ?? []) g.gateways.add(gw);
    return id;
  };
  return { cs, devices, network, events, group };
}

describe('ChirpStack v4.19 multicast sending through the simulated gateways', () => {
  it('ChirpStack v4.19: a queue item leaves ListQueue on the gateway TX ack, within about 1 s of its scheduled time', () => {
    const { cs, network, group } = net(1);
    const gid = group({ gateways: [DEFAULT_GATEWAY_ID] });
    network.advanceTo(T0 + 500);
    cs.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(1) });
    expect(cs.groups.get(gid)!.queue).toHaveLength(1);
    network.advanceTo(T0 + 1000); // scheduler tick: handed to the gateway
    expect(cs.groups.get(gid)!.queue).toHaveLength(1);
    network.advanceTo(T0 + 1100); // TX ack
    expect(cs.groups.get(gid)!.queue).toHaveLength(0);
    expect(network.lossRecord()[0]!.sent.map((s) => s.atMs)).toEqual([T0 + 1000]);
  });

  it('ChirpStack v4.19: an item larger than the DR allows is accepted at Enqueue and deleted at send time with a log line; the limit follows repeater_compatible', () => {
    expect(chirpstackMaxDlPayload('EU868', 5, false)).toBe(242);
    expect(chirpstackMaxDlPayload('EU868', 4, false)).toBe(222);
    expect(chirpstackMaxDlPayload('EU868', 5, true)).toBe(222);
    expect(chirpstackMaxDlPayload('EU868', 0, false)).toBe(51);
    expect(chirpstackMaxDlPayload('US915', 10, false)).toBe(242);
    expect(chirpstackMaxDlPayload('US915', 13, true)).toBe(222);
    expect(chirpstackMaxDlPayload('US915', 8, true)).toBe(53);
    for (const repeaterCompatible of [false, true]) {
      const { cs, network, group } = net(1, { repeaterCompatible });
      const gid = group({ gateways: [DEFAULT_GATEWAY_ID] });
      expect(cs.enqueueMulticast(gid, { fPort: 201, data: new Uint8Array(230) })).toBe(0);
      network.advanceTo(T0 + 60_000);
      const rec = network.lossRecord()[0]!;
      expect(rec.sent.map((s) => s.fCnt)).toEqual(repeaterCompatible ? [] : [0]);
      expect(rec.discarded).toEqual(repeaterCompatible ? [0] : []);
      expect(cs.groups.get(gid)!.queue).toEqual([]);
    }
  });

  it('ChirpStack v4.19: an item whose expires_at has passed when the scheduler picks it up is deleted, not sent', () => {
    const { cs, network, group } = net(1);
    const gid = group({ gateways: [DEFAULT_GATEWAY_ID] });
    cs.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(1), expiresAtMs: T0 + 60_000 });
    cs.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(2), expiresAtMs: T0 + 3000 });
    network.advanceTo(T0 + 60_000);
    const rec = network.lossRecord()[0]!;
    expect(rec.sent.map((s) => s.fCnt)).toEqual([0]);
    expect(rec.expired).toEqual([1]);
  });

  it('ChirpStack v4.19: rows wait while their gateway was not seen within 2 x stats interval, and go out when it is back', () => {
    const { cs, network, group } = net(1);
    const gid = group({ gateways: [DEFAULT_GATEWAY_ID] });
    cs.gateways.get(DEFAULT_GATEWAY_ID)!.setOnline(false, T0 - 120_000);
    cs.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(1) });
    network.advanceTo(T0 + 300_000);
    expect(network.lossRecord()[0]!.sent).toEqual([]);
    expect(cs.groups.get(gid)!.queue).toHaveLength(1);
    cs.gateways.get(DEFAULT_GATEWAY_ID)!.setOnline(true, T0 + 300_000);
    network.advanceTo(T0 + 302_000);
    expect(network.lossRecord()[0]!.sent.map((s) => s.atMs)).toEqual([T0 + 301_000]);
  });

  it('gateways enforce their own duty cycle per sub-band (ChirpStack v4.19 applies none): with 2 gateways each keeps its budget; a device hears a frame if one gateway that sent it reaches it', () => {
    const gateways = [
      { gatewayId: DEFAULT_GATEWAY_ID, region: 'EU868' as const, reaches: new Set([eui(0)]) },
      { gatewayId: GW2, region: 'EU868' as const, reaches: new Set([eui(1)]) },
    ];
    const { cs, network, group, devices } = net(2, { gateways });
    const gid = group({ dr: 0, gateways: [DEFAULT_GATEWAY_ID, GW2] });
    for (let n = 0; n < 2; n++) cs.enqueueMulticast(gid, { fPort: 201, data: new Uint8Array(45) });
    network.advanceTo(T0 + 120_000);
    const rec = network.lossRecord()[0]!;
    const toa = frameAirtimeMs('EU868', 0, 45, 'downlink');
    expect(toa / 0.1).toBeGreaterThan(10_000);
    // rows: gw1 @0, gw2 @5 s (f_cnt 0); gw1 @10 s, gw2 @15 s (f_cnt 1): each gateway's second frame breaks its g3 budget.
    expect(rec.sent.map((s) => [s.fCnt, s.gatewayId, s.atMs - T0])).toEqual([[0, DEFAULT_GATEWAY_ID, 0], [0, GW2, 5000]]);
    expect(rec.rejected.map((r) => [r.fCnt, r.gatewayId, r.status])).toEqual([[1, DEFAULT_GATEWAY_ID, 'DUTY_CYCLE_OVERLOAD'], [1, GW2, 'DUTY_CYCLE_OVERLOAD']]);
    expect(devices.map((d) => d.multicast)).toEqual([[0], [0]]);
    expect(cs.groups.get(gid)!.queue).toEqual([]);
  });

  it('ChirpStack v4.19: with 3 gateways, DELAY spaces one item over 3 margins; a device reached by two hears the f_cnt once', () => {
    const gateways = [DEFAULT_GATEWAY_ID, GW2, GW3].map((gatewayId) => ({ gatewayId, region: 'EU868' as const }));
    const { cs, network, group, devices } = net(1, { gateways });
    const gid = group({ gateways: [DEFAULT_GATEWAY_ID, GW2, GW3] });
    cs.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(1) });
    cs.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(2) });
    network.advanceTo(T0 + 60_000);
    const sent = network.lossRecord()[0]!.sent;
    expect(sent.map((s) => [s.fCnt, s.atMs - T0])).toEqual([[0, 0], [0, 5000], [0, 10000], [1, 15000], [1, 20000], [1, 25000]]);
    expect(devices[0]!.multicast).toEqual([0, 1]);
  });

  it('ChirpStack v4.19: GPS_TIME rows of all gateways emit at the same GPS instant, one margin after the scheduler run', () => {
    const gateways = [DEFAULT_GATEWAY_ID, GW2].map((gatewayId) => ({ gatewayId, region: 'EU868' as const }));
    const { cs, network, group } = net(1, { gateways });
    const gid = group({ gateways: [DEFAULT_GATEWAY_ID, GW2], schedulingType: 'GPS_TIME' });
    cs.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(1) });
    network.advanceTo(T0 + 60_000);
    expect(network.lossRecord()[0]!.sent.map((s) => s.atMs - T0)).toEqual([5000, 5000]);
  });
});

describe('ChirpStack v4.19 devices and uplinks', () => {
  it('ChirpStack v4.19: a LoRaWAN 1.0.x device whose profile supports class C is class C at join and gets unicast at once; a 1.1 device stays class A', () => {
    const c = net(1, { profile: { macVersion: '1.0.3', supportsClassC: true } }, 3_600_000);
    expect(c.cs.devices.get(eui(0))!.classEnabled).toBe('CLASS_C');
    c.network.advanceTo(T0 + 2000); // first uplink: ChirpStack now knows its gateway
    c.cs.devices.get(eui(0))!.queue.push({ id: 'x', fCnt: 0, fPort: 200, data: Uint8Array.of(7), confirmed: false });
    for (const l of c.cs.onDeviceEnqueue) l(eui(0));
    c.network.advanceTo(T0 + 10_000);
    expect(c.devices[0]!.unicast.map((u) => u.data)).toEqual([[7]]);
    expect(c.devices[0]!.uplinks).toHaveLength(1);

    const a = net(1, { profile: { macVersion: '1.1.0', supportsClassC: true } }, 3_600_000);
    expect(a.cs.devices.get(eui(0))!.classEnabled).toBe('CLASS_A');
    a.network.advanceTo(T0 + 2000);
    a.cs.devices.get(eui(0))!.queue.push({ id: 'x', fCnt: 0, fPort: 200, data: Uint8Array.of(7), confirmed: false });
    for (const l of a.cs.onDeviceEnqueue) l(eui(0));
    a.network.advanceTo(T0 + 10_000);
    expect(a.devices[0]!.unicast).toEqual([]);
  });

  it('ChirpStack v4.19: uplinks heard by a gateway without GPS carry no rxInfo.timeSinceGpsEpoch and the network server time after de-duplication; a GPS gateway gives both', () => {
    const plain = net(1);
    plain.network.advanceTo(T0 + 2000);
    const e = plain.events[0]!;
    const up = frameAirtimeMs('EU868', 5, 1, 'uplink');
    expect(e.timeMs).toBe(Math.round(T0 + 1000 + up + 200));
    const json = JSON.parse(uplinkEventJson(e)) as { rxInfo: Record<string, unknown>[] };
    expect(json.rxInfo[0]).not.toHaveProperty('timeSinceGpsEpoch');
    const gps = net(1, { gateways: [{ gatewayId: DEFAULT_GATEWAY_ID, region: 'EU868', gps: true }] });
    gps.network.advanceTo(T0 + 2000);
    expect(gps.events[0]!.timeMs).toBe(Math.round(T0 + 1000 + up));
    expect((JSON.parse(uplinkEventJson(gps.events[0]!)) as { rxInfo: Record<string, unknown>[] }).rxInfo[0]).toHaveProperty('timeSinceGpsEpoch');
  });

  it('an uplink no gateway reaches is lost and leaves no gateway history', () => {
    const { cs, network } = net(1, { gateways: [{ gatewayId: DEFAULT_GATEWAY_ID, region: 'EU868', reaches: new Set() }] });
    network.advanceTo(T0 + 2000);
    expect(network.uplinkStats).toEqual({ heard: 0, lost: 1 });
    expect(cs.devices.get(eui(0))!.lastGateways).toEqual([]);
  });
});

describe('lorafuota sim options (the settings ChirpStack and its gateways have)', () => {
  it('startSimulation passes version, gateway count, GPS and repeater_compatible to the simulated ChirpStack', async () => {
    const { startSimulation } = await import('../src/sim/runner.js');
    const sim = await startSimulation({
      devices: 2, seed: 1, loss: 0, host: '127.0.0.1', port: 0, time: { manual: true }, deviceClass: 'x', firmwareVersion: 0x010000, trustedKeys: [],
      chirpstackVersion: '4.12', gateways: 3, gatewayGps: true, repeaterCompatible: true,
    });
    try {
      expect(sim.provisioning.chirpstackVersion).toBe('4.12');
      expect(sim.provisioning.gatewayIds).toEqual([DEFAULT_GATEWAY_ID, GW2, GW3]);
      expect([...sim.chirpstack.gateways.values()].map((g) => g.gps)).toEqual([true, true, true]);
      expect(sim.chirpstack.repeaterCompatible).toBe(true);
      expect(sim.chirpstack.scheduler.classCMarginMs).toBe(5000);
    } finally {
      await sim.stop();
    }
  });
});
