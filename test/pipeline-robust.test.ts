/**
 * Reliability of the campaign pipeline's pure core (harness in virtual time, hand-built steps): a device ChirpStack
 * does not know fails alone; every path to a final stage cleans up; a step that keeps failing ends the campaign.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CampaignMsg } from '../src/api/proto.js';
import { prepareCampaign } from '../src/service/submit.js';
import { formatStatus } from '../src/cli/progress.js';
import { onAnswer } from '../src/campaign/device-machine.js';
import type { DeviceState } from '../src/campaign/model.js';
import { parseCampaignSpec, SpecError } from '../src/campaign/schema.js';
import { machineContext, step } from '../src/campaign/step.js';
import type { SimulatedDevice } from '../src/sim/types.js';
import { PipelineHarness } from './helpers/pipeline-harness.js';
import { euiOf, handDevices, handState, NOW } from './helpers/hand-state.js';

const UNKNOWN = 'ffffffffffff0001';

describe('one DevEUI ChirpStack does not know, among 20', () => {
  const h = new PipelineHarness({
    devices: 19,
    loss: 0.1,
    seed: 91,
    spec: (s) => ({ ...s, devices: [...(s.devices ?? []), { devEui: UNKNOWN }] }),
  });
  h.run();

  it('ends done with 19 Updated and the unknown one DeviceNotFound, with its reason', () => {
    expect(h.state.error ?? '').toBe('');
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 19, DeviceNotFound: 1 });
    const d = h.devices.get(UNKNOWN)!;
    expect(d).toMatchObject({ s: 'DeviceNotFound', p: 'final' });
    expect(d.r).toMatch(/NOT_FOUND/);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'device', devEui: UNKNOWN, status: 'DeviceNotFound' }));
    expect(h.unicastsTo(UNKNOWN)).toEqual([]);
  });

  it('does not look the failed device up again when the group stage is repeated', () => {
    const s = { ...h.state, stage: 'group' as const };
    const devices = new Map([...h.devices].map(([eui, d]) => [eui, eui === UNKNOWN ? d : { p: 'discover' as const, s: 'Pending' as const, t: h.now, lw: d.lw }]));
    const r = step({ state: s, devices, answers: [], now: h.now });
    const check = r.effects.find((e) => e.kind === 'checkProfiles');
    expect(check?.kind === 'checkProfiles' && check.devEuis).not.toContain(UNKNOWN);
    expect(check?.kind === 'checkProfiles' && check.devEuis.length).toBe(19);
  });
});

describe('a step that kept failing (abort)', () => {
  it('ends failed naming the error, with the clean-up of a cancel', () => {
    const s = { ...handState('broadcast', { devices: 2 }), abort: 'step failed 8 times in a row: boom' };
    const devices = handDevices(2, { p: 'listening' });
    const r = step({ state: s, devices, answers: [], now: NOW });
    expect(r.state.stage).toBe('failed');
    expect(r.state.error).toBe('step failed 8 times in a row: boom');
    expect(r.nextAt).toBeNull();
    expect(r.effects.map((e) => e.kind)).toEqual(['deleteGroup', 'flushDeviceQueue', 'flushDeviceQueue', 'reply', 'reply', 'reply', 'reply', 'release']);
    for (const d of r.devices.values()) expect(d).toMatchObject({ s: 'Cancelled', p: 'final', r: 'campaign failed: step failed 8 times in a row: boom' });
    expect(euiOf(0)).toBe([...r.devices.keys()][0]);
  });
});

describe('anti-rollback', () => {
  const h = new PipelineHarness({ devices: 2, loss: 0, seed: 95 });

  it('refuses at submission an image older than currentVersion, naming allowDowngrade; accepts it when allowed', () => {
    // The harness image is 1.1.0.
    expect(() => prepareCampaign({ ...h.spec, currentVersion: '1.2.0' })).toThrow(SpecError);
    expect(() => prepareCampaign({ ...h.spec, currentVersion: '1.2.0' })).toThrow(/^allowDowngrade: the image is version 1\.1\.0, older than currentVersion 1\.2\.0/);
    expect(prepareCampaign({ ...h.spec, currentVersion: '1.2.0', allowDowngrade: true }).targetVersion).toBe(0x01010000);
    expect(prepareCampaign({ ...h.spec, currentVersion: '1.1.0' }).targetVersion).toBe(0x01010000);
    expect(() => prepareCampaign({ ...h.spec, currentVersion: '1.2' })).toThrow(/currentVersion: expected "major.minor.patch"/);
  });

  it('accepts allowDowngrade in an example spec (a known key, not refused as unknown)', () => {
    const example = { ...(JSON.parse(readFileSync(new URL('../examples/class-c-eu868.json', import.meta.url), 'utf8')) as Record<string, unknown>), allowDowngrade: false };
    const parsed = parseCampaignSpec({ ...example, imageBase64: 'AA==' });
    expect(parsed.allowDowngrade).toBe(false);
  });

  it('fails a device that runs a newer version than the image DowngradeRefused at discovery, unless allowed', () => {
    const s = handState('setup', { devices: 1 });
    const dev: DeviceState = { p: 'discover', s: 'Pending', t: NOW, lw: '1.0', v: [0, 1, 1, 0], o: { port: 203, hex: '0001', at: NOW, n: 1, ok: true } };
    // (Both answers in one call for brevity; a device sends them in two frames, TS006 taking one command a frame.)
    const cmds = [
      { type: 'PackageVersionAns' as const, packageIdentifier: 4, packageVersion: 1 },
      { type: 'DevVersionAns' as const, fwVersion: 0x01020000, hwVersion: 0 },
    ];
    const refused = onAnswer(dev, 'ts006', cmds, machineContext(s, s.groups[0], NOW), NOW);
    expect(refused.state).toMatchObject({ s: 'DowngradeRefused', p: 'final', fw: 0x01020000 });
    expect(refused.state.r).toMatch(/running 1.2.0, newer than the image's 1.1.0/);
    const allowed = { ...s, spec: { ...s.spec, allowDowngrade: true } };
    expect(onAnswer(dev, 'ts006', cmds, machineContext(allowed, allowed.groups[0], NOW), NOW).state).toMatchObject({ s: 'Pending', p: 'fragSetup' });
    // The same version (a re-install) or an older one goes on.
    const same = [cmds[0]!, { ...cmds[1]!, fwVersion: 0x01000000 }];
    expect(onAnswer(dev, 'ts006', same, machineContext(s, s.groups[0], NOW), NOW).state).toMatchObject({ s: 'Pending', p: 'fragSetup' });
  });
});

/** Loses every uplink of the device on `port` that starts with command `cid` (the radio loses the answer). */
class LoseAnswers implements SimulatedDevice {
  lost = 0;
  constructor(
    readonly inner: SimulatedDevice,
    readonly port: number,
    readonly cid: number,
    readonly when: () => boolean = () => true,
  ) {}
  get devEui(): string {
    return this.inner.devEui;
  }
  receiveUnicast(fPort: number, data: Uint8Array, nowMs: number): void {
    this.inner.receiveUnicast(fPort, data, nowMs);
  }
  receiveMulticast(...a: Parameters<SimulatedDevice['receiveMulticast']>): void {
    this.inner.receiveMulticast(...a);
  }
  nextUplinkAt(nowMs: number): number {
    return this.inner.nextUplinkAt(nowMs);
  }
  transmit(nowMs: number): ReturnType<SimulatedDevice['transmit']> {
    const up = this.inner.transmit(nowMs);
    if (up && up.fPort === this.port && up.data[0] === this.cid && this.when()) {
      this.lost++;
      return null;
    }
    return up;
  }
}

