/**
 * Carrying out a step's effects against ChirpStack, with their brackets:
 * - unicast requests are recorded in the device state (`o`, ok = false) by the step's write before they are
 *   enqueued, and marked landed (ok = true) after; an unlanded one is re-sent only if the device queue lacks it;
 * - every multicast frame is named in `mcPending` before the call, and its result (next frame counter, cursor,
 *   counters) is written after it; a worker that dies in between leaves `mcPending`, and the next step compares
 *   the group's frame counter in ChirpStack with `mcFCnt` to learn whether it landed (`settleMulticast`);
 * - the group is kept by id as soon as ChirpStack created it; adding a member that is already in is success;
 * - everything else (flushes, group deletion, clean-up replies, the release) is written as intents (`fx`) in the
 *   step's write and carried out again by the next step if the worker died before clearing them.
 */
import { isAlreadyMember, isMaybeGone, isNotFound } from '../../chirpstack/errors.js';
import { profileWarnings } from '../../chirpstack/profile-check.js';
import { silentLossCheck } from '../../campaign/group-check.js';
import { onLanded } from '../../campaign/device-machine.js';
import type { Effect } from '../../campaign/effects.js';
import { onDevicesMissing, onGroupCreated, onGroupReady, onMulticastIntent, onMulticastLanded } from '../../campaign/landing.js';
import { FINAL_STAGES, type DeviceState } from '../../campaign/model.js';
import type { CampaignState, McPending } from '../../campaign/state.js';
import { encodeDataFragment } from '../../codec/data-fragment.js';
import { stateDiff } from '../../store/campaign-state.js';
import type { StepWrite } from '../../store/campaign-store.js';
import type { WorkerContext } from '../context.js';
import { bestEffort, isDeviceFault, reasonOf } from './best-effort.js';
import { dropEncoder, encoderFor } from './encoders.js';
import { pMap } from './pmap.js';

/** A step being carried out: the state as it is now, and as it was last written. */
export interface Run {
  ctx: WorkerContext;
  id: string;
  now: number;
  state: CampaignState;
  written: CampaignState;
  /** Every device's state as this step left it (only those it read). */
  devices: Map<string, DeviceState>;
}

/** Writes the state changes since the last write, with whatever else the step writes, in one transaction. */
export async function save(run: Run, extra: Omit<StepWrite, 'fields' | 'stage'> & { stageExtra?: Record<string, unknown> } = {}): Promise<void> {
  const { stageExtra, ...rest } = extra;
  const s = run.state;
  const w: StepWrite = { fields: stateDiff(run.written, s), ...rest };
  if (s.stage !== run.written.stage) {
    w.stage = {
      stage: s.stage,
      ...(s.error !== undefined ? { error: s.error } : {}),
      deviceEuis: FINAL_STAGES.includes(s.stage) ? s.spec.devices.map((d) => d.devEui) : [],
      ...stageExtra,
    };
  }
  if (Object.keys(w.fields).length === 0 && !w.stage && !w.devices?.size && !w.events?.length && w.intents === undefined) return;
  await run.ctx.store.commitStep(run.id, w);
  run.written = s;
}

function pendingOf(e: Effect): McPending | undefined {
  if (e.kind === 'fragment') return { kind: 'frag', n: e.n };
  if (e.kind === 'statusRequest') return { kind: 'status', at: e.at };
  return undefined;
}

/** The first multicast frame of the effects (and its group), whose intent goes into the step's own write. */
export function firstPending(effects: readonly Effect[], group?: number): { pending: McPending; group: number } | undefined {
  for (const e of effects) {
    const p = pendingOf(e);
    if (p && (e.kind === 'fragment' || e.kind === 'statusRequest') && (group === undefined || e.group === group)) return { pending: p, group: e.group };
  }
  return undefined;
}

/** Adding a member that is already in (ChirpStack: INTERNAL "duplicate key", see src/chirpstack/errors.ts) is success. */
async function tolerateExisting(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!isAlreadyMember(e)) throw e;
  }
}

