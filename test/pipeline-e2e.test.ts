import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCampaign } from '../src/api/submit.js';
import { versionToU32 } from '../src/codec/image-header.js';
import { fragmentRecord } from '../workers/sim-env.js';
import { oracleFragments } from '../workers/oracle.js';
import { startCampaignEnv, waitForStage, type CampaignEnv } from './helpers/campaign-env.js';

describe('campaign pipeline against the simulated network', () => {
  let ce: CampaignEnv;
  let id: string;
  beforeAll(async () => {
    ce = await startCampaignEnv({ devices: 12, loss: 0.15, seed: 3 });
    ({ id } = await submitCampaign({ store: ce.store, queue: ce.workers[0]!.ctx.queue }, ce.env.spec));
    await waitForStage(ce.store, id, ['done'], 90_000);
  }, 120_000);
  afterAll(async () => ce?.close());

  it('updates every device and confirms the version it runs', async () => {
    const c = (await ce.store.get(id))!;
    expect(c.stage).toBe('done');
    const devs = await ce.store.devices(id);
    expect([...devs.values()].map((d) => d.s)).toEqual(Array(12).fill('Updated'));
    for (const d of ce.env.devices) expect(d.state.runningVersion).toBe(versionToU32('1.1.0'));
    for (const d of devs.values()) expect(d.fw).toBe(versionToU32('1.1.0'));
  });

  it('goes through every stage in order and reports', async () => {
    const ev = await ce.store.readEvents(id, '0', 0, 100_000);
    const stages = ev.filter((e) => e.type === 'stage').map((e) => e.stage as string);
    const firstAt = (s: string) => stages.indexOf(s);
    for (const [a, b] of [['group', 'setup'], ['setup', 'session'], ['session', 'broadcast'], ['broadcast', 'status'], ['status', 'apply'], ['apply', 'cleanup'], ['cleanup', 'done']]) {
      expect(firstAt(a!)).toBeGreaterThanOrEqual(0);
      expect(firstAt(a!)).toBeLessThan(firstAt(b!));
    }
    const report = ev.find((e) => e.type === 'report')!;
    expect(report.updated).toBe(12);
    expect(report.failed).toBe(0);
  });

  it('broadcast fragments in strictly ascending N, never twice, and no more than needed plus one round of slack', async () => {
    const rec = fragmentRecord(ce.env.network)!;
    const ns = rec.sent.filter((f) => f.fragN !== undefined).map((f) => f.fragN!);
    expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => i + 1));
    const c = (await ce.store.get(id))!;
    expect(Number(c.data.fragmentsSent)).toBe(ns.length);
    const plan = JSON.parse(c.data.plan!) as { fragSize: number; nbFrag: number };
    const { oracle } = oracleFragments({ record: rec, image: ce.env.image, fragSize: plan.fragSize, rule: 1, devEuis: ce.env.devices.map((d) => d.devEui) });
    expect(ns.length).toBeGreaterThanOrEqual(oracle);
    expect(ns.length).toBeLessThanOrEqual(Math.ceil(oracle * 1.5));
  });

  it('deletes the multicast group and leaves the devices without session or group', async () => {
    expect(ce.env.chirpstack.groups.size).toBe(0);
    for (const d of ce.env.devices) {
      expect(d.state.groups).toEqual([]);
    }
  });
});

describe('a Class B campaign (LoRa Basics Modem fleet)', () => {
  let ce: CampaignEnv;
  let id: string;
  beforeAll(async () => {
    ce = await startCampaignEnv({ devices: 6, loss: 0.1, seed: 4, mix: { 'lbm-v1': 1 } });
    const spec = { ...ce.env.spec, multicast: { ...ce.env.spec.multicast, groupType: 'B' as const, classBPeriodicity: 2 } };
    ({ id } = await submitCampaign({ store: ce.store, queue: ce.workers[0]!.ctx.queue }, spec));
    await waitForStage(ce.store, id, ['done'], 90_000);
  }, 120_000);
  afterAll(async () => ce?.close());

  it('updates every device, with fragments in ping slots at least one ping period (2^periodicity x 0.96 s) apart', async () => {
    const devs = await ce.store.devices(id);
    expect([...devs.values()].map((d) => d.s)).toEqual(Array(6).fill('Updated'));
    const sent = fragmentRecord(ce.env.network)!.sent.filter((f) => f.fragN !== undefined);
    // A ping period is 2^12 / pingNb slots of 30 ms (ChirpStack v4.19 classb.rs): 3.84 s at periodicity 2.
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.atMs - sent[i - 1]!.atMs).toBeGreaterThanOrEqual(3840);
  });
});

describe('a TS004 v2 campaign (MIC, AckReception) over a mixed fleet', () => {
  let ce: CampaignEnv;
  let id: string;
  beforeAll(async () => {
    ce = await startCampaignEnv({ devices: 9, loss: 0.1, seed: 6, mix: { 'lbm-v2': 2, 'lbm-v1': 1 } });
    const spec = { ...ce.env.spec, fragmentation: { ...ce.env.spec.fragmentation, ts004Version: 2 as const } };
    ({ id } = await submitCampaign({ store: ce.store, queue: ce.workers[0]!.ctx.queue }, spec));
    await waitForStage(ce.store, id, ['done'], 90_000);
  }, 120_000);
  afterAll(async () => ce?.close());

  it('updates the v2 and the v1 devices, each in a multicast group of its parity rule', async () => {
    const devs = await ce.store.devices(id);
    const v2 = ce.env.devices.filter((d) => ce.env.stacks.get(d.devEui) === 'lbm-v2').map((d) => d.devEui);
    expect(v2.length).toBeGreaterThan(0);
    expect(v2.length).toBeLessThan(9);
    for (const [eui, s] of devs) {
      expect(s.s).toBe('Updated');
      expect(s.g).toBe(v2.includes(eui) ? 0 : 1);
    }
    const c = (await ce.store.get(id))!;
    // Group 0 keeps the spec's key (not written while it is the default); the v1 devices' group is g1.
    expect([c.data.groups, JSON.parse(c.data.g1!).key]).toEqual(['2', 'EU868/C/v1']);
    expect(ce.env.chirpstack.groups.size).toBe(0);
  });
});
