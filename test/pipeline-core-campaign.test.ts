/**
 * The campaign pipeline's pure core driven in virtual time against the in-process simulated ChirpStack and radio
 * network (test/helpers/pipeline-harness.ts): no Redis, no gRPC, no wall clock.
 */
import { describe, expect, it } from 'vitest';
import type { Stage } from '../src/campaign/model.js';
import type { SimulatedDevice } from '../src/sim/types.js';
import { oracleFragments } from '../src/sim/oracle.js';
import { DeafUntil, PipelineHarness, T0 } from './helpers/pipeline-harness.js';

const TARGET = 0x01010000;

function fragmentCheck(h: PipelineHarness): { sent: number; oracle: number } {
  const ns = h.fragmentsOnAir();
  // On air exactly 1..N, none repeated.
  expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => i + 1));
  expect(h.state.groups[0].fragmentsSent).toBe(ns.length);
  const rec = h.net.lossRecord().find((g) => g.sent.some((f) => f.fragN !== undefined))!;
  const updated = [...h.devices].filter(([, d]) => d.s === 'Updated').map(([e]) => e);
  const { oracle } = oracleFragments({ record: rec, image: h.image, fragSize: h.state.groups[0].plan.fragSize, rule: h.state.groups[0].ruleVersion, devEuis: updated });
  return { sent: ns.length, oracle };
}

describe('a whole campaign in virtual time', () => {
  const h = new PipelineHarness({ devices: 50, loss: 0.2, seed: 11 });
  h.run();

  it('updates all 50 devices at 20 % loss and confirms the version they run', () => {
    expect(h.state.error ?? '').toBe(''); expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 50 });
    for (const d of h.sim) expect(d.state.runningVersion).toBe(TARGET);
    for (const d of h.devices.values()) expect([d.p, d.fw]).toEqual(['final', TARGET]);
  });

  it('goes through the stages in order', () => {
    const first = (s: Stage) => h.stages.indexOf(s);
    const order: Stage[] = ['group', 'setup', 'session', 'broadcast', 'status', 'apply', 'cleanup', 'done'];
    for (let i = 1; i < order.length; i++) expect(first(order[i - 1]!)).toBeLessThan(first(order[i]!));
    expect(h.stages.at(-1)).toBe('done');
  });

  it('sends fragments 1..N once each, no more than the oracle needs plus half', () => {
    const { sent, oracle } = fragmentCheck(h);
    expect(sent).toBeGreaterThanOrEqual(oracle);
    expect(sent).toBeLessThanOrEqual(Math.ceil(oracle * 1.5));
  });

  it('applies: every device asked to upgrade, reboot and report its version', () => {
    for (const eui of h.devices.keys()) {
      const types = h.unicastsTo(eui).flatMap((e) => e.commands.map((c) => c.type));
      for (const t of ['DevUpgradeImageReq', 'DevRebootCountdownReq', 'DevVersionReq', 'FragSessionDeleteReq', 'McGroupDeleteReq']) expect(types).toContain(t);
    }
  });

  it('reports, deletes the group and releases', () => {
    const report = h.events.find((e) => e.type === 'report')!;
    expect(report).toMatchObject({ devices: 50, updated: 50, failed: 0, fragmentsSent: h.state.groups[0].fragmentsSent });
    expect(h.cs.groups.size).toBe(0);
    expect(h.isReleased).toBe(true);
    h.idle(10 * 60_000);
    for (const d of h.sim) expect(d.state.groups).toEqual([]);
  });
});

describe("repair sizing at fleet scale (the demo's block and radio, 300 devices)", () => {
  // 24 KiB image (M = 104 fragments of 239 B), one gateway, LoRaMac-node and LBM v1 half and half, loss 0.1 (a tenth
  // of the devices at 0.2), devices uplinking every 5 minutes: as the demo.
  for (const seed of [3, 4]) {
    it(`seed ${seed}: every device updated, at most 10 % more fragments than the oracle, in at most 2 rounds`, () => {
      const h = new PipelineHarness({ devices: 300, loss: 0.1, seed, imageBytes: 24 * 1024, gateways: 1, marginMs: 2000, uplinkIntervalMs: 300_000 });
      h.run();
      expect(h.state.stage).toBe('done');
      expect(h.byStatus()).toEqual({ Updated: 300 });
      expect(h.state.groups[0].plan.nbFrag).toBe(104);
      const { sent, oracle } = fragmentCheck(h);
      expect(sent).toBeGreaterThanOrEqual(oracle);
      expect(sent).toBeLessThanOrEqual(Math.floor(oracle * 1.1));
      expect(h.state.groups[0].repair.rounds).toBeLessThanOrEqual(2);
    });
  }
});

