/**
 * Multicast side of the pipeline: ChirpStack group creation and crash-safe enqueueing of multicast frames.
 *
 * Every multicast enqueue is bracketed: `mcPending` names the frame before the call, and the next frame counter
 * (`mcFCnt`) with the frame's effect is written after it. A worker that dies in between leaves `mcPending` set;
 * the next step compares the group's frame counter in ChirpStack with `mcFCnt` to learn whether it landed.
 */
import { randomBytes } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import { mcSessionKeys } from '../../src/codec/keys.js';
import { profileWarnings } from '../../src/chirpstack/profile-check.js';
import type { Plan } from '../../src/campaign/planner.js';
import type { CampaignRecord } from '../../src/store/campaign-store.js';
import type { WorkerContext } from '../context.js';
import { pMap } from './pmap.js';

export function randomMcAddr(): number {
  let a = 0;
  while (a === 0) a = randomBytes(4).readUInt32BE(0);
  return a;
}

function isAlreadyExists(e: unknown): boolean {
  const code = (e as { code?: number }).code;
  return code === grpcStatus.ALREADY_EXISTS || /already exists/i.test(String((e as Error).message));
}

/** Creates the ChirpStack multicast group with the derived session keys and adds devices and gateways. */
export async function createGroup(ctx: WorkerContext, c: CampaignRecord, plan: Plan): Promise<Record<string, string | number>> {
  const mcAddr = Number(c.data.mcAddr);
  const mcKey = Buffer.from(c.data.mcKey!, 'hex');
  let groupId = c.data.groupId;
  if (!groupId) {
    const { mcAppSKey, mcNwkSKey } = mcSessionKeys(mcKey, mcAddr);
    const m = c.spec.multicast;
    groupId = await ctx.chirpstack.createMulticastGroup({
      name: `lorafuota-${c.id}`,
      applicationId: c.spec.applicationId,
      region: m.region,
      mcAddr,
      mcAppSKey,
      mcNwkSKey,
      groupType: m.groupType === 'B' ? 'CLASS_B' : 'CLASS_C',
      dr: m.dr,
      frequencyHz: m.frequencyHz,
      schedulingType: 'DELAY',
      ...(m.groupType === 'B' ? { pingSlotPeriodicity: m.classBPeriodicity } : {}),
    });
    await ctx.store.setData(c.id, { groupId });
  }
  const add = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  };
  await pMap(c.spec.devices, 16, (d) => add(() => ctx.chirpstack.addDeviceToMulticastGroup(groupId, d.devEui)));
  await pMap(c.spec.multicast.gatewayIds, 4, (g) => add(() => ctx.chirpstack.addGatewayToMulticastGroup(groupId, g)));
  const info = await ctx.chirpstack.getMulticastGroup(groupId);
  return { groupId, mcFCnt: info.fCnt, fragAirMs: plan.fragmentAirtimeMs * c.spec.multicast.gatewayCount };
}

/**
 * Device profiles that would make ChirpStack run TS003/TS004/TS005 itself (competing with this service), or that
 * lack the session's class: one warning per profile, recorded as campaign events.
 */
export async function checkProfiles(ctx: WorkerContext, c: CampaignRecord): Promise<string[]> {
  const seen = new Set<string>();
  const warnings: string[] = [];
  for (const d of c.spec.devices) {
    const dev = await ctx.chirpstack.getDevice(d.devEui);
    if (seen.has(dev.deviceProfileId)) continue;
    seen.add(dev.deviceProfileId);
    const profile = await ctx.chirpstack.getDeviceProfile(dev.deviceProfileId);
    warnings.push(...profileWarnings(profile, c.spec.multicast.groupType === 'B' ? 'CLASS_B' : 'CLASS_C'));
    if (seen.size >= 20) break; // fleets share a handful of profiles; do not read every device
  }
  return warnings;
}

/** Settles a multicast enqueue that a dead worker left unfinished. Returns the fields to write. */
export async function settlePending(ctx: WorkerContext, c: CampaignRecord): Promise<Record<string, string | number>> {
  const pending = c.data.mcPending;
  if (!pending || !c.data.groupId) return {};
  const info = await ctx.chirpstack.getMulticastGroup(c.data.groupId);
  const expected = Number(c.data.mcFCnt ?? 0);
  const out: Record<string, string | number> = { mcPending: '' };
  if (info.fCnt > expected) {
    Object.assign(out, effectOf(c, pending), { mcFCnt: info.fCnt });
    ctx.log.info({ campaign: c.id, pending }, 'multicast frame from an interrupted step had landed');
  }
  return out;
}

/** What landing a multicast frame changes in the campaign record. */
function effectOf(c: CampaignRecord, pending: string): Record<string, string | number> {
  const [kind, arg] = pending.split(':');
  if (kind === 'frag') {
    return {
      nextN: Number(arg) + 1,
      fragmentsSent: Number(c.data.fragmentsSent ?? 0) + 1,
      airtimeMs: Number(c.data.airtimeMs ?? 0) + Number(c.data.fragAirMs ?? 0),
    };
  }
  if (kind === 'status') return { statusAskedAt: Number(arg) };
  return {};
}

/** Enqueues one multicast frame with the bracket described above and applies its effect to `c.data`. */
export async function enqueueMulticast(ctx: WorkerContext, c: CampaignRecord, pending: string, data: Uint8Array): Promise<void> {
  const groupId = c.data.groupId!;
  const expect = Number(c.data.mcFCnt ?? 0);
  await ctx.store.setData(c.id, { mcPending: pending });
  const fCnt = await ctx.chirpstack.enqueueMulticast(groupId, { fPort: c.spec.ports.ts004, data, expectFCnt: expect });
  const fields = { ...effectOf(c, pending), mcFCnt: fCnt + 1, mcPending: '' };
  await ctx.store.setData(c.id, fields);
  for (const [k, v] of Object.entries(fields)) c.data[k] = String(v);
}
