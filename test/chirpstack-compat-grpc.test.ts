/**
 * The key-scope rows of the compatibility matrix (README §8): the worker's effects (workers/pipeline/effects.ts)
 * carried out over real gRPC against the simulated ChirpStack with an admin key and with a tenant-scoped key. The
 * group stage is re-run with every member already in (ChirpStack: INTERNAL "duplicate key"), the group is deleted
 * twice (admin: NOT_FOUND; tenant: UNAUTHENTICATED with an empty message, confirmed by a read of a device), keys
 * that cannot see the campaign fail loudly instead of being taken for "gone", a group without gateways whose
 * devices were never heard is refused, and the Class B ping-slot field follows --chirpstack-version.
 * No Redis: the store is a stub that records the step writes.
 */
import { groupSetUpEffects } from '../src/campaign/step-groups.js';
import type { Effect } from '../src/campaign/effects.js';
import type { DeviceState } from '../src/campaign/model.js';
import type { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { isAlreadyMember, isMaybeGone, isNotFound } from '../src/chirpstack/errors.js';
import { field14For, parseChirpStackVersion } from '../src/chirpstack/version.js';
import type { CampaignState } from '../src/campaign/state.js';
import { step } from '../src/campaign/step.js';
import { DEFAULT_TENANT_ID, SimChirpStack } from '../src/sim/chirpstack-server.js';
import type { StepWrite } from '../src/store/campaign-store.js';
import type { WorkerContext } from '../src/service/context.js';
import { carryOut, type Run } from '../src/service/pipeline/effects.js';
import { PipelineHarness, T0 } from './helpers/pipeline-harness.js';

function stubContext(chirpstack: ChirpStackClient): { ctx: WorkerContext; writes: StepWrite[]; released: string[] } {
  const writes: StepWrite[] = [];
  const released: string[] = [];
  const store = {
    commitStep: async (_id: string, w: StepWrite) => void writes.push(w),
    release: async (id: string) => void released.push(id),
  };
  const ctx: WorkerContext = {
    store: store as unknown as WorkerContext['store'],
    queue: {} as Queue,
    chirpstack,
    clock: { now: () => T0 },
    log: pino({ level: 'silent' }),
    timeMode: 'real',
    wallDelay: (ms) => ms,
    rootKeys: new Map(),
    close: async () => {},
  };
  return { ctx, writes, released };
}

/** The harness's campaign at the group stage (after prepare). */
function atGroupStage(h: PipelineHarness): CampaignState {
  h.stepOnce();
  expect(h.state.stage).toBe('group');
  return h.state;
}

/** The multicast group's set-up (create, fill) as the step asks for it once the devices are ready. */
async function groupStage(ctx: WorkerContext, state: CampaignState): Promise<Run> {
  const devices = new Map<string, DeviceState>(state.spec.devices.map((d) => [d.devEui, { p: 'ready', s: 'Pending', t: T0, lw: d.lorawan, g: 0 }]));
  const effects: Effect[] = [];
  groupSetUpEffects(state, 0, { devices } as unknown as Parameters<typeof groupSetUpEffects>[2], effects);
  const run: Run = { ctx, id: state.id, now: T0, state, written: state, devices: new Map() };
  await carryOut(run, effects);
  return run;
}

for (const scope of ['admin', 'tenant'] as const) {
  describe(`compatibility matrix, ${scope} key: group set-up and clean-up over gRPC`, () => {
    const h = new PipelineHarness({ devices: 5, loss: 0, seed: 500, gateways: 2 });
    let client: ChirpStackClient;
    let stub: ReturnType<typeof stubContext>;
    let port: number;

    beforeAll(async () => {
      port = await h.cs.listen('127.0.0.1', 0);
      const token = scope === 'admin' ? h.cs.apiToken : h.cs.createApiKey({ tenantId: DEFAULT_TENANT_ID });
      client = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: token, policy: { retries: 0 } });
      stub = stubContext(client);
    });
    afterAll(() => {
      client.close();
      h.cs.stop();
    });

    it('creates and fills the group, then re-runs the group stage with every member already in', async () => {
      const first = await groupStage(stub.ctx, atGroupStage(h));
      expect(first.state.groups[0].ready).toBe(true);
      const groupId = first.state.groups[0].groupId!;
      const g = h.cs.groups.get(groupId)!;
      expect(g.devices.size).toBe(5);
      expect(g.gateways.size).toBe(2);
      // What ChirpStack answers to a second AddDevice: INTERNAL duplicate key, recognised as "already a member".
      const dup = await client.addDeviceToMulticastGroup(groupId, [...g.devices][0]!).catch((e: unknown) => e);
      expect(dup).toMatchObject({ code: status.INTERNAL, details: 'duplicate key value violates unique constraint "multicast_group_device_pkey"' });
      expect(isAlreadyMember(dup)).toBe(true);
      // The set-up landed but its result was lost: carried out again with the group id kept.
      const again = await groupStage(stub.ctx, { ...first.state, groups: [{ ...first.state.groups[0], ready: false }] });
      expect(again.state.groups[0].ready).toBe(true);
      expect(again.state.groups[0].groupId).toBe(groupId);
      expect(h.cs.groups.size).toBe(1);
      expect(g.devices.size).toBe(5);
    });

    it('deletes the group; deleting it again is recognised as done by meaning, not by code', async () => {
      const groupId = [...h.cs.groups.keys()][0]!;
      const run: Run = { ctx: stub.ctx, id: h.state.id, now: T0, state: h.state, written: h.state, devices: new Map() };
      await carryOut(run, [{ kind: 'deleteGroup', group: 0, groupId }]);
      expect(h.cs.groups.size).toBe(0);
      const gone = await client.getMulticastGroup(groupId).catch((e: unknown) => e);
      if (scope === 'admin') {
        expect(gone).toMatchObject({ code: status.NOT_FOUND });
        expect(isNotFound(gone)).toBe(true);
      } else {
        // A tenant key cannot tell "absent" from "not yours": UNAUTHENTICATED, empty message.
        expect(gone).toMatchObject({ code: status.UNAUTHENTICATED, details: '' });
        expect(isNotFound(gone)).toBe(false);
      }
      expect(isMaybeGone(gone)).toBe(true);
      await carryOut(run, [{ kind: 'deleteGroup', group: 0, groupId }]);
    });

    it('a key that cannot see the campaign reports the clean-up as failed (cleanupFailed) instead of calling the group gone', async () => {
      const other = h.cs.createTenant('other');
      const keys = [h.cs.createApiKey({ tenantId: other }), 'not-a-key'];
      const groupId = h.cs.createMulticastGroup({
        name: 'kept', applicationId: h.state.spec.applicationId, region: 'EU868', mcAddr: 1, mcAppSKey: '00'.repeat(16), mcNwkSKey: '00'.repeat(16), groupType: 'CLASS_C', dr: 5, frequencyHz: 869_525_000,
      });
      for (const token of keys) {
        const c = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: token, policy: { retries: 0 } });
        const s = stubContext(c);
        const run: Run = { ctx: s.ctx, id: h.state.id, now: T0, state: h.state, written: h.state, devices: new Map() };
        await carryOut(run, [{ kind: 'deleteGroup', group: 0, groupId }]);
        const failed = s.writes.flatMap((w) => (w as { events?: Record<string, unknown>[] }).events ?? []).filter((ev) => ev.type === 'cleanupFailed');
        expect(failed).toEqual([expect.objectContaining({ call: 'deleteMulticastGroup', groupId, error: expect.stringMatching(/UNAUTHENTICATED/) })]);
        c.close();
      }
      expect(h.cs.groups.has(groupId)).toBe(true);
      h.cs.groups.delete(groupId);
    });
  });
}

