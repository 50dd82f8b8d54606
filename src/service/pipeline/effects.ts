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
import { status as grpcStatus } from '@grpc/grpc-js';
import { profileWarnings } from '../../chirpstack/profile-check.js';
import { onLanded } from '../../campaign/device-machine.js';
import type { Effect } from '../../campaign/effects.js';
import { onGroupCreated, onGroupReady, onMulticastIntent, onMulticastLanded } from '../../campaign/landing.js';
import { FINAL_STAGES, type DeviceState } from '../../campaign/model.js';
import type { CampaignState, McPending } from '../../campaign/state.js';
import { encodeDataFragment } from '../../codec/data-fragment.js';
import { stateDiff } from '../../store/campaign-state.js';
import type { StepWrite } from '../../store/campaign-store.js';
import type { WorkerContext } from '../context.js';
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

function isAlreadyExists(e: unknown): boolean {
  const code = (e as { code?: number }).code;
  return code === grpcStatus.ALREADY_EXISTS || /already exists/i.test(String((e as Error).message));
}

async function tolerateExisting(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
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
  switch (batch[0]!.kind) {
    case 'checkProfiles': {
      for (const e of batch) {
        if (e.kind !== 'checkProfiles') continue;
        const seen = new Set<string>();
        const events: Record<string, unknown>[] = [];
        // The devices' profile ids are read concurrently, in chunks; the profiles in the devices' order.
        for (let i = 0; i < e.devEuis.length && seen.size < 20; i += 256) {
          const chunk = e.devEuis.slice(i, i + 256);
          const ids = new Array<string>(chunk.length);
          await pMap(chunk.map((eui, k) => [eui, k] as const), 16, async ([eui, k]) => {
            ids[k] = (await cs.getDevice(eui)).deviceProfileId;
          });
          for (const id of ids) {
            if (seen.has(id)) continue;
            seen.add(id);
            const profile = await cs.getDeviceProfile(id);
            for (const warning of profileWarnings(profile, e.groupType)) events.push({ type: 'warning', warning });
            if (seen.size >= 20) break; // fleets share a handful of profiles; do not read every device
          }
        }
        if (events.length) await save(run, { events });
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
        await pMap(e.devEuis, 16, (eui) => tolerateExisting(() => cs.addDeviceToMulticastGroup(groupId, eui)));
        await pMap(e.gatewayIds, 4, (gw) => tolerateExisting(() => cs.addGatewayToMulticastGroup(groupId, gw)));
        const info = await cs.getMulticastGroup(groupId);
        run.state = onGroupReady(run.state, info.fCnt, run.now, e.group);
        await save(run, { stageExtra: { groupId } });
      }
      return;
    case 'unicast': {
      const landed = new Map<string, DeviceState>();
      await pMap(batch, 32, async (e) => {
        if (e.kind !== 'unicast') return;
        const bytes = Buffer.from(e.hex, 'hex');
        if (e.retry) {
          // Still queued from an earlier attempt (or an attempt cut short by a crash): do not send it twice.
          const q = await cs.getDeviceQueue(e.devEui);
          if (!q.some((x) => x.fPort === e.port && Buffer.from(x.data).toString('hex') === e.hex)) {
            await cs.enqueueDownlink(e.devEui, { fPort: e.port, data: bytes });
          }
        } else {
          await cs.enqueueDownlink(e.devEui, { fPort: e.port, data: bytes });
        }
        const st = run.devices.get(e.devEui);
        if (st?.o) landed.set(e.devEui, onLanded(st));
      });
      if (landed.size) {
        for (const [eui, st] of landed) run.devices.set(eui, st);
        await save(run, { devices: landed });
      }
      return;
    }
    case 'reply': {
      // One device's replies in order; devices concurrently.
      const byDevice = new Map<string, Effect[]>();
      for (const e of batch) if (e.kind === 'reply') byDevice.set(e.devEui, [...(byDevice.get(e.devEui) ?? []), e]);
      await pMap([...byDevice.values()], 16, async (list) => {
        for (const e of list) if (e.kind === 'reply') await cs.enqueueDownlink(e.devEui, { fPort: e.port, data: Buffer.from(e.hex, 'hex') });
      });
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
        const fCnt = await cs.enqueueMulticast(grp.groupId!, { fPort: port, data, expectFCnt: grp.mcFCnt });
        run.state = onMulticastLanded(run.state, pending, fCnt, gi);
        // The group's next frame's intent goes with this one's result.
        const following = firstPending([...batch.slice(k + 1), ...rest], gi);
        if (following) run.state = onMulticastIntent(run.state, following.pending, gi);
        await save(run);
      }
      return;
    }
    case 'flushDeviceQueue':
      await pMap(batch, 16, async (e) => {
        if (e.kind === 'flushDeviceQueue') await cs.flushDeviceQueue(e.devEui);
      });
      return;
    case 'deleteGroup':
      for (const e of batch) {
        if (e.kind !== 'deleteGroup') continue;
        let queued: unknown[];
        try {
          queued = await cs.listMulticastQueue(e.groupId);
        } catch (err) {
          if ((err as { code?: number }).code === grpcStatus.NOT_FOUND) continue; // deleted by an earlier attempt
          throw err;
        }
        // A group is never deleted with fragments still queued: flush first (they could not be sent after the session).
        if (queued.length) {
          ctx.log.info({ campaign: run.id, queued: queued.length }, 'flushing multicast queue before delete');
          await cs.flushMulticastQueue(e.groupId);
        }
        try {
          await cs.deleteMulticastGroup(e.groupId);
        } catch (err) {
          if ((err as { code?: number }).code !== grpcStatus.NOT_FOUND) throw err;
        }
      }
      return;
    case 'release':
      await ctx.store.release(run.id);
      dropEncoder(run.id);
      return;
  }
}