/**
 * Whether a failed call on the campaign's own group means the group is gone. NOT_FOUND says so; a tenant-scoped key
 * gets UNAUTHENTICATED with an empty message instead, which a key that lost its rights would get too: it is taken
 * as "gone" only when the same key still reads one of the campaign's devices (the group was created by this key in
 * that device's application, so the key may see it if it exists). Anything else is thrown: no loop on a group that
 * is still there.
 */
async function groupGone(run: Run, err: unknown): Promise<boolean> {
  if (isNotFound(err)) return true;
  if (!isMaybeGone(err)) return false;
  const probe = run.state.spec.devices[0]?.devEui;
  if (!probe) return false;
  try {
    await run.ctx.chirpstack.getDevice(probe);
    return true;
  } catch {
    return false;
  }
}

/** Deletes the campaign's group, flushing its queue first; a group already gone (by meaning, see groupGone) is success. */
async function deleteGroup(run: Run, groupId: string): Promise<void> {
  const cs = run.ctx.chirpstack;
  let queued: unknown[];
  try {
    queued = await cs.listMulticastQueue(groupId);
  } catch (err) {
    if (await groupGone(run, err)) return; // deleted by an earlier attempt
    throw err;
  }
  // A group is never deleted with fragments still queued: flush first (they could not be sent after the session).
  if (queued.length) {
    run.ctx.log.info({ campaign: run.id, queued: queued.length }, 'flushing multicast queue before delete');
    await cs.flushMulticastQueue(groupId);
  }
  try {
    await cs.deleteMulticastGroup(groupId);
  } catch (err) {
    if (!(await groupGone(run, err))) throw err;
  }
}

/** Wall-clock time allowed for the enqueue call to reach ChirpStack and for the clocks of the two hosts to differ. */
export const EXPIRY_ALLOWANCE_WALL_MS = 250;

/**
 * The `expires_at` of a fragment the step wants gone one interval after `stepExpiresAt - interval`: counted from
 * the enqueue itself (the step's time plus what the step took so far), plus an allowance for the call's latency and
 * clock skew, in wall time (on a scaled simulation clock a few wall milliseconds are seconds of simulated time).
 */
function expiryOf(run: Run, stepExpiresAt: number): number {
  const simPerWallMs = 1000 / Math.max(1e-6, run.ctx.wallDelay(1000));
  return stepExpiresAt + Math.max(0, run.ctx.clock.now() - run.now) + EXPIRY_ALLOWANCE_WALL_MS * simPerWallMs;
}

/** Carries out the effects in order; consecutive effects of one kind run concurrently. */
export async function carryOut(run: Run, effects: readonly Effect[]): Promise<void> {
  let i = 0;
  while (i < effects.length) {
    const kind = effects[i]!.kind;
    let j = i;
    while (j < effects.length && effects[j]!.kind === kind) j++;
    const batch = effects.slice(i, j);
    const next = effects.slice(j);
    i = j;
    await carryOutBatch(run, batch, next);
  }
}

