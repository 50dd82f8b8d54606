import { describe, it, expect, afterEach } from 'vitest';
import { ManualClock, ScaledClock, type Clock } from '../src/codec/clock.js';
import { decodeDownlinkFrame } from '../src/codec/lorawan-frame.js';
import { frameAirtimeMs } from '../src/codec/region.js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { DEFAULT_GATEWAY_ID, SimChirpStack } from '../src/sim/chirpstack-server.js';
import { gpsMsToUnixMs, nextPingSlotAfter } from '../src/sim/multicast-scheduler.js';
import { unixMsToGpsMs } from '../src/codec/gpstime.js';
import { SimNetwork } from '../src/sim/network.js';
import { Radio, type RadioConfig } from '../src/sim/radio.js';
import type { SimUplinkEvent } from '../src/sim/integration-out.js';
import type { MulticastFrame, SimulatedDevice, Uplink } from '../src/sim/types.js';

const T0 = Date.parse('2025-07-14T00:00:00Z');
const APP_S = 'dc6ca426806cdd74a62ba5877466f6b3';
const NWK_S = '1c73ee5210a98bf5843faf8264cf1114';
const key = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

/** A tiny device: uplinks every `intervalMs` (first at `firstAt`), remembers what it heard. */
class StubDevice implements SimulatedDevice {
  readonly multicast: { frame: MulticastFrame; at: number }[] = [];
  readonly unicast: { fPort: number; data: number[]; at: number }[] = [];
  private next: number;
  sent = 0;
  constructor(readonly devEui: string, private readonly intervalMs: number, firstAt: number) {
    this.next = firstAt;
  }
  receiveUnicast(fPort: number, data: Uint8Array, nowMs: number): void {
    this.unicast.push({ fPort, data: [...data], at: nowMs });
  }
  receiveMulticast(frame: MulticastFrame, nowMs: number): void {
    this.multicast.push({ frame, at: nowMs });
  }
  nextUplinkAt(): number {
    return this.next;
  }
  transmit(nowMs: number): Uplink | null {
    this.next = nowMs + this.intervalMs;
    return { fPort: 202, data: Uint8Array.of(0x01, this.sent++ & 0xff, 0, 0, 0, 0) };
  }
}

const eui = (i: number) => (0x7000000000000000n + BigInt(i)).toString(16);

function world(n: number, radio: Partial<RadioConfig> = {}, intervalMs = 60_000, opts: { classCMarginMs?: number; clock?: Clock } = {}) {
  // One GPS gateway; class A devices (a 1.0.x class C profile would make them class C at join).
  const cs = new SimChirpStack({ gateways: [{ gatewayId: DEFAULT_GATEWAY_ID, region: 'EU868', gps: true }] });
  const appId = cs.createApplication('sim');
  const dp = cs.createDeviceProfile({ name: 'p', supportsClassC: false });
  const devices = Array.from({ length: n }, (_, i) => {
    cs.createDevice({ devEui: eui(i), applicationId: appId, deviceProfileId: dp, keys: { nwkKey: '', appKey: '', genAppKey: '00'.repeat(16) } });
    return new StubDevice(eui(i), intervalMs, T0 + 1000 + ((i * 7919) % intervalMs));
  });
  const events: SimUplinkEvent[] = [];
  const clock = opts.clock ?? new ManualClock(T0);
  const net = new SimNetwork({
    clock, devices, chirpstack: cs, radio: new Radio({ seed: 42, loss: 0, badFraction: 0, ...radio }),
    out: { emit: (e) => events.push(e) }, classCMarginMs: opts.classCMarginMs,
  });
  return { cs, appId, devices, net, events };
}

/** A group sent through the default gateway (explicitly added, so no uplink history is needed). */
function group(cs: SimChirpStack, appId: string, members: string[], over: { dr?: number; frequencyHz?: number; groupType?: 'CLASS_C' | 'CLASS_B'; pingSlotPeriodicity?: number } = {}): string {
  const id = cs.createMulticastGroup({
    name: 'g', applicationId: appId, region: 'EU868', mcAddr: 0x01ab23cd, mcAppSKey: APP_S, mcNwkSKey: NWK_S,
    groupType: over.groupType ?? 'CLASS_C', dr: over.dr ?? 5, frequencyHz: over.frequencyHz ?? 869_525_000, pingSlotPeriodicity: over.pingSlotPeriodicity ?? 0,
  });
  const g = cs.groups.get(id)!;
  for (const m of members) g.devices.add(m);
  g.gateways.add(DEFAULT_GATEWAY_ID);
  return id;
}

