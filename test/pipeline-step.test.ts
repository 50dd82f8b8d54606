/** Unit tests of the pure campaign step's decisions, on hand-built states (no Redis, no network, no clock). */
import { describe, expect, it } from 'vitest';
import type { DeviceState, Stage } from '../src/campaign/model.js';
import { estimateDeficit, EXACT_SLACK } from '../src/campaign/repair.js';
import { onMulticastLanded, settleMulticast } from '../src/campaign/landing.js';
import { machineContext, step } from '../src/campaign/step.js';
import { gpsToUnixMs, unixMsToGps } from '../src/codec/gpstime.js';
import { parseCampaignState, serialiseCampaignState, StateError } from '../src/store/campaign-state.js';
import { euiOf, handDevices, handState, NOW } from './helpers/hand-state.js';

const answerTimeoutMs = 1.25 * 60_000 + 10_000;

describe('campaign state parse/serialise', () => {
  it('round-trips through the hash fields', () => {
    const s = handState('broadcast', { data: { nextN: 7, targetN: 30, bStartN: 1, bStartMs: NOW, mcPending: 'frag:7', statusAskedAt: '', lossCap: 0.12 } });
    expect(s.groups).toHaveLength(1);
    expect(s.groups[0].broadcast).toEqual({ startMs: NOW, startN: 1, nextN: 7, targetN: 30 });
    expect(s.groups[0].mcPending).toEqual({ kind: 'frag', n: 7 });
    expect(s.groups[0].status.askedAt).toBeUndefined();
    const h = serialiseCampaignState(s);
    expect(h.mcPending).toBe('frag:7');
    expect(h.lossCap).toBe('0.12');
    expect(h.statusAskedAt).toBe('');
  });

  it('names the field of bad input', () => {
    expect(() => handState('setup', { data: { nextN: 'x' } })).toThrow(StateError);
    expect(() => handState('setup', { data: { nextN: 'x' } })).toThrow(/nextN: not a number/);
    expect(() => handState('setup', { data: { mcPending: 'bogus:1' } })).toThrow(/mcPending/);
    expect(() => handState('setup', { data: { ruleVersion: 3 } })).toThrow(/ruleVersion: must be 1 or 2/);
    const s = handState('setup');
    expect(() => parseCampaignState({ id: 'x', name: 'x', stage: 'setup', createdAt: 0, updatedAt: 0, spec: s.spec, data: {} })).toThrow(/plan: missing/);
  });
});

describe('step: prepare and group', () => {
  it('takes McAddr and McKey from the caller at prepare, then asks for the group', () => {
    const s0 = handState('prepare', { data: { mcKey: '', mcAddr: '', groupId: '' } });
    expect(() => step({ state: s0, devices: new Map(), answers: [], now: NOW })).toThrow(/fresh/);
    const r = step({ state: s0, devices: new Map(), answers: [], now: NOW, fresh: { mcAddr: 0x11223344, mcKeyHex: 'ff'.repeat(16) } });
    expect(r.state.stage).toBe('group');
    expect(r.state.groups[0].mcAddr).toBe(0x11223344);
    expect(r.state.groups[0].mcKeyHex).toBe('ff'.repeat(16));
    expect(r.state.startedAtMs).toBe(NOW);
    // The group stage checks the profiles; the ChirpStack groups wait for the set-up to show which the fleet needs.
    const g = step({ state: { ...r.state, groups: [{ ...r.state.groups[0] }] }, devices: new Map(), answers: [], now: NOW });
    expect(g.effects.map((e) => e.kind)).toEqual(['checkProfiles']);
    expect(g.state.stage).toBe('setup');
    expect(g.state.setupStartedMs).toBe(NOW);
  });
});