describe('no silent loss over gRPC', () => {
  it('refuses a group without gateways whose devices ChirpStack never heard: failed, group deleted, released', async () => {
    const h = new PipelineHarness({ devices: 4, loss: 0, seed: 501, gateways: 1, namedGateways: false });
    const port = await h.cs.listen('127.0.0.1', 0);
    const client = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: h.cs.createApiKey({ tenantId: DEFAULT_TENANT_ID }), policy: { retries: 0 } });
    try {
      const stub = stubContext(client);
      const run = await groupStage(stub.ctx, atGroupStage(h));
      expect(run.state.stage).toBe('failed');
      expect(run.state.error).toMatch(/^multicast\.gatewayIds: empty, and none of the 4 devices has an uplink in ChirpStack/);
      expect(stub.writes.some((w) => w.stage?.stage === 'failed')).toBe(true);
      expect(stub.released).toEqual([h.state.id]);
      expect(h.cs.groups.size).toBe(0);
      // Once the devices were heard (last_seen_at set), the same group is accepted: ChirpStack picks their gateways.
      h.idle(10 * 60_000);
      expect((await client.getDevice(h.state.spec.devices[0]!.devEui)).lastSeenAtMs).toBeGreaterThan(T0);
      const ok = await groupStage(stub.ctx, h.state);
      expect(ok.state.groups[0].ready).toBe(true);
    } finally {
      client.close();
      h.cs.stop();
    }
  });
});

describe('--chirpstack-version: MulticastGroup field 14', () => {
  it('parses versions and maps the periodicity to nb_k before 4.13', () => {
    expect(parseChirpStackVersion('4.12')).toBe('4.12');
    expect(parseChirpStackVersion('v4.12.1')).toBe('4.12');
    expect(parseChirpStackVersion('4.13')).toBe('4.19');
    expect(parseChirpStackVersion('4.19.0')).toBe('4.19');
    expect(() => parseChirpStackVersion('5.0')).toThrow(/^chirpstack-version: expected a ChirpStack v4 version/);
    expect(() => parseChirpStackVersion('x', 'CHIRPSTACK_VERSION')).toThrow(/^CHIRPSTACK_VERSION:/);
    expect(field14For('4.12', 5)).toBe(2);
    expect(field14For('4.19', 5)).toBe(5);
  });

  for (const version of ['4.12', '4.19'] as const) {
    it(`a Class B group created for ChirpStack ${version} gets the ping slots of its periodicity`, async () => {
      const sim = new SimChirpStack({ version });
      const appId = sim.createApplication('b');
      const port = await sim.listen('127.0.0.1', 0);
      const right = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: sim.apiToken, chirpstackVersion: version });
      const wrong = new ChirpStackClient({ target: `127.0.0.1:${port}`, apiToken: sim.apiToken, chirpstackVersion: version === '4.12' ? '4.19' : '4.12' });
      try {
        const spec = { name: 'b', applicationId: appId, region: 'EU868' as const, mcAddr: 7, mcAppSKey: '00'.repeat(16), mcNwkSKey: '00'.repeat(16), groupType: 'CLASS_B' as const, dr: 3, frequencyHz: 869_525_000, pingSlotPeriodicity: 5 };
        const id = await right.createMulticastGroup(spec);
        // Periodicity 5: a ping slot every 32 s, 4 per 128 s beacon period.
        expect(sim.groups.get(id)!.pingNb).toBe(4);
        expect((await right.getMulticastGroup(id)).pingSlotPeriodicity).toBe(5);
        const bad = await wrong.createMulticastGroup(spec);
        expect(sim.groups.get(bad)!.pingNb).not.toBe(4);
      } finally {
        right.close();
        wrong.close();
        sim.stop();
      }
    });
  }
});