function enqueue(cs: SimChirpStack, groupId: string, items: Uint8Array[], fPort = 201): void {
  for (const data of items) cs.enqueueMulticast(groupId, { fPort, data });
}

const frag = (n: number, size = 40) => Uint8Array.from([0x08, n & 0xff, (n >> 8) & 0x3f, ...Array.from({ length: size }, (_, i) => (n + i) & 0xff)]);

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

describe('simulated network: class C multicast', () => {
  it('encrypts each queued item into a frame the device decodes with the group session keys, in f_cnt order', () => {
    const { cs, appId, net, devices } = world(3);
    const gid = group(cs, appId, devices.map((d) => d.devEui));
    enqueue(cs, gid, [1, 2, 3].map((n) => frag(n)));
    net.advanceTo(T0 + 600_000);
    for (const d of devices) {
      expect(d.multicast.map((m) => m.frame.fCnt)).toEqual([0, 1, 2]);
      const dec = d.multicast.map((m) => decodeDownlinkFrame(m.frame.phyPayload, { appSKey: key(APP_S), nwkSKey: key(NWK_S), fCntFull: m.frame.fCnt }));
      expect(dec.map((x) => [x!.devAddr, x!.fPort, [...x!.payload]])).toEqual([1, 2, 3].map((n) => [0x01ab23cd, 201, [...frag(n)]]));
      expect(decodeDownlinkFrame(d.multicast[0]!.frame.phyPayload, { appSKey: key(NWK_S), nwkSKey: key(APP_S), fCntFull: 0 })).toBeNull();
    }
    expect(cs.groups.get(gid)!.queue).toHaveLength(0);
    const rec = net.lossRecord()[0]!;
    expect(rec.sent.map((s) => s.fragN)).toEqual([1, 2, 3]);
    expect(Object.values(rec.received)).toEqual([[0, 1, 2], [0, 1, 2], [0, 1, 2]]);
  });

  it('ChirpStack v4.19: class C items are spaced by multicast_class_c_margin; the gateway, not ChirpStack, enforces the 10 % duty cycle of g3 and rejects', () => {
    const { cs, appId, net, devices } = world(1, {}, 60_000, { classCMarginMs: 5000 });
    const fast = group(cs, appId, [devices[0]!.devEui], { dr: 5 });
    enqueue(cs, fast, [0, 1, 2].map((n) => frag(n)));
    net.advanceTo(T0 + 3_600_000);
    const t = net.lossRecord()[0]!.sent.map((s) => s.atMs);
    // SF7 toa ≈ 0.1 s: duty-cycle off time ≈ 0.9 s < margin 5 s, so the margin rules.
    expect(t[1]! - t[0]!).toBe(5000);
    expect(t[2]! - t[1]!).toBe(5000);

    // margin 0 at SF12: both rows are due at once; the gateway's g3 budget is spent by the first and it refuses the
    // second (TX ack DUTY_CYCLE_OVERLOAD), and the ack deletes the row anyway.
    const w2 = world(1, {}, 60_000, { classCMarginMs: 0 });
    const slow = group(w2.cs, w2.appId, [w2.devices[0]!.devEui], { dr: 0 });
    enqueue(w2.cs, slow, [0, 1].map((n) => frag(n, 45)));
    w2.net.advanceTo(T0 + 3_600_000);
    const rec2 = w2.net.lossRecord()[0]!;
    const toa = frameAirtimeMs('EU868', 0, 48, 'downlink');
    expect(rec2.sent.map((x) => x.fCnt)).toEqual([0]);
    expect(rec2.sent[0]!.airtimeMs).toBeCloseTo(toa, 9);
    expect(rec2.rejected).toMatchObject([{ fCnt: 1, gatewayId: DEFAULT_GATEWAY_ID, status: 'DUTY_CYCLE_OVERLOAD' }]);
    expect(Object.values(rec2.received)).toEqual([[0]]);
    expect(w2.cs.groups.get(slow)!.queue).toEqual([]);
    expect(w2.net.airtime()).toMatchObject({ multicasts: 1 });
  });

  it('ChirpStack v4.19: class B items go out at the McAddr\'s ping slots (2^(7-periodicity) per beacon); an oversized item is accepted, then discarded at send time', () => {
    const { cs, appId, net, devices } = world(1);
    const gid = group(cs, appId, [devices[0]!.devEui], { groupType: 'CLASS_B', pingSlotPeriodicity: 3, dr: 0 });
    enqueue(cs, gid, [frag(0, 60), frag(1, 10)]);
    net.advanceTo(T0 + 600_000);
    const rec = net.lossRecord()[0]!;
    expect(rec.discarded).toEqual([0]);
    expect(rec.sent.map((s) => s.fCnt)).toEqual([1]);
    // Row 0: first slot after now + 5 s (class B margin); row 1: first slot after row 0's.
    const slot0 = nextPingSlotAfter(unixMsToGpsMs(T0 + 5000), 0x01ab23cd, 16);
    const slot1 = nextPingSlotAfter(slot0, 0x01ab23cd, 16);
    expect(rec.sent[0]!.atMs).toBe(gpsMsToUnixMs(slot1));
    expect(slot1 - slot0).toBeGreaterThan(0);
    expect(cs.log.some((l) => /f_cnt 0 because it exceeds max. payload size \(dr 0, max 51, size 63\)/.test(l))).toBe(true);
  });
});