async function carryOutBatch(run: Run, batch: Effect[], rest: Effect[]): Promise<void> {
  const { ctx } = run;
  const cs = ctx.chirpstack;
  const g = (gi: number) => run.state.groups[gi]!;
  const enqueueUnicast = async (e: Extract<Effect, { kind: 'unicast' }>, bytes: Uint8Array): Promise<void> => {
    if (e.retry) {
      // Still queued from an earlier attempt (or an attempt cut short by a crash): do not send it twice.
      const q = await cs.getDeviceQueue(e.devEui);
      if (q.some((x) => x.fPort === e.port && Buffer.from(x.data).toString('hex') === e.hex)) return;
    }
    await cs.enqueueDownlink(e.devEui, { fPort: e.port, data: bytes });
  };
  switch (batch[0]!.kind) {
    case 'checkProfiles': {
      for (const e of batch) {
        if (e.kind !== 'checkProfiles') continue;
        const seen = new Set<string>();
        const events: Record<string, unknown>[] = [];
        const missing = new Map<string, string>();
        // Every device is looked up (a device ChirpStack does not know fails alone, before anything is sent to it),
        // concurrently in chunks; the profiles are read once each, in the devices' order.
        for (let i = 0; i < e.devEuis.length; i += 256) {
          const chunk = e.devEuis.slice(i, i + 256);
          const ids = new Array<string | undefined>(chunk.length);
          await pMap(chunk.map((eui, k) => [eui, k] as const), 16, async ([eui, k]) => {
            try {
              ids[k] = (await cs.getDevice(eui)).deviceProfileId;
            } catch (err) {
              if (!isDeviceFault(err)) throw err;
              missing.set(eui, reasonOf('DeviceService.Get', err));
            }
          });
          for (const id of ids) {
            if (id === undefined || seen.has(id) || seen.size >= 20) continue; // fleets share a handful of profiles
            seen.add(id);
            const profile = await cs.getDeviceProfile(id);
            for (const warning of profileWarnings(profile, e.groupType)) events.push({ type: 'warning', warning });
          }
        }
        if (events.length) await save(run, { events });
        if (missing.size) await failDevices(run, missing);
      }
      return;
    }
    case 'createGroup':
      for (const e of batch) {
        if (e.kind !== 'createGroup' || g(e.group).groupId) continue;
        const groupId = await cs.createMulticastGroup(e.params);
        run.state = onGroupCreated(run.state, groupId, e.group);
        await save(run);
      }
      return;
    case 'fillGroup':
      for (const e of batch) {
        if (e.kind !== 'fillGroup') continue;
        const groupId = g(e.group).groupId!;
        const missing = new Map<string, string>();
        await pMap(e.devEuis, 16, async (eui) => {
          try {
            await tolerateExisting(() => cs.addDeviceToMulticastGroup(groupId, eui));
          } catch (err) {
            // A device ChirpStack does not know fails alone; the campaign goes on with the others.
            if (!isDeviceFault(err)) throw err;
            missing.set(eui, reasonOf('MulticastGroupService.AddDevice', err));
          }
        });
        if (missing.size) await failDevices(run, missing);
        await pMap(e.gatewayIds, 4, (gw) => tolerateExisting(() => cs.addGatewayToMulticastGroup(groupId, gw)));
        if (e.gatewayIds.length === 0) {
          // No gateways of its own: ChirpStack sends through the gateways that heard the members last, and stores
          // nothing (while advancing f_cnt) when none did. Refuse before any fragment rather than lose them all.
          const seen: { devEui: string; lastSeenAtMs?: number | undefined }[] = [];
          await pMap(e.devEuis, 16, async (eui) => void seen.push({ devEui: eui, lastSeenAtMs: (await cs.getDevice(eui)).lastSeenAtMs }));
          const check = silentLossCheck(e.gatewayIds, seen);
          if (check.warning) await save(run, { events: [{ type: 'warning', warning: check.warning }] });
          if (check.refuse) {
            // Failed, with the group's deletion and the release as intents of the same write: a worker that dies
            // after it finishes them in the next step instead of re-running the group stage on a deleted group.
            const fx: Effect[] = [{ kind: 'deleteGroup', group: e.group, groupId }, { kind: 'release' }];
            run.state = { ...run.state, stage: 'failed', error: check.refuse };
            await save(run, { intents: JSON.stringify(fx) });
            await carryOut(run, fx);
            await save(run, { intents: null });
            return;
          }
        }
        const info = await cs.getMulticastGroup(groupId);
        run.state = onGroupReady(run.state, info.fCnt, run.now, e.group);
        await save(run, { stageExtra: { groupId } });
      }
      return;
    case 'unicast': {
      const landed = new Map<string, DeviceState>();
      const missing = new Map<string, string>();
      await pMap(batch, 32, async (e) => {
        if (e.kind !== 'unicast') return;
        const bytes = Buffer.from(e.hex, 'hex');
        try {
          await enqueueUnicast(e, bytes);
        } catch (err) {
          if (!isDeviceFault(err)) throw err;
          missing.set(e.devEui, reasonOf('DeviceService.Enqueue', err));
          return;
        }
        const st = run.devices.get(e.devEui);
        if (st?.o) landed.set(e.devEui, onLanded(st));
      });
      if (landed.size) {
        for (const [eui, st] of landed) run.devices.set(eui, st);
        await save(run, { devices: landed });
      }
      if (missing.size) await failDevices(run, missing);
      return;
    }
    case 'reply': {
      // One device's replies in order; devices concurrently. Best effort: a reply that cannot be queued is left.
      const byDevice = new Map<string, Effect[]>();
      for (const e of batch) if (e.kind === 'reply') byDevice.set(e.devEui, [...(byDevice.get(e.devEui) ?? []), e]);
      const events: Record<string, unknown>[] = [];
      await pMap([...byDevice.values()], 16, async (list) => {
        for (const e of list) {
          if (e.kind !== 'reply') continue;
          const ev = await bestEffort({ call: 'enqueue', devEui: e.devEui, port: e.port }, () => cs.enqueueDownlink(e.devEui, { fPort: e.port, data: Buffer.from(e.hex, 'hex') }));
          if (ev) events.push(ev);
        }
      });
      if (events.length) await save(run, { events });
      return;
    }
    case 'fragment':
    case 'statusRequest': {
      const port = run.state.spec.ports.ts004;
      const fragIndex = run.state.spec.fragmentation.fragIndex;
      for (let k = 0; k < batch.length; k++) {
        const e = batch[k]!;
        if (e.kind !== 'fragment' && e.kind !== 'statusRequest') continue;
        const pending = pendingOf(e)!;
        const gi = e.group;
        const grp = g(gi);
        if (!grp.mcPending || JSON.stringify(grp.mcPending) !== JSON.stringify(pending)) {
          run.state = onMulticastIntent(run.state, pending, gi);
          await save(run);
        }
        const data =
          e.kind === 'fragment'
            ? encodeDataFragment(fragIndex, e.n, (await encoderFor(ctx, run.id, grp, gi)).fragment(e.n))
            : e.kind === 'statusRequest'
              ? Buffer.from(e.hex, 'hex')
              : new Uint8Array(0);
        const expiresAtMs = e.kind === 'fragment' && e.expiresAtMs !== undefined ? expiryOf(run, e.expiresAtMs) : undefined;
        const fCnt = await cs.enqueueMulticast(grp.groupId!, { fPort: port, data, expectFCnt: grp.mcFCnt, ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) });
        run.state = onMulticastLanded(run.state, pending, fCnt, gi);
        // The group's next frame's intent goes with this one's result.
        const following = firstPending([...batch.slice(k + 1), ...rest], gi);
        if (following) run.state = onMulticastIntent(run.state, following.pending, gi);
        await save(run);
      }
      return;
    }
    case 'flushDeviceQueue': {
      const events: Record<string, unknown>[] = [];
      await pMap(batch, 16, async (e) => {
        if (e.kind !== 'flushDeviceQueue') return;
        const ev = await bestEffort({ call: 'flushDeviceQueue', devEui: e.devEui }, () => cs.flushDeviceQueue(e.devEui));
        if (ev) events.push(ev);
      });
      if (events.length) await save(run, { events });
      return;
    }
    case 'deleteGroup': {
      const events: Record<string, unknown>[] = [];
      for (const e of batch) {
        if (e.kind !== 'deleteGroup') continue;
        // Flush, then delete; "gone" is recognised by meaning (deleteGroup). Best effort: a call that still fails after
        // its tries is reported as an event and the campaign ends anyway.
        const ev = await bestEffort({ call: 'deleteMulticastGroup', groupId: e.groupId }, () => deleteGroup(run, e.groupId));
        if (ev) events.push(ev);
      }
      if (events.length) await save(run, { events });
      return;
    }
    case 'release':
      await ctx.store.release(run.id);
      dropEncoder(run.id);
      return;
  }
}

/** Fails the devices ChirpStack refused, alone, with the reason (written at once with their events). */
async function failDevices(run: Run, missing: ReadonlyMap<string, string>): Promise<void> {
  const res = onDevicesMissing(run.devices, missing, run.now);
  for (const [eui, st] of res.devices) run.devices.set(eui, st);
  run.ctx.log.warn({ campaign: run.id, devices: [...missing.keys()] }, 'devices refused by ChirpStack failed alone');
  if (res.devices.size) await save(run, { devices: res.devices, events: res.events });
}
