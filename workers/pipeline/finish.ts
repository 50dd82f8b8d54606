/**
 * The end of a campaign: the final report, deleting the ChirpStack group (never with fragments still queued),
 * releasing what Redis no longer needs; and cancellation.
 */
import type { DeviceState } from '../../src/campaign/model.js';
import { encodeCommands } from '../../src/codec/frame.js';
import type { CampaignRecord } from '../../src/store/campaign-store.js';
import type { WorkerContext } from '../context.js';
import { dropEncoder } from './encoders.js';
import { pMap } from './pmap.js';

async function deleteGroup(ctx: WorkerContext, c: CampaignRecord, now: number): Promise<void> {
  const groupId = c.data.groupId;
  if (!groupId) return;
  const queued = await ctx.chirpstack.listMulticastQueue(groupId);
  // A group is never deleted with fragments still queued: flush first (they could not be sent after the session).
  if (queued.length) {
    ctx.log.info({ campaign: c.id, queued: queued.length, sessionOver: now > Number(c.data.sessionEndMs) }, 'flushing multicast queue before delete');
    await ctx.chirpstack.flushMulticastQueue(groupId);
  }
  try {
    await ctx.chirpstack.deleteMulticastGroup(groupId);
  } catch (e) {
    if ((e as { code?: number }).code !== 5) throw e; // NOT_FOUND: already gone
  }
}

export function report(c: CampaignRecord, devices: Map<string, DeviceState>, now: number): Record<string, unknown> {
  const byStatus: Record<string, number> = {};
  for (const s of devices.values()) byStatus[s.s] = (byStatus[s.s] ?? 0) + 1;
  const updated = byStatus.Updated ?? 0;
  return {
    type: 'report',
    devices: devices.size,
    updated,
    failed: devices.size - updated,
    byStatus,
    fragmentsSent: Number(c.data.fragmentsSent ?? 0),
    repairRounds: Number(c.data.rounds ?? 0),
    airtimeSeconds: Number(c.data.airtimeMs ?? 0) / 1000,
    simulatedSeconds: (now - Number(c.data.startedAtMs ?? now)) / 1000,
  };
}

export async function finishCampaign(ctx: WorkerContext, c: CampaignRecord, now: number): Promise<void> {
  await deleteGroup(ctx, c, now);
  const devices = await ctx.store.devices(c.id);
  await ctx.store.addEvent(c.id, report(c, devices, now));
  await ctx.store.setStage(c.id, 'done');
  await ctx.store.release(c.id);
  dropEncoder(c.id);
}

export async function cancelCampaign(ctx: WorkerContext, c: CampaignRecord, now: number): Promise<void> {
  await deleteGroup(ctx, c, now);
  const devices = await ctx.store.devices(c.id);
  const changed = new Map<string, DeviceState>();
  const setUp: string[] = [];
  for (const [eui, s] of devices) {
    if (s.p !== 'discover' && s.p !== 'final') setUp.push(eui);
    if (s.s === 'Pending') {
      const { o: _o, ...rest } = s;
      changed.set(eui, { ...rest, s: 'Cancelled', r: 'campaign cancelled', p: 'final', t: now });
    }
  }
  // Stop what is queued for the devices, then ask those that were set up to drop the session and the group.
  await pMap([...devices.keys()], 16, (eui) => ctx.chirpstack.flushDeviceQueue(eui));
  const s = c.spec;
  const fragDelete = encodeCommands('ts004', 'downlink', [{ type: 'FragSessionDeleteReq', fragIndex: s.fragmentation.fragIndex }]);
  const groupDelete = encodeCommands('ts005', 'downlink', [{ type: 'McGroupDeleteReq', mcGroupId: s.multicast.mcGroupId }]);
  await pMap(setUp, 16, async (eui) => {
    await ctx.chirpstack.enqueueDownlink(eui, { fPort: s.ports.ts004, data: fragDelete });
    await ctx.chirpstack.enqueueDownlink(eui, { fPort: s.ports.ts005, data: groupDelete });
  });
  await ctx.store.commit(c.id, changed, [{ type: 'cancelled', devices: changed.size }]);
  await ctx.store.addEvent(c.id, report(c, new Map([...devices, ...changed]), now));
  await ctx.store.setStage(c.id, 'cancelled');
  await ctx.store.release(c.id);
  dropEncoder(c.id);
}
