/** The simulated network in other regions: multicast at the region's default channel, uplink channel and DR, RX1 DR. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/codec/clock.js';
import { decodeDownlinkFrame } from '../src/codec/lorawan-frame.js';
import { frameAirtimeMs, maxDownlinkAppPayload, regionDefaults, rx1DownlinkDr, subBandFor, type RegionName, type RegionOptions } from '../src/codec/region.js';
import { SimChirpStack } from '../src/sim/chirpstack-server.js';
import { SimNetwork } from '../src/sim/network.js';
import { Radio } from '../src/sim/radio.js';
import type { SimUplinkEvent } from '../src/sim/integration-out.js';
import type { MulticastFrame, SimulatedDevice, Uplink } from '../src/sim/types.js';

const T0 = Date.parse('2025-07-14T00:00:00Z');
const APP_S = 'dc6ca426806cdd74a62ba5877466f6b3';
const NWK_S = '1c73ee5210a98bf5843faf8264cf1114';
const key = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

class StubDevice implements SimulatedDevice {
  readonly multicast: { frame: MulticastFrame; at: number }[] = [];
  readonly unicast: { data: number[]; at: number }[] = [];
  private next: number;
  constructor(readonly devEui: string, private readonly intervalMs: number, firstAt: number) {
    this.next = firstAt;
  }
  receiveUnicast(_fPort: number, data: Uint8Array, nowMs: number): void {
    this.unicast.push({ data: [...data], at: nowMs });
  }
  receiveMulticast(frame: MulticastFrame, nowMs: number): void {
    this.multicast.push({ frame, at: nowMs });
  }
  nextUplinkAt(): number {
    return this.next;
  }
  transmit(nowMs: number): Uplink | null {
    this.next = nowMs + this.intervalMs;
    return { fPort: 202, data: Uint8Array.of(0x01, 0, 0, 0, 0, 0) };
  }
}

/** A DataFragment item of `size` payload bytes (plus the 3-byte header). */
const frag = (n: number, size: number) => Uint8Array.from([0x08, n & 0xff, (n >> 8) & 0x3f, ...Array.from({ length: size }, (_, i) => (n * 7 + i) & 0xff)]);

function run(region: RegionName, opts: { regionOptions?: RegionOptions; classCMarginMs: number; frames: number; enforceDutyCycle?: boolean }) {
  // One GNSS gateway of the region, with the duty-cycle enforcement of a real concentrator unless told otherwise.
  const gatewayId = '0016c001f153a14c';
  const cs = new SimChirpStack({ gateways: [{ gatewayId, region, gps: true, enforceDutyCycle: opts.enforceDutyCycle ?? true }] });
  const appId = cs.createApplication('sim');
  const dp = cs.createDeviceProfile({ name: 'p', region });
  const devices = [0, 1, 2].map((i) => {
    const devEui = (0x7100000000000000n + BigInt(i)).toString(16);
    cs.createDevice({ devEui, applicationId: appId, deviceProfileId: dp, keys: { nwkKey: '', appKey: '', genAppKey: '00'.repeat(16) }, classEnabled: 'CLASS_A' });
    return new StubDevice(devEui, 600_000, T0 + 1000 + i * 3000);
  });
  const events: SimUplinkEvent[] = [];
  const net = new SimNetwork({
    clock: new ManualClock(T0), devices, chirpstack: cs, radio: new Radio({ seed: 7, loss: 0, badFraction: 0 }),
    out: { emit: (e) => events.push(e) }, region, regionOptions: opts.regionOptions, classCMarginMs: opts.classCMarginMs,
  });
  const ch = regionDefaults(region).classC;
  const gid = cs.createMulticastGroup({
    name: 'g', applicationId: appId, region, mcAddr: 0x01ab23cd, mcAppSKey: APP_S, mcNwkSKey: NWK_S, groupType: 'CLASS_C',
    dr: ch.dr, frequencyHz: ch.frequencyHz, pingSlotPeriodicity: 0,
  });
  const g = cs.groups.get(gid)!;
  for (const d of devices) g.devices.add(d.devEui);
  g.gateways.add(gatewayId);
  const maxN = maxDownlinkAppPayload(region, ch.dr, opts.regionOptions);
  // `frames` full-size fragments, then one a byte too large (discarded at send time, as ChirpStack does).
  const items = [...Array.from({ length: opts.frames }, (_, n) => frag(n + 1, maxN - 3)), frag(99, maxN - 2)];
  for (const data of items) cs.enqueueMulticast(gid, { fPort: 201, data });
  // A unicast item answered in RX1 after each device's first uplink.
  for (const d of devices) cs.devices.get(d.devEui)!.queue.push({ id: '1', fCnt: 1, fPort: 200, data: Uint8Array.of(1, 2, 3), confirmed: false });
  net.advanceTo(T0 + 24 * 3_600_000);
  return { net, devices, events, ch, maxN, items };
}