describe('statuses under loss: a lost answer is said to be lost', () => {
  // Device 0 never gets its TS006 PackageVersionAns through; device 1 loses every DevRebootCountdownAns; device 2
  // every DevVersionAns once it runs the new version.
  const wrapped: LoseAnswers[] = [];
  const h = new PipelineHarness({
    devices: 6,
    loss: 0,
    seed: 99,
    wrap: (d, i) => {
      if (i > 2) return d;
      const sim = d as SimulatedDevice & { state: { runningVersion: number } };
      const w = new LoseAnswers(d, 203, [0x00, 0x03, 0x01][i]!, i === 2 ? () => sim.state.runningVersion === 0x01010000 : undefined);
      wrapped.push(w);
      return w;
    },
  });
  h.run();
  const eui = (i: number) => h.sim[i]!.devEui;

  it('the campaign ends with the others updated', () => {
    expect(h.state.stage).toBe('done');
    expect(wrapped.every((w) => w.lost > 0)).toBe(true);
    for (let i = 3; i < 6; i++) expect(h.devices.get(eui(i))!.s).toBe('Updated');
  });

  it('a TS006 device whose version answers were all lost is NoAnswer (discover), not PackageNotSupported', () => {
    const d = h.devices.get(eui(0))!;
    expect(d.s).toBe('NoAnswer');
    expect(d.r).toMatch(/^no PackageVersionAns on port 203 after \d+ attempts \(discover\)$/);
  });

  it('a device whose reboot answer was lost is asked its version and is Updated, not Timeout', () => {
    expect(h.devices.get(eui(1))).toMatchObject({ s: 'Updated', fw: 0x01010000 });
    expect(h.sim[1]!.state.runningVersion).toBe(0x01010000);
    expect(h.events).toContainEqual(expect.objectContaining({ devEui: eui(1), phase: 'verify', reason: expect.stringMatching(/no DevRebootCountdownAns after 1 attempts: asking the running version/) }));
  });

  it('a device whose version answers after the reboot were all lost is NoAnswer (verify), not Timeout', () => {
    const d = h.devices.get(eui(2))!;
    expect(h.sim[2]!.state.runningVersion).toBe(0x01010000);
    expect(d.s).toBe('NoAnswer');
    expect(d.r).toMatch(/^no DevVersionAns on port 203 after \d+ attempts \(verify\)$/);
  });
});

describe('a failing step in `campaign status`', () => {
  it('shows the last step error and how often it failed', () => {
    const c = {
      id: 'c1', name: 'n', stage: 'group', createdAt: 0, updatedAt: 0, error: '', applicationId: 'a', devicesTotal: 1,
      byStatus: {}, byPhase: {}, data: { lastError: 'chirpstack: Create: INTERNAL: database is down', stepErrors: '3' },
      progress: { devicesSetUp: 0, fragmentsSent: 0, fragmentsPlanned: 0, devicesUpdated: 0, devicesFinal: 0 }, devices: [],
    } as CampaignMsg;
    expect(formatStatus(c, 0)).toMatch(/^last error +chirpstack: Create: INTERNAL: database is down \(step failed 3 time\(s\) in a row; retried\)$/m);
  });
});

describe('anti-rollback per device when the fleet version is given', () => {
  const h = new PipelineHarness({ devices: 4, loss: 0.1, seed: 100, spec: (s) => ({ ...s, currentVersion: '1.0.0' }) });
  h.run();

  it('asks each device its running version at discovery, then updates it', () => {
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 4 });
    for (const eui of h.devices.keys()) {
      const asked = h.unicastsTo(eui).filter((e) => e.commands.some((c) => c.type === 'DevVersionReq'));
      expect(asked.length).toBeGreaterThanOrEqual(2); // at discovery and after the reboot
      expect(asked[0]!.commands).toEqual([{ type: 'DevVersionReq' }]);
    }
  });
});