describe('repair sizing by stack (TS004 v1 and v2 counters)', () => {
  const cases: [string, ConstructorParameters<typeof PipelineHarness>[0]][] = [
    ['LoRaMac-node (v1: cumulative lost uncoded)', { devices: 20, loss: 0.2, seed: 21, mix: { 'loramac-node': 1 } }],
    ['LoRa Basics Modem v1 (unknowns unsolved)', { devices: 20, loss: 0.2, seed: 22, mix: { 'lbm-v1': 1 } }],
    ['LoRa Basics Modem v2 (MIC, AckReception)', { devices: 20, loss: 0.2, seed: 23, mix: { 'lbm-v2': 1 }, spec: (s) => ({ ...s, fragmentation: { ...s.fragmentation, ts004Version: 2 } }) }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: every device updated, repair rounds sized near the oracle`, () => {
      const h = new PipelineHarness(o);
      h.run();
      expect(h.state.stage).toBe('done');
      expect(h.byStatus()).toEqual({ Updated: 20 });
      const repairs = h.events.filter((e) => e.type === 'repair');
      expect(repairs.length).toBeGreaterThan(0);
      expect(repairs.length).toBeLessThanOrEqual(12);
      const { sent, oracle } = fragmentCheck(h);
      expect(sent).toBeLessThanOrEqual(Math.ceil(oracle * 1.5));
    });
  }

  it('updates a mixed TS004 v1/v2 fleet in one campaign: one group per parity rule', () => {
    const h = new PipelineHarness({ devices: 9, loss: 0.1, seed: 6, mix: { 'lbm-v2': 2, 'lbm-v1': 1 }, spec: (s) => ({ ...s, fragmentation: { ...s.fragmentation, ts004Version: 2 } }) });
    h.run();
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 9 });
    expect(h.state.groups.map((g) => [g.key.rule, g.ruleVersion])).toEqual([[2, 2], [1, 1]]);
    for (const [eui, d] of h.devices) expect(d.g).toBe(h.stacks.get(eui) === 'lbm-v2' ? 0 : 1);
    const report = h.events.find((e) => e.type === 'report')!;
    const groups = report.groups as { key: string; devices: number; updated: number; fragmentsSent: number }[];
    expect(groups.map((g) => g.key)).toEqual(['EU868/C/v2', 'EU868/C/v1']);
    expect(groups.reduce((a, g) => a + g.updated, 0)).toBe(9);
    expect(report.fragmentsSent).toBe(groups.reduce((a, g) => a + g.fragmentsSent, 0));
    expect(h.cs.groups.size).toBe(0);
  });
});

describe('set-up stragglers', () => {
  it('sets the session without waiting for two late devices; they get a later start and are updated', () => {
    const late = new Set([3, 7]);
    const h = new PipelineHarness({ devices: 20, loss: 0.05, seed: 31, wrap: (d: SimulatedDevice, i) => (late.has(i) ? new DeafUntil(d, T0 + 10 * 60_000) : d) });
    const lateEuis = h.sim.filter((_, i) => late.has(i)).map((d) => d.devEui);
    h.run({ until: (x) => x.state.stage === 'session' });
    expect(h.state.stage).toBe('session');
    for (const eui of lateEuis) expect(['discover', 'fragSetup']).toContain(h.devices.get(eui)!.p);
    expect([...h.devices.values()].filter((d) => d.p === 'session' || d.p === 'ready' || d.p === 'listening').length).toBeGreaterThanOrEqual(18);
    h.run();
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 20 });
    // The late devices were offered the session once set up, starting no earlier than the fleet's (in their own
    // clock, once its error is known).
    for (const eui of lateEuis) {
      const req = h.unicastsTo(eui).flatMap((e) => e.commands).filter((c) => c.type === 'McClassCSessionReq').at(-1);
      if (req?.type !== 'McClassCSessionReq') throw new Error('no session request');
      const sk = h.devices.get(eui)!.sk ?? 0;
      expect(req.sessionTime + sk).toBeGreaterThanOrEqual(h.state.groups[0].session!.timeGps);
    }
  });
});

/** Drops the first unicast downlink starting with `cid` on `port` (a lost session request). */
class DropFirst implements SimulatedDevice {
  dropped = 0;
  constructor(readonly inner: SimulatedDevice, readonly port: number, readonly cid: number) {}
  get devEui(): string {
    return this.inner.devEui;
  }
  receiveUnicast(fPort: number, data: Uint8Array, nowMs: number): void {
    if (fPort === this.port && data[0] === this.cid && this.dropped === 0) {
      this.dropped++;
      return;
    }
    this.inner.receiveUnicast(fPort, data, nowMs);
  }
  receiveMulticast(...a: Parameters<SimulatedDevice['receiveMulticast']>): void {
    this.inner.receiveMulticast(...a);
  }
  nextUplinkAt(nowMs: number): number {
    return this.inner.nextUplinkAt(nowMs);
  }
  transmit(nowMs: number): ReturnType<SimulatedDevice['transmit']> {
    return this.inner.transmit(nowMs);
  }
}

describe('session retries', () => {
  it('re-sends a lost session request after the answer time-out, and the device is updated', () => {
    const wrapped: DropFirst[] = [];
    const h = new PipelineHarness({
      devices: 10,
      loss: 0,
      seed: 41,
      wrap: (d, i) => {
        if (i >= 2) return d;
        const w = new DropFirst(d, 200, 0x04);
        wrapped.push(w);
        return w;
      },
    });
    h.run();
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 10 });
    for (const w of wrapped) {
      expect(w.dropped).toBe(1);
      const sessions = h.unicastsTo(w.devEui).filter((e) => e.hex.startsWith('04'));
      expect(sessions.length).toBeGreaterThanOrEqual(2);
      expect(sessions.slice(1).some((e) => e.retry)).toBe(true);
    }
  });
});

describe('time-outs', () => {
  it('marks devices that never answer Timeout after the retries, and updates the rest', () => {
    const h = new PipelineHarness({ devices: 10, loss: 0.05, seed: 51, silentFraction: 0.3 });
    h.run();
    expect(h.state.stage).toBe('done');
    const silent = [...h.devices.values()].filter((d) => d.s === 'Timeout');
    expect(silent.length).toBeGreaterThan(0);
    for (const d of silent) expect(d.r).toBe('no answer on port 201 after 9 attempts (discover)');
    expect(silent.length + (h.byStatus().Updated ?? 0)).toBe(10);
  });
});

describe('cancel at every stage', () => {
  const stages: Stage[] = ['prepare', 'group', 'setup', 'session', 'broadcast', 'status', 'apply', 'cleanup'];
  for (const stage of stages) {
    it(`at ${stage}: devices Cancelled or final, group deleted, set-up devices drop session and group`, () => {
      const h = new PipelineHarness({ devices: 6, loss: 0.1, seed: 61 });
      h.run({ until: (x) => x.state.stage === stage });
      expect(h.state.stage).toBe(stage);
      const pendingBefore = [...h.devices.values()].filter((d) => d.s === 'Pending').length;
      h.requestCancel();
      h.run();
      expect(h.state.stage).toBe('cancelled');
      expect([...h.devices.values()].some((d) => d.s === 'Pending')).toBe(false);
      expect([...h.devices.values()].filter((d) => d.s === 'Cancelled').length).toBe(pendingBefore);
      expect(h.events.find((e) => e.type === 'cancelled')).toMatchObject({ devices: pendingBefore });
      expect(h.cs.groups.size).toBe(0);
      expect(h.isReleased).toBe(true);
      // Every set-up device was sent FragSessionDeleteReq and McGroupDeleteReq; they are sent once (fire and forget),
      // so a device whose request the radio loses keeps its group: at most one here, at 10 % loss.
      h.idle(15 * 60_000);
      expect(h.sim.filter((d) => d.state.groups.length > 0).length).toBeLessThanOrEqual(1);
    });
  }
});
