import { describe, expect, it } from 'vitest';
import type { DeviceState } from '../src/campaign/model.js';
import { statusWaitMs } from '../src/campaign/repair-round.js';
import {
  ESTIMATED_SLACK,
  EXACT_SLACK,
  decodedLoRaMacNode,
  estimateDeficit,
  isCumulative,
  lossCap,
  repairCount,
  type StatusReport,
} from '../src/campaign/repair.js';
import { step } from '../src/campaign/step.js';
import { unixMsToGps } from '../src/codec/gpstime.js';
import { euiOf, handDevices, handState, NOW } from './helpers/hand-state.js';

describe('repair sizing', () => {
  it('holds a TS004 v2 device to the loss cap, like a v1 device', () => {
    // Counters read as 1 - 10/40 = 75 % loss; the fleet's cap is 20 %.
    const v2 = estimateDeficit({ ts004: 2, nbFragReceived: 10, missingFrag: 6, sentN: 40 }, 30, 0.2);
    expect(v2).toEqual({ deficit: 6, upper: 6, loss: 0.2 });
    expect(repairCount([v2], 100)).toBe(Math.ceil(7 / 0.8));
    const v1 = estimateDeficit({ ts004: 1, nbFragReceived: 10, missingFrag: 6, sentN: 40 }, 30, 0.2);
    expect(v1.loss).toBe(0.2);
    // Without a cap, the default ceiling (90 %) applies to both.
    expect(estimateDeficit({ ts004: 2, nbFragReceived: 1, missingFrag: 6, sentN: 40 }, 30).loss).toBe(0.9);
  });

  it("caps at 1.25 times the loss of the fleet's 95th percentile (5 % to 90 %)", () => {
    // Losses 0, 0.1, 0.2: the 95th percentile (lower index of 3) is 0.1.
    const reports = [0, 2, 4].map((lost) => ({ ts004: 2 as const, nbFragReceived: 40 - lost * 2, missingFrag: 0, sentN: 40 }));
    expect(lossCap(reports, 30)).toBeCloseTo(1.25 * (4 / 40));
    expect(lossCap(reports.slice(0, 1), 30)).toBe(0.05);
    expect(lossCap([{ ts004: 2, nbFragReceived: 8, missingFrag: 0, sentN: 40 }], 30)).toBe(0.9);
    expect(lossCap([], 30)).toBe(0.9);
  });
});

/** The demo's block: 24 KiB in 239-byte fragments. */
const M = 104;
const v1 = (nbFragReceived: number, missingFrag: number, sentN: number, o: Partial<StatusReport> = {}): StatusReport => ({ ts004: 1, nbFragReceived, missingFrag, sentN, ...o });