describe('step: set-up', () => {
  const ready = (n: number) => handDevices(n, { p: 'ready', v: [0, 1, 1, 1] });

  it('sets the session once every device is ready, leaving room for the retries', () => {
    const s = handState('setup', { devices: 4, data: { setupStartedMs: NOW - 60_000 } });
    const r = step({ state: s, devices: ready(4), answers: [], now: NOW });
    expect(r.state.stage).toBe('session');
    const attempts = Math.min(3 + 1, 6);
    expect(r.state.groups[0].session!.timeGps).toBe(unixMsToGps(NOW + attempts * answerTimeoutMs + 60_000));
    expect(r.state.groups[0].session!.startMs).toBe(gpsToUnixMs(r.state.groups[0].session!.timeGps));
    // Each ready device is sent its session request, recorded as outstanding.
    expect(r.effects.filter((e) => e.kind === 'unicast')).toHaveLength(4);
    expect([...r.devices.values()].every((d) => d.p === 'session' && d.o?.n === 1 && !d.o.ok)).toBe(true);
    expect(r.nextAt).toBe(NOW);
    // The set-up showed one group: it is filled with the ready devices (created already: handState has its id).
    expect(r.effects.filter((e) => e.kind === 'createGroup' || e.kind === 'fillGroup').map((e) => e.kind)).toEqual(['fillGroup']);
    const fresh = step({ state: handState('setup', { devices: 4, data: { setupStartedMs: NOW - 60_000, groupId: '' } }), devices: ready(4), answers: [], now: NOW });
    const create = fresh.effects.find((e) => e.kind === 'createGroup');
    if (create?.kind !== 'createGroup') throw new Error('createGroup expected');
    expect(create.params.mcAddr).toBe(0x01ab23cd);
    expect(create.params.mcAppSKey).toHaveLength(16);
  });

  it('waits for stragglers until nine in ten are ready and 8 answer time-outs passed', () => {
    const devices = ready(10);
    const straggler = euiOf(9);
    devices.set(straggler, { p: 'discover', s: 'Pending', t: NOW, lw: '1.0', v: [0, 0, 1, 0], o: { port: 201, hex: '00', at: NOW - 1000, n: 1, ok: true } });
    const early = handState('setup', { devices: 10, data: { setupStartedMs: NOW - 8 * answerTimeoutMs + 1 } });
    expect(step({ state: early, devices, answers: [], now: NOW }).state.stage).toBe('setup');
    const late = handState('setup', { devices: 10, data: { setupStartedMs: NOW - 8 * answerTimeoutMs } });
    const r = step({ state: late, devices, answers: [], now: NOW });
    expect(r.state.stage).toBe('session');
    // Two of ten not ready: still waiting.
    devices.set(euiOf(8), devices.get(straggler)!);
    expect(step({ state: late, devices, answers: [], now: NOW }).state.stage).toBe('setup');
  });

  it('waits 4 answer time-outs only once 99 in 100 are ready', () => {
    const devices = ready(100);
    const lagging = { p: 'discover', s: 'Pending', t: NOW, lw: '1.0', v: [0, 0, 1, 0], o: { port: 201, hex: '00', at: NOW - 1000, n: 1, ok: true } } as const;
    devices.set(euiOf(99), { ...lagging, v: [0, 0, 1, 0] });
    const early = handState('setup', { devices: 100, data: { setupStartedMs: NOW - 4 * answerTimeoutMs + 1 } });
    expect(step({ state: early, devices, answers: [], now: NOW }).state.stage).toBe('setup');
    const later = handState('setup', { devices: 100, data: { setupStartedMs: NOW - 4 * answerTimeoutMs } });
    expect(step({ state: later, devices, answers: [], now: NOW }).state.stage).toBe('session');
    // Two of a hundred not ready: the 90 % rule applies (8 time-outs).
    devices.set(euiOf(98), { ...lagging, v: [0, 0, 1, 0] });
    expect(step({ state: later, devices, answers: [], now: NOW }).state.stage).toBe('setup');
  });

  it('fails when no device completed the set-up, and cleans up: devices told, group deleted, released', () => {
    const s = handState('setup', { devices: 3, data: { setupStartedMs: NOW - 60_000 } });
    // Two devices timed out in discovery; one was given the group and then refused the session (SessionCntReplay).
    const devices = handDevices(3, { p: 'final', s: 'Timeout' });
    devices.set(euiOf(2), { p: 'cleanup', s: 'SessionCntReplay', t: NOW, lw: '1.0', v: [0, 2, 2, 1] });
    const r = step({ state: s, devices, answers: [], now: NOW });
    expect(r.state.stage).toBe('failed');
    expect(r.state.error).toBe('no device completed the set-up');
    expect(r.nextAt).toBeNull();
    const kinds = r.effects.map((e) => e.kind);
    expect(kinds).toContain('deleteGroup');
    expect(kinds.at(-1)).toBe('release');
    expect(r.effects.filter((e) => e.kind === 'flushDeviceQueue')).toHaveLength(3);
    const told = r.effects.filter((e) => e.kind === 'reply').map((e) => (e.kind === 'reply' ? [e.devEui, e.commands[0]!.type] : []));
    expect(told).toEqual([[euiOf(2), 'FragSessionDeleteReq'], [euiOf(2), 'McGroupDeleteReq']]);
    expect(r.devices.get(euiOf(2))).toMatchObject({ s: 'SessionCntReplay', p: 'final' });
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'failed', error: 'no device completed the set-up' }));
  });

  it('sends McGroupSetupReq with the key from the inputs, and fails a device whose key could not be read', () => {
    const s = handState('setup', { devices: 2, data: { setupStartedMs: NOW } });
    const devices = handDevices(2, { p: 'discover', v: [0, 1, 0, 0] });
    const r = step({ state: s, devices, answers: [], now: NOW, rootKeys: new Map([[euiOf(0), new Uint8Array(16)]]), keyErrors: new Map([[euiOf(1), 'no GenAppKey']]) });
    const sent = r.effects.filter((e) => e.kind === 'unicast');
    expect(sent).toHaveLength(1);
    const first = sent[0]!;
    if (first.kind !== 'unicast') throw new Error('unicast expected');
    expect(first.commands.map((c) => c.type)).toEqual(['PackageVersionReq', 'McGroupSetupReq']);
    expect(r.devices.get(euiOf(1))).toMatchObject({ s: 'McGroupError', r: 'no GenAppKey', p: 'final' });
  });

  it('asks a new device for its TS004 version first, and puts a device of the other version in a group of its own', () => {
    const s = handState('setup', { devices: 2, data: { setupStartedMs: NOW } });
    const first = step({ state: s, devices: handDevices(1, { p: 'discover' }), answers: [], now: NOW });
    const ask = first.effects.find((e) => e.kind === 'unicast');
    expect(ask).toMatchObject({ pkg: 'ts004', commands: [{ type: 'PackageVersionReq' }] });
    const devices = handDevices(2, { p: 'discover', v: [0, 1, 0, 0] });
    devices.set(euiOf(1), { ...devices.get(euiOf(1))!, v: [0, 2, 0, 0] });
    const keys = new Map([[euiOf(0), new Uint8Array(16)], [euiOf(1), new Uint8Array(16)]]);
    const r = step({ state: s, devices, answers: [], now: NOW, rootKeys: keys });
    expect(r.state.groups.map((g) => `${g.key.region}/${g.key.groupType}/v${g.key.rule}`)).toEqual(['EU868/C/v1', 'EU868/C/v2']);
    expect([r.devices.get(euiOf(0))!.g, r.devices.get(euiOf(1))!.g]).toEqual([0, 1]);
    expect(r.state.groups[1]!.ruleVersion).toBe(2);
    expect(r.state.groups[1]!.mcAddr).not.toBe(r.state.groups[0].mcAddr);
    expect(r.state.groups[1]!.mcKeyHex).not.toBe(r.state.groups[0].mcKeyHex);
    const setups = r.effects.filter((e) => e.kind === 'unicast' && e.commands[1]?.type === 'McGroupSetupReq');
    expect(setups.map((e) => (e.kind === 'unicast' && e.commands[1]?.type === 'McGroupSetupReq' ? e.commands[1].mcAddr : 0))).toEqual([r.state.groups[0].mcAddr, r.state.groups[1]!.mcAddr]);
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'group', group: 1, key: 'EU868/C/v2' }));
    // The state keeps both groups through the store.
    const back = parseCampaignState({ id: 'c1', name: 'unit', stage: 'setup', createdAt: NOW, updatedAt: NOW, spec: s.spec, data: { ...serialiseCampaignState(r.state), plan: JSON.stringify(s.groups[0].plan), targetVersion: '1', ruleVersion: '1' } });
    expect(back.groups).toEqual(r.state.groups);
  });

  it('re-sends an unanswered request after the time-out, then gives up with Timeout', () => {
    const s = handState('setup', { devices: 2, data: { setupStartedMs: NOW } });
    const o = { port: 200, hex: '00', at: NOW - answerTimeoutMs - 1, n: 1, ok: true };
    const r = step({ state: s, devices: handDevices(1, { p: 'discover', o }), answers: [], now: NOW });
    expect(r.devices.get(euiOf(0))!.o).toMatchObject({ n: 2, ok: false, at: NOW });
    expect(r.effects).toEqual([expect.objectContaining({ kind: 'unicast', retry: true, hex: '00' })]);
    const out = step({ state: s, devices: handDevices(1, { p: 'discover', o: { ...o, n: 4 } }), answers: [], now: NOW });
    expect(out.devices.get(euiOf(0))).toMatchObject({ s: 'Timeout', p: 'final' });
  });
});