describe('simulated network in other regions (virtual time)', () => {
  const cases: { region: RegionName; regionOptions?: RegionOptions; classCMarginMs: number; sf: number; bwHz: number; upHz: number; upDr: number; rx1: number; csId: string }[] = [
    { region: 'AS923-1', regionOptions: { dwellTime: true }, classCMarginMs: 0, sf: 7, bwHz: 125000, upHz: 923_200_000, upDr: 5, rx1: 5, csId: 'as923' },
    { region: 'IN865', classCMarginMs: 0, sf: 7, bwHz: 125000, upHz: 865_062_500, upDr: 5, rx1: 5, csId: 'in865' },
    { region: 'US915', classCMarginMs: 0, sf: 7, bwHz: 125000, upHz: 902_300_000, upDr: 3, rx1: 13, csId: 'us915' },
    { region: 'CN470', classCMarginMs: 2000, sf: 7, bwHz: 125000, upHz: 470_300_000, upDr: 5, rx1: 5, csId: 'cn470' },
    { region: 'RU864', classCMarginMs: 0, sf: 7, bwHz: 125000, upHz: 868_900_000, upDr: 5, rx1: 5, csId: 'ru864' },
  ];

  for (const c of cases) {
    it(`${c.region}: every member decodes every full-size fragment; spacing by time on air, margin and duty cycle; uplinks and RX1 on the region's channels`, () => {
      // A margin on ChirpStack's 1 s scheduler grid that keeps the band's duty cycle (ChirpStack applies none itself).
      const ch0 = regionDefaults(c.region).classC;
      const toa0 = frameAirtimeMs(c.region, ch0.dr, maxDownlinkAppPayload(c.region, ch0.dr, c.regionOptions), 'downlink', c.regionOptions);
      const margin = Math.max(c.classCMarginMs, Math.ceil(toa0 / subBandFor(c.region, ch0.frequencyHz).dutyCycle / 1000) * 1000);
      const { net, devices, events, ch, maxN, items } = run(c.region, { regionOptions: c.regionOptions, classCMarginMs: margin, frames: 4 });
      const rec = net.lossRecord()[0]!;
      expect(rec.discarded).toEqual([4]);
      expect(rec.sent.map((s) => s.fragN)).toEqual([1, 2, 3, 4]);
      const toa = frameAirtimeMs(c.region, ch.dr, maxN, 'downlink', c.regionOptions);
      const dc = subBandFor(c.region, ch.frequencyHz).dutyCycle;
      for (const s of rec.sent) expect(s.airtimeMs).toBeCloseTo(toa, 3);
      // ChirpStack v4.19 spaces class C items by its margin alone; the case's margin respects the band's duty cycle.
      expect(margin).toBeGreaterThanOrEqual(toa / dc);
      expect(rec.rejected).toEqual([]);
      for (let i = 1; i < 4; i++) expect(rec.sent[i]!.atMs - rec.sent[i - 1]!.atMs).toBeCloseTo(margin, 3);
      for (const d of devices) {
        expect(d.multicast.map((m) => m.frame.fCnt)).toEqual([0, 1, 2, 3]);
        const dec = decodeDownlinkFrame(d.multicast[2]!.frame.phyPayload, { appSKey: key(APP_S), nwkSKey: key(NWK_S), fCntFull: 2 });
        expect([...dec!.payload]).toEqual([...items[2]!]);
        expect(d.unicast.map((u) => u.data)).toEqual([[1, 2, 3]]);
      }
      expect(events[0]).toMatchObject({ frequencyHz: c.upHz, dr: c.upDr, sf: c.sf, bwHz: c.bwHz, regionConfigId: c.csId });
      expect(rx1DownlinkDr(c.region, c.upDr, 0, c.regionOptions)).toBe(c.rx1);
      const a = net.airtime();
      expect(a.unicasts).toBe(3);
      expect(a.unicastMs).toBeCloseTo(3 * frameAirtimeMs(c.region, c.rx1, 3, 'downlink', c.regionOptions), 3);
      expect(a.uplinkMs).toBeCloseTo(a.uplinks * frameAirtimeMs(c.region, c.upDr, 6, 'uplink'), 6);
    });
  }

  it('AS923-1 with the dwell limit sends 11-byte items at DR2 (370.688 ms each) and drops a 12-byte one', () => {
    const { net, maxN } = run('AS923-1', { regionOptions: { dwellTime: true }, classCMarginMs: 0, frames: 2, enforceDutyCycle: false });
    expect(maxN).toBe(11);
    expect(net.lossRecord()[0]!.sent.map((s) => s.airtimeMs)).toEqual([370.688, 370.688].map((x) => expect.closeTo(x, 3)));
    expect(net.lossRecord()[0]!.discarded).toEqual([2]);
  });

  it('RU864 at 1 %: with a 5 s margin the gateway refuses the second fragment (it would break the duty cycle)', () => {
    const { net } = run('RU864', { classCMarginMs: 5000, frames: 2 });
    const r = net.lossRecord()[0]!;
    // DR0, 51-byte FRMPayload: 2793.472 ms on air -> the sub-band is free again only 279,347.2 ms after the start.
    expect(r.sent.map((x) => x.fragN)).toEqual([1]);
    expect(r.rejected.map((x) => x.fCnt)).toEqual([1]);
  });
});