describe('repair sizing: TS004 v1 counters as each stack means them (M = 104)', () => {
  it('tells LoRaMac-node counters by their sum, and remembers it', () => {
    expect(isCumulative(v1(115, 11, 115))).toBe(true); // last N 115 + 11 uncoded lost > 115 sent
    expect(isCumulative(v1(105, 2, 115))).toBe(false); // LBM: last N - lost, unknowns unsolved
    expect(isCumulative(v1(121, 9, 142))).toBe(false);
    expect(isCumulative(v1(121, 9, 142, { cumulative: true }))).toBe(true);
    expect(isCumulative({ ts004: 2, nbFragReceived: 150, missingFrag: 9, sentN: 142 })).toBe(false);
  });

  it('LoRaMac-node still listening: uncoded losses less the coded fragments it should have heard', () => {
    // 31 uncoded lost (loss 0.30), 11 coded sent up to its last N: it heard about 7.7 of them -> 23 short.
    expect(estimateDeficit(v1(115, 31, 115), M)).toEqual({ deficit: 23, upper: 23, loss: 31 / 104 });
    // M = 100, 20 lost, 20 coded sent at 20 % loss: 16 heard -> 4 short.
    expect(estimateDeficit(v1(120, 20, 120), 100).deficit).toBe(4);
  });

  it('LoRaMac-node that stopped counting has decoded; unless it said it has no image since', () => {
    // Last N 121 while 142 were sent: 21 fragments lost in a row at 9 % loss is not credible; it decoded at 121.
    expect(estimateDeficit(v1(121, 9, 142, { cumulative: true }), M)).toMatchObject({ deficit: 0, frozen: true });
    // Gap 5 at loss 0.32 (p^5 = 0.3 %), after 48 coded fragments for 33 unknowns: decoded.
    expect(estimateDeficit(v1(152, 33, 157), M)).toMatchObject({ deficit: 0, frozen: true });
    // Decoded on the last fragment sent: 16 coded fragments for 4 unknowns.
    expect(estimateDeficit(v1(120, 4, 120), M).deficit).toBe(0);
    // A "no image" answer refutes the reading: still short, at least one equation.
    expect(estimateDeficit(v1(121, 9, 142, { cumulative: true, refuted: true }), M)).toEqual({ deficit: 1, upper: 1, loss: 9 / 104 });
  });

  it('LoRaMac-node whose window opened late: coded reception at most the cap, not its uncoded loss', () => {
    // Every uncoded fragment lost, 57 coded sent: read at the cap (0.38), it heard about 35 of them.
    expect(estimateDeficit(v1(161, 104, 161), M, 0.38)).toEqual({ deficit: 69, upper: 69, loss: 0.38 });
  });

  it('counters that add up to at most the N sent: LBM (exact unknowns), or a LoRaMac-node device that decoded early', () => {
    // As LBM: 28 lost, 27 solved from 38 coded sent at 73 % reception; as LoRaMac-node: 1 lost, decoded only at 114.
    expect(estimateDeficit(v1(114, 1, 142), M, 0.9, 0.1)).toMatchObject({ deficit: 1, upper: 1 });
    expect(estimateDeficit(v1(114, 1, 142), M, 0.9, 0.1).loss).toBeCloseTo(28 / 142, 9);
    expect(estimateDeficit(v1(109, 1, 115), M, 0.9, 0.1).deficit).toBe(1);
    expect(estimateDeficit(v1(78, 27, 115), M, 0.9, 0.1).deficit).toBe(27); // too few coded fragments to have decoded
    // As LBM: 28 lost (twice the fleet's loss), only 20 solved from 38 coded; as LoRaMac-node: 8 lost, decoded at 114.
    expect(decodedLoRaMacNode(v1(114, 8, 142), M, 0.1)).toBe(true);
    expect(estimateDeficit(v1(114, 8, 142), M, 0.9, 0.1)).toMatchObject({ deficit: 0, upper: 8, frozen: true });
    // 5 lost and none solved from 11 coded sent: a LoRaMac-node device that decoded at 110.
    expect(estimateDeficit(v1(110, 5, 115), M, 0.9, 0.1).deficit).toBe(0);
    // The same counters after a "no image": read as unknowns still unsolved.
    expect(estimateDeficit(v1(114, 8, 142, { refuted: true }), M, 0.9, 0.1).deficit).toBe(8);
  });

  it('both counters 0 after fragments were sent: nothing heard yet', () => {
    expect(estimateDeficit(v1(0, 0, 115), M).deficit).toBe(M);
    expect(estimateDeficit({ ts004: 2, nbFragReceived: 0, missingFrag: 0, sentN: 3 }, 2).deficit).toBe(2);
  });

  it('sizes an exact deficit with more slack than an estimated one (GF(2): the last unknowns take more equations)', () => {
    expect(EXACT_SLACK).toBe(2);
    expect(ESTIMATED_SLACK).toBe(1);
    expect(repairCount([{ deficit: 1, upper: 1, loss: 0.2, slack: EXACT_SLACK }], 100)).toBe(Math.ceil(3 / 0.8));
    expect(repairCount([{ deficit: 1, upper: 1, loss: 0.2 }], 100)).toBe(Math.ceil(2 / 0.8));
    // The worst device decides: 27 exact unknowns at its own loss 0.32 (within the cap) -> 43 fragments.
    const worst = { ...estimateDeficit(v1(78, 27, 115), M, 0.4, 0.1), slack: EXACT_SLACK };
    expect(repairCount([worst, { deficit: 23, upper: 23, loss: 31 / 104 }], 200)).toBe(Math.ceil(29 / (1 - 37 / 115)));
  });
});