describe('step: session and broadcast', () => {
  it('sets up a ChirpStack group again until it is ready, and sends no frame before', () => {
    const start = NOW - 10_000;
    const session = { sessionTimeGps: unixMsToGps(start), sessionStartMs: start, sessionEndMs: start + 3600_000 };
    // A worker wrote the end of the set-up and died before creating the group.
    const s = handState('session', { devices: 2, data: { ...session, groupId: '', gReady: '0' } });
    const r = step({ state: s, devices: handDevices(2, { p: 'listening', v: [0, 1, 1, 1] }), answers: [], now: NOW });
    expect(r.effects.filter((e) => e.kind === 'createGroup' || e.kind === 'fillGroup').map((e) => e.kind)).toEqual(['createGroup', 'fillGroup']);
    const b = handState('broadcast', { devices: 2, data: { ...session, gReady: '0', nextN: 1, targetN: 20, bStartN: 1, bStartMs: NOW - 60_000 } });
    const rb = step({ state: b, devices: handDevices(2, { p: 'listening', v: [0, 1, 1, 1] }), answers: [], now: NOW });
    expect(rb.effects.filter((e) => e.kind === 'fragment')).toEqual([]);
    expect(rb.effects.map((e) => e.kind)).toContain('fillGroup');
  });

  it('starts the broadcast when the last compensated window opens (bounded by three time-outs)', () => {
    const start = NOW - 10_000;
    const session = { sessionTimeGps: unixMsToGps(start), sessionStartMs: start, sessionEndMs: start + 3600_000 };
    const s = handState('session', { devices: 2, data: session });
    const devices = handDevices(2, { p: 'listening', tts: [30, NOW - 5_000] });
    // One device opens at NOW + 25 s: wait.
    expect(step({ state: s, devices, answers: [], now: NOW }).state.stage).toBe('session');
    const r = step({ state: s, devices, answers: [], now: NOW + 25_000 });
    expect(r.state.stage).toBe('broadcast');
    expect(r.state.groups[0].broadcast).toEqual({ startMs: NOW + 25_000 + 1000, startN: 1, nextN: 1, targetN: s.groups[0].plan.nbFrag + s.groups[0].plan.initialCoded });
    // A device still being offered the session holds the broadcast back until the limit.
    const waiting = new Map(devices).set(euiOf(1), { p: 'session', s: 'Pending', t: NOW, lw: '1.0' } as DeviceState);
    expect(step({ state: s, devices: waiting, answers: [], now: NOW + 25_000 }).state.stage).toBe('session');
    expect(step({ state: s, devices: waiting, answers: [], now: start + 3 * answerTimeoutMs }).state.stage).toBe('broadcast');
  });

  it('asks for one fragment when it is due, with expires_at one interval later, never one ahead or already landed', () => {
    const s = handState('broadcast', { devices: 1, data: { bStartMs: NOW, bStartN: 1, nextN: 1, targetN: 23, lastDeviceStepMs: NOW } });
    const interval = s.groups[0].plan.fragmentIntervalMs;
    const frags = (r: ReturnType<typeof step>) => r.effects.filter((e) => e.kind === 'fragment');
    // Before the first is due: nothing, and the next step is due exactly then.
    const early = step({ state: s, devices: new Map(), answers: [], now: NOW - 100 });
    expect(frags(early)).toEqual([]);
    expect(early.nextAt).toBe(NOW);
    const r = step({ state: s, devices: new Map(), answers: [], now: NOW });
    expect(frags(r)).toEqual([{ kind: 'fragment', group: 0, n: 1, expiresAtMs: NOW + interval }]);
    expect(r.nextAt).toBe(NOW + interval);
    // Not landed yet (a crash): asked again, never the next one ahead of it.
    expect(frags(step({ state: r.state, devices: new Map(), answers: [], now: NOW + 10 }))).toMatchObject([{ n: 1 }]);
    const st = onMulticastLanded(r.state, { kind: 'frag', n: 1 }, 0);
    expect(st.groups[0].broadcast.nextN).toBe(2);
    expect(st.groups[0].fragmentsSent).toBe(1);
    expect(frags(step({ state: st, devices: new Map(), answers: [], now: NOW + interval - 1 }))).toEqual([]);
    expect(frags(step({ state: st, devices: new Map(), answers: [], now: NOW + interval }))).toMatchObject([{ n: 2, expiresAtMs: NOW + 2 * interval }]);
    // A late step sends one fragment, not a burst: the schedule slides to now, the next comes a whole interval later.
    const bit = step({ state: st, devices: new Map(), answers: [], now: NOW + interval + 700 });
    expect(bit.state.groups[0].broadcast).toMatchObject({ startMs: NOW + interval + 700, startN: 2 });
    expect(bit.nextAt).toBe(NOW + 2 * interval + 700);
    const late = step({ state: st, devices: new Map(), answers: [], now: NOW + 5 * interval });
    expect(frags(late)).toMatchObject([{ n: 2 }]);
    expect(late.state.groups[0].broadcast).toMatchObject({ startMs: NOW + 5 * interval, startN: 2 });
    expect(late.nextAt).toBe(NOW + 6 * interval);
  });

  it('goes to status one interval after the last fragment was due, and asks every receiver', () => {
    const s = handState('broadcast', { devices: 1, data: { bStartMs: NOW, bStartN: 1, nextN: 24, targetN: 23, lastDeviceStepMs: NOW } });
    const interval = s.groups[0].plan.fragmentIntervalMs;
    expect(step({ state: s, devices: new Map(), answers: [], now: NOW + 22 * interval }).state.stage).toBe('broadcast');
    const r = step({ state: s, devices: new Map(), answers: [], now: NOW + 23 * interval });
    expect(r.state.stage).toBe('status');
    const q = step({ state: r.state, devices: handDevices(1, { p: 'listening' }), answers: [], now: NOW + 23 * interval });
    const req = q.effects.find((e) => e.kind === 'statusRequest');
    expect(req).toMatchObject({ kind: 'statusRequest', at: NOW + 23 * interval, commands: [{ type: 'FragSessionStatusReq', fragIndex: 0, participants: true }] });
    expect(q.state.groups[0].status.sentN).toBe(23);
  });

  it('a multicast frame left in flight counts only if the group counter moved', () => {
    const s = handState('broadcast', { data: { mcPending: 'frag:5', mcFCnt: 10, nextN: 5, fragmentsSent: 4 } });
    const landed = settleMulticast(s, 11);
    expect(landed.landed).toBe(true);
    expect(landed.state.groups[0]).toMatchObject({ mcFCnt: 11, fragmentsSent: 5, broadcast: expect.objectContaining({ nextN: 6 }) });
    expect(landed.state.groups[0].mcPending).toBeUndefined();
    const lost = settleMulticast(s, 10);
    expect(lost.landed).toBe(false);
    expect(lost.state.groups[0]).toMatchObject({ mcFCnt: 10, fragmentsSent: 4, broadcast: expect.objectContaining({ nextN: 5 }) });
  });
});