describe('simulated network: radio loss is a pure function of (seed, device, frame)', () => {
  function run(radio: Partial<RadioConfig>, n = 20, frames = 200) {
    const { cs, appId, net, devices } = world(n, radio, 3_600_000);
    const gid = group(cs, appId, devices.map((d) => d.devEui));
    enqueue(cs, gid, Array.from({ length: frames }, (_, i) => frag(i, 10)));
    net.advanceTo(T0 + 86_400_000);
    return net.lossRecord()[0]!;
  }

  it('same seed, same outcome; another seed, another outcome; uniform loss near p', () => {
    const a = run({ loss: 0.2, seed: 7 });
    const b = run({ loss: 0.2, seed: 7 });
    const c = run({ loss: 0.2, seed: 8 });
    expect(b.received).toEqual(a.received);
    expect(c.received).not.toEqual(a.received);
    const heard = Object.values(a.received).reduce((s, r) => s + r.length, 0);
    expect(heard / (20 * 200)).toBeGreaterThan(0.75);
    expect(heard / (20 * 200)).toBeLessThan(0.85);
  });

  it('Gilbert-Elliott losses come in bursts with the same mean; bad devices lose much more', () => {
    const runs = (rec: ReturnType<typeof run>) => {
      let bursts = 0;
      let lost = 0;
      for (const got of Object.values(rec.received)) {
        const s = new Set(got);
        for (let f = 0; f < 200; f++) {
          if (!s.has(f)) {
            lost++;
            if (f === 0 || s.has(f - 1)) bursts++;
          }
        }
      }
      return { lost, meanBurst: lost / bursts };
    };
    const uni = runs(run({ loss: 0.2, model: 'uniform' }, 40));
    const ge = runs(run({ loss: 0.2, model: 'gilbert-elliott', burstLength: 6 }, 40));
    expect(uni.meanBurst).toBeLessThan(1.5);
    expect(ge.meanBurst).toBeGreaterThan(3.5);
    expect(ge.lost / (40 * 200)).toBeGreaterThan(0.12);
    expect(ge.lost / (40 * 200)).toBeLessThan(0.28);

    const radio = new Radio({ seed: 3, loss: 0.1, badFraction: 0.25, badFactor: 5 });
    const losses = Array.from({ length: 400 }, (_, i) => radio.deviceLoss(eui(i)));
    const bad = losses.filter((l) => l === 0.5).length;
    expect(losses.every((l) => l === 0.1 || l === 0.5)).toBe(true);
    expect(bad).toBeGreaterThan(70);
    expect(bad).toBeLessThan(130);
  });

  it('rejects bad radio parameters naming the field', () => {
    expect(() => new Radio({ seed: 1, loss: 1.5 })).toThrow(/^loss:/);
    expect(() => new Radio({ seed: 1.5, loss: 0 })).toThrow(/^seed:/);
    expect(() => new Radio({ seed: 1, loss: 0, model: 'x' as never })).toThrow(/^model:/);
  });
});