describe('status round: silent devices and the wait', () => {
  // M = 20 (2000 B in 100-byte fragments), uplink interval 60 s, BlockAckDelay 0: answer window 16 s.
  const statusState = (over: Record<string, string | number> = {}) =>
    handState('status', {
      devices: 2,
      data: { statusAskedAt: NOW - 60_000, statusSentN: 23, nextN: 24, targetN: 23, bStartN: 1, sessionTimeGps: unixMsToGps(NOW), sessionStartMs: NOW, sessionEndMs: NOW + 3600_000, ...over },
    });
  const devices = (silent: Partial<DeviceState>, answered: [number, number, number] = [23, 0, 23]) => {
    const m = handDevices(2, { p: 'listening', v: [0, 1, 1, 1] });
    m.set(euiOf(0), { ...m.get(euiOf(0))!, fs: [answered[0], answered[1], 0, answered[2]] });
    m.set(euiOf(1), { ...m.get(euiOf(1))!, ...silent });
    return m;
  };

  it('waits the answer window plus 30 s (not 1.5 uplink intervals) when a device is silent', () => {
    const s = statusState({ statusAskedAt: NOW });
    expect(statusWaitMs(s.groups[0].plan, 60)).toBe(16_000 + 30_000);
    expect(statusWaitMs(s.groups[0].plan, 10)).toBe(16_000 + 15_000);
    const d = devices({});
    expect(step({ state: s, devices: d, answers: [], now: NOW + 45_000 }).state.stage).toBe('status');
    expect(step({ state: s, devices: d, answers: [], now: NOW + 46_000 }).state.stage).toBe('apply');
  });

  it('a group none of whose devices ever answered waits 1.5 uplink intervals (its request may be queued behind other groups)', () => {
    const s = statusState({ statusAskedAt: NOW, rounds: 1 });
    const d = handDevices(2, { p: 'listening', v: [0, 1, 1, 1] });
    expect(step({ state: s, devices: d, answers: [], now: NOW + 46_000 }).state.groups[0].status.askedAt).toBe(NOW);
    const r = step({ state: s, devices: d, answers: [], now: NOW + 16_000 + 90_000 });
    expect([r.state.stage, r.state.groups[0].repair.rounds]).toEqual(['status', 2]);
  });

  it('sizes a silent device by its last answer, less what it should have heard since, and asks it again', () => {
    // Its answer at N = 20 (LBM: 4 unknowns); 3 fragments sent since at loss <= 0.05 (the cap): about 1.15 short -> 2.
    const d = devices({ fs: [16, 4, 0, 20] });
    const r = step({ state: statusState(), devices: d, answers: [], now: NOW });
    expect(r.state.stage).toBe('broadcast');
    expect(r.state.groups[0].broadcast.targetN).toBe(23 + Math.ceil((2 + EXACT_SLACK) / (1 - 0.05)));
    expect(r.events.find((e) => e.type === 'repair')).toMatchObject({ devices: 1, worst: { devEui: euiOf(1), stale: true } });
    expect((r.devices.get(euiOf(1)) ?? d.get(euiOf(1))!).p).toBe('listening');
  });

  it('asks a silent device for its image directly when its last answer says it has decoded by now', () => {
    // 1 unknown at N = 20, 10 fragments sent since: about 8.5 more than it needed.
    const s = statusState({ statusSentN: 30, nextN: 31, targetN: 30 });
    const r = step({ state: s, devices: devices({ fs: [16, 1, 0, 20] }, [30, 0, 30]), answers: [], now: NOW });
    expect(r.state.stage).toBe('apply');
    expect(r.state.groups[0].repair.rounds).toBe(0);
    expect([...r.devices.values()].map((d) => d.p)).toEqual(['upgrade', 'upgrade']);
  });

  it('asks silent devices without an answer directly once every answering device is complete (twice at most)', () => {
    const r = step({ state: statusState(), devices: devices({}), answers: [], now: NOW });
    expect(r.state.stage).toBe('apply');
    expect(r.devices.get(euiOf(1))!.p).toBe('upgrade');
    // A device that said "no image" twice is asked by multicast again.
    const twice = devices({ np: 2 });
    const again = step({ state: statusState(), devices: twice, answers: [], now: NOW });
    expect([again.state.stage, again.state.groups[0].repair.rounds, (again.devices.get(euiOf(1)) ?? twice.get(euiOf(1))!).p]).toEqual(['status', 1, 'listening']);
  });
});