describe('step: status round and repair sizing', () => {
  const statusState = (over: Record<string, string | number> = {}) =>
    handState('status', {
      devices: 2,
      data: { statusAskedAt: NOW - 1000, statusSentN: 23, nextN: 24, targetN: 23, bStartN: 1, sessionTimeGps: unixMsToGps(NOW), sessionStartMs: NOW, sessionEndMs: NOW + 3600_000, ...over },
    });

  it('sizes a repair round from LoRaMac-node counters (cumulative lost uncoded)', () => {
    const s = statusState();
    const nb = s.groups[0].plan.nbFrag; // 20
    const devices = handDevices(2, { p: 'listening', v: [0, 1, 1, 1], fs: [23, 0, 0, 23] });
    // Device 1 lost 5 uncoded and got the 3 coded at 25 % loss: deficit 5 - floor(3 * 0.75) = 3.
    devices.set(euiOf(1), { ...devices.get(euiOf(1))!, fs: [23, 5, 0, 23] });
    const r = step({ state: s, devices, answers: [], now: NOW });
    expect(nb).toBe(20);
    expect(r.state.stage).toBe('broadcast');
    expect(r.devices.get(euiOf(0))!.p).toBe('upgrade'); // complete, and asked DevUpgradeImageReq in the same step
    const repair = r.events.find((e) => e.type === 'repair')!;
    expect(repair).toMatchObject({ round: 1, devices: 1 });
    // Loss cap = max(5 %, 1.5 * median loss): the median of [0, 0.25] (lower index) is 0 -> cap 0.05.
    expect(r.state.groups[0].repair.lossCap).toBe(0.05);
    const est = estimateDeficit({ ts004: 1, nbFragReceived: 23, missingFrag: 5, sentN: 23 }, 20, 0.05);
    expect(r.state.groups[0].broadcast.targetN).toBe(23 + Math.ceil((est.deficit + 1) / (1 - est.loss)));
    expect(r.state.groups[0].broadcast.startN).toBe(24);
    expect(r.state.groups[0].repair.rounds).toBe(1);
  });

  it('reads LBM v1 counters (unknowns still unsolved) by the upper bound only after a "no image" answer', () => {
    const s = statusState();
    const devices = handDevices(2, { p: 'listening', v: [0, 1, 1, 1], fs: [20, 2, 0, 23] });
    const r = step({ state: s, devices, answers: [], now: NOW });
    expect(r.state.stage).toBe('broadcast');
    const est = estimateDeficit({ ts004: 1, nbFragReceived: 20, missingFrag: 2, sentN: 23 }, 20, r.state.groups[0].repair.lossCap);
    expect(est.upper).toBe(2);
    const withNp = handDevices(2, { p: 'listening', v: [0, 1, 1, 1], fs: [20, 2, 0, 23], np: 1 });
    const r2 = step({ state: s, devices: withNp, answers: [], now: NOW });
    expect(r2.state.groups[0].broadcast.targetN).toBeGreaterThanOrEqual(23 + 3);
  });

  it('takes the LBM lossless quirk (MissingFrag 1, NbFragReceived M) as done and asks the device', () => {
    const s = statusState();
    const r = step({ state: s, devices: handDevices(2, { p: 'listening', v: [0, 1, 1, 1], fs: [20, 1, 0, 23] }), answers: [], now: NOW });
    expect(r.state.stage).toBe('apply');
    expect([...r.devices.values()].every((d) => d.p === 'upgrade')).toBe(true);
    expect(r.effects.filter((e) => e.kind === 'unicast' && e.commands[0]?.type === 'DevUpgradeImageReq')).toHaveLength(2);
  });

  it('asks a LoRaMac-node device whose counters froze (DevUpgradeImageReq probe)', () => {
    const s = statusState({ statusSentN: 40, nextN: 41, targetN: 40 });
    const devices = handDevices(2, { p: 'listening', v: [0, 1, 1, 1], fs: [23, 6, 0, 40], pf: [23, 6, 30] });
    const r = step({ state: s, devices, answers: [], now: NOW });
    expect([...r.devices.values()].map((d) => d.p)).toEqual(['upgrade', 'upgrade']);
  });

  it('sizes TS004 v2 devices by their remaining unknowns, with the loss cap', () => {
    const s = statusState({ ruleVersion: 2 });
    const devices = handDevices(2, { p: 'listening', v: [0, 2, 2, 1], fs: [23, 0, 0, 23] });
    devices.set(euiOf(1), { ...devices.get(euiOf(1))!, fs: [10, 4, 0, 23] });
    const r = step({ state: s, devices, answers: [], now: NOW });
    // Loss of device 1 read from its counters is 1 - 10/23 = 0.57, but the cap (max(5 %, 2 * the 95th percentile,
    // here device 0's 0)) holds it; an exact deficit is sized with EXACT_SLACK extra equations.
    expect(r.state.groups[0].repair.lossCap).toBe(0.05);
    expect(r.state.groups[0].broadcast.targetN).toBe(23 + Math.ceil((4 + EXACT_SLACK) / (1 - 0.05)));
  });

  it('waits for the answers until the window is over, then asks silent devices again', () => {
    const s = statusState();
    const devices = handDevices(2, { p: 'listening', v: [0, 1, 1, 1] });
    expect(step({ state: s, devices, answers: [], now: NOW }).state.stage).toBe('status');
    const over = NOW - 1000 + s.groups[0].plan.statusWindowMs + 1.5 * 60_000;
    const r = step({ state: s, devices, answers: [], now: over });
    expect(r.state.stage).toBe('status');
    expect(r.state.groups[0].repair.rounds).toBe(1);
    expect(r.state.groups[0].status.askedAt).toBeUndefined();
  });

  it('fails devices without the image when rounds are exhausted (apply)', () => {
    const s = handState('apply', { devices: 2, data: { rounds: 6, targetN: 23, fragmentsSent: 23, sessionEndMs: NOW + 3600_000, sessionStartMs: NOW, sessionTimeGps: unixMsToGps(NOW) } });
    const devices = handDevices(2, { p: 'listening', v: [0, 1, 1, 1] });
    const r = step({ state: s, devices, answers: [], now: NOW });
    expect([...r.devices.values()].map((d) => [d.s, d.r])).toEqual(Array(2).fill(['MissingFragments', 'block not reassembled after 23 fragments']));
    expect(r.state.stage).toBe('cleanup');
    // With rounds left, the campaign goes back to a status round instead.
    const again = handState('apply', { devices: 2, data: { rounds: 1, targetN: 23, sessionEndMs: NOW + 3600_000, sessionStartMs: NOW, sessionTimeGps: unixMsToGps(NOW) } });
    expect(step({ state: again, devices, answers: [], now: NOW }).state.stage).toBe('status');
  });
});