describe('simulated network: class A and uplinks', () => {
  it('delivers one queued downlink after each heard uplink; silent devices are never heard', () => {
    const { cs, net, devices, events } = world(4, { silentFraction: 0.5, seed: 11 }, 60_000);
    const radio = new Radio({ seed: 11, loss: 0, badFraction: 0, silentFraction: 0.5 });
    const silent = devices.filter((d) => radio.isSilent(d.devEui));
    const loud = devices.filter((d) => !radio.isSilent(d.devEui));
    expect(silent.length).toBeGreaterThan(0);
    expect(loud.length).toBeGreaterThan(0);
    for (const d of devices) {
      for (const b of [1, 2]) cs.devices.get(d.devEui)!.queue.push({ id: `${b}`, fCnt: b, fPort: 200, data: Uint8Array.of(b), confirmed: false });
    }
    net.advanceTo(T0 + 1000 + 60_000 * 3 - 1);
    for (const d of loud) {
      expect(d.unicast.map((u) => u.data)).toEqual([[1], [2]]);
      expect(d.unicast[1]!.at - d.unicast[0]!.at).toBeCloseTo(60_000, 0);
    }
    for (const d of silent) expect(d.unicast).toEqual([]);
    expect(new Set(events.map((e) => e.devEui))).toEqual(new Set(loud.map((d) => d.devEui)));
    const e = events[0]!;
    expect(e).toMatchObject({ fPort: 202, dr: 5, sf: 7, regionConfigId: 'eu868' });
    expect(events.filter((x) => x.devEui === e.devEui).map((x) => x.fCnt)).toEqual([0, 1, 2]);
    expect(net.uplinkStats.lost).toBe(silent.length * 3);
    expect(net.airtime().uplinks).toBe(12);
  });

  it('a device that owes an answer after a frame is rescheduled sooner', () => {
    const { cs, appId, net, devices, events } = world(1, {}, 3_600_000);
    const d = devices[0]!;
    const orig = d.receiveMulticast.bind(d);
    let answerAt = Infinity;
    d.receiveMulticast = (f, now) => {
      orig(f, now);
      answerAt = now + 100;
    };
    const base = d.nextUplinkAt.bind(d);
    d.nextUplinkAt = () => Math.min(base(), answerAt);
    const baseTx = d.transmit.bind(d);
    d.transmit = (now) => {
      if (now >= answerAt) answerAt = Infinity;
      return baseTx(now);
    };
    const gid = group(cs, appId, [d.devEui]);
    net.advanceTo(T0 + 10_000);
    enqueue(cs, gid, [frag(1)]);
    net.advanceTo(T0 + 3_600_000 + 500);
    const sentAt = net.lossRecord()[0]!.sent[0]!;
    const up = frameAirtimeMs('EU868', 5, 6, 'uplink');
    // first regular uplink, then the answer 100 ms after the frame ended (not an hour later); the stub then waits
    // a full interval again, so nothing else falls inside the window
    expect(events.map((e) => e.timeMs)).toEqual([Math.round(T0 + 1000 + up), Math.round(sentAt.atMs + sentAt.airtimeMs + 100 + up)]);
  });

  it('scales to 10,000 devices with one schedule (one simulated hour, 60,000 uplinks)', () => {
    const { net, events } = world(10_000, {}, 600_000);
    net.advanceTo(T0 + 1000 + 3_600_000 - 1);
    expect(events.length).toBe(60_000);
    expect(net.uplinkStats.heard).toBe(60_000);
  });
});

describe('simulated network in scaled real time over gRPC', () => {
  it('a multicast enqueued through the client is transmitted by the running network', async () => {
    const clock = new ScaledClock(T0, 1000);
    const { cs, appId, net, devices } = world(2, {}, 600_000, { clock, classCMarginMs: 5000 });
    const port = await cs.listen();
    const client = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: cs.apiToken });
    cleanup.push(() => { net.close(); client.close(); cs.stop(); });
    net.start();
    const gid = await client.createMulticastGroup({
      name: 'rt', applicationId: appId, region: 'EU868', mcAddr: 0x01ab23cd, mcAppSKey: APP_S, mcNwkSKey: NWK_S, groupType: 'CLASS_C', dr: 5, frequencyHz: 869_525_000,
    });
    for (const d of devices) await client.addDeviceToMulticastGroup(gid, d.devEui);
    await client.addGatewayToMulticastGroup(gid, DEFAULT_GATEWAY_ID);
    for (let n = 0; n < 4; n++) await client.enqueueMulticast(gid, { fPort: 201, data: frag(n) });
    const t = Date.now();
    while (devices[1]!.multicast.length < 4 && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 5));
    expect(devices.map((d) => d.multicast.map((m) => m.frame.fCnt))).toEqual([[0, 1, 2, 3], [0, 1, 2, 3]]);
    // The last row leaves the queue on its TX ack, just after the frame.
    while ((await client.listMulticastQueue(gid)).length > 0 && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 5));
    expect(await client.listMulticastQueue(gid)).toEqual([]);
    const sent = net.lossRecord()[0]!.sent;
    // In order, each on a scheduler run (1 s grid). The gaps depend on when each enqueue arrived: an item queued
    // behind another waits the margin, one enqueued after the queue had emptied goes at the next run (as in ChirpStack).
    for (let i = 1; i < 4; i++) expect(sent[i]!.atMs).toBeGreaterThan(sent[i - 1]!.atMs);
    for (const x of sent) expect((x.atMs - T0) % 1000).toBe(0);
  });
});