describe('step: cancel and the end', () => {
  const stages: Stage[] = ['prepare', 'group', 'setup', 'session', 'broadcast', 'status', 'apply', 'cleanup'];
  for (const stage of stages) {
    it(`cancels at ${stage}: devices Cancelled, queues flushed, set-up devices told, group deleted`, () => {
      const s = { ...handState(stage, { devices: 3, data: stage === 'prepare' ? { groupId: '' } : {} }), cancel: true };
      const devices = new Map<string, DeviceState>([
        [euiOf(0), { p: 'discover', s: 'Pending', t: NOW, lw: '1.0' }],
        [euiOf(1), { p: 'listening', s: 'Pending', t: NOW, lw: '1.0', o: { port: 201, hex: '00', at: NOW, n: 1, ok: true } }],
        [euiOf(2), { p: 'final', s: 'Timeout', t: NOW, lw: '1.0' }],
      ]);
      const r = step({ state: s, devices, answers: [], now: NOW });
      expect(r.state.stage).toBe('cancelled');
      expect(r.nextAt).toBeNull();
      expect(r.devices.get(euiOf(0))).toMatchObject({ s: 'Cancelled', p: 'final', r: 'campaign cancelled' });
      expect(r.devices.get(euiOf(1))!.o).toBeUndefined();
      expect(r.devices.has(euiOf(2))).toBe(false);
      const kinds = r.effects.map((e) => e.kind);
      expect(kinds.filter((k) => k === 'flushDeviceQueue')).toHaveLength(3);
      expect(kinds.includes('deleteGroup')).toBe(stage !== 'prepare');
      expect(r.effects.filter((e) => e.kind === 'reply').map((e) => (e.kind === 'reply' ? [e.devEui, e.commands[0]!.type] : []))).toEqual([
        [euiOf(1), 'FragSessionDeleteReq'],
        [euiOf(1), 'McGroupDeleteReq'],
      ]);
      expect(kinds.at(-1)).toBe('release');
      expect(r.events.map((e) => e.type)).toEqual(['cancelled', 'report']);
    });
  }

  it('ends once every device is final: report, group deleted, release', () => {
    const s = handState('cleanup', { devices: 2, data: { fragmentsSent: 30, rounds: 2, airtimeMs: 1500 } });
    const r = step({ state: s, devices: handDevices(2, { p: 'final', s: 'Updated' }), answers: [], now: NOW });
    expect(r.state.stage).toBe('done');
    expect(r.nextAt).toBeNull();
    expect(r.effects.map((e) => e.kind)).toEqual(['deleteGroup', 'release']);
    expect(r.events).toEqual([expect.objectContaining({ type: 'report', devices: 2, updated: 2, fragmentsSent: 30, repairRounds: 2, airtimeSeconds: 1.5, simulatedSeconds: 3600 })]);
  });

  it('does nothing in a final stage', () => {
    const r = step({ state: handState('done'), devices: new Map(), answers: [], now: NOW });
    expect(r).toMatchObject({ effects: [], events: [], nextAt: null });
  });

  it('builds the device machine context from the typed state', () => {
    const s = handState('session', { data: { sessionTimeGps: 1_500_000_000, sessionStartMs: gpsToUnixMs(1_500_000_000), sessionEndMs: gpsToUnixMs(1_500_003_600), statusSentN: 9 } });
    const m = machineContext(s, s.groups[0], NOW);
    expect(m).toMatchObject({ mcAddr: 0x01ab23cd, sessionTimeGps: 1_500_000_000, sessionEndGps: 1_500_003_600, targetVersion: 0x01010000, statusSentN: 9, answerTimeoutMs });
  });
});
