/** The end of a campaign (pure): the report, and cancellation. */
import { encodeCommands } from '../codec/frame.js';
import { onCancel } from './device-machine.js';
import type { Draft } from './draft.js';
import type { Effect } from './effects.js';
import type { DeviceState } from './model.js';
import { keyString } from './grouping.js';
import { campaignSavings, groupSavingFigures } from './savings.js';
import type { CampaignState } from './state.js';

export function report(c: CampaignState, devices: ReadonlyMap<string, DeviceState>, now: number): Record<string, unknown> {
  const byStatus: Record<string, number> = {};
  for (const s of devices.values()) byStatus[s.s] = (byStatus[s.s] ?? 0) + 1;
  const updated = byStatus.Updated ?? 0;
  const sum = (f: (g: CampaignState['groups'][0]) => number) => c.groups.reduce((a, g) => a + f(g), 0);
  return {
    type: 'report',
    devices: devices.size,
    updated,
    failed: devices.size - updated,
    byStatus,
    fragmentsSent: sum((g) => g.fragmentsSent),
    repairRounds: Math.max(...c.groups.map((g) => g.repair.rounds)),
    airtimeSeconds: sum((g) => g.airtimeMs) / 1000,
    simulatedSeconds: (now - (c.startedAtMs ?? now)) / 1000,
    ...(c.groups.length > 1 ? { groups: groupFigures(c, devices) } : {}),
    ...(c.images ? { savings: campaignSavings(c) } : {}),
  };
}

/**
 * A group's turn on its gateways (src/campaign/airtime-budget.ts), in seconds from the campaign's start: when it
 * began and ended, and how long the group waited for it (empty for a state stored before groups took turns).
 */
export function turnFigures(c: CampaignState, g: CampaignState['groups'][0]): Record<string, number> {
  const t = g.turn;
  if (!t) return {};
  if (t.startMs === undefined) return { waitedSeconds: Math.round(t.waitedMs / 1000) };
  const from = c.startedAtMs ?? t.startMs;
  return {
    turnStartSeconds: Math.round((t.startMs - from) / 1000),
    ...(t.endMs !== undefined ? { turnEndSeconds: Math.round((t.endMs - from) / 1000) } : {}),
    waitedSeconds: Math.round(t.waitedMs / 1000),
  };
}

/** Per multicast group: its key, devices, how many were updated, fragments, repair rounds, airtime and turn. */
export function groupFigures(c: CampaignState, devices: ReadonlyMap<string, DeviceState>): Record<string, unknown>[] {
  return c.groups.map((g, gi) => {
    let n = 0;
    let updated = 0;
    for (const s of devices.values()) {
      if ((s.g ?? 0) !== gi) continue;
      n++;
      if (s.s === 'Updated') updated++;
    }
    return {
      group: gi,
      key: keyString(g.key),
      devices: n,
      updated,
      fragSize: g.plan.fragSize,
      nbFrag: g.plan.nbFrag,
      fragmentIntervalMs: g.plan.fragmentIntervalMs,
      fragmentsSent: g.fragmentsSent,
      repairRounds: g.repair.rounds,
      airtimeSeconds: g.airtimeMs / 1000,
      ...turnFigures(c, g),
      ...groupSavingFigures(c, g),
    };
  });
}

/** Cancellation: pending devices end Cancelled, set-up devices are asked to drop the session and the group. */
export function cancel(state: CampaignState, d: Draft, now: number): { state: CampaignState; effects: Effect[] } {
  return endCampaign(state, d, now, { stage: 'cancelled' });
}

/**
 * The end of a campaign on any path but `done` (cancelled, or failed with `error`): the same clean-up every time.
 * Queued requests are flushed, devices that were set up are asked to drop the fragmentation session and the
 * multicast group, the ChirpStack group is deleted, pending devices end (Cancelled, with the reason) and the
 * campaign's devices are released. The shell carries the clean-up out best effort (bounded), so it always ends.
 */
export function endCampaign(
  state: CampaignState,
  d: Draft,
  now: number,
  how: { stage: 'cancelled' } | { stage: 'failed'; error: string },
): { state: CampaignState; effects: Effect[] } {
  const g = state.groups[0];
  const s = state.spec;
  const effects: Effect[] = [];
  state.groups.forEach((x, gi) => {
    if (x.groupId) effects.push({ kind: 'deleteGroup', group: gi, groupId: x.groupId });
  });
  const fragDelete = [{ type: 'FragSessionDeleteReq' as const, fragIndex: s.fragmentation.fragIndex }];
  const groupDelete = [{ type: 'McGroupDeleteReq' as const, mcGroupId: g.mcGroupId }];
  const fragHex = Buffer.from(encodeCommands('ts004', 'downlink', fragDelete)).toString('hex');
  const groupHex = Buffer.from(encodeCommands('ts005', 'downlink', groupDelete)).toString('hex');
  // Stop what is queued for the devices, then ask those that were set up to drop the session and the group.
  // A device ChirpStack does not know (DeviceNotFound) has nothing queued and was never set up.
  for (const [eui, st] of d.devices) if (st.s !== 'DeviceNotFound') effects.push({ kind: 'flushDeviceQueue', devEui: eui });
  let ended = 0;
  const reason = how.stage === 'failed' ? `campaign failed: ${how.error}` : undefined;
  for (const [eui, st] of [...d.devices]) {
    if (st.p !== 'discover' && st.p !== 'final') {
      effects.push({ kind: 'reply', devEui: eui, pkg: 'ts004', port: s.ports.ts004, commands: fragDelete, hex: fragHex });
      effects.push({ kind: 'reply', devEui: eui, pkg: 'ts005', port: s.ports.ts005, commands: groupDelete, hex: groupHex });
    } else if (st.p === 'discover' && (st.v?.[2] || st.o?.port === s.ports.ts005)) {
      // Still discovering, but given the multicast group already (McGroupSetupReq goes in the first frame).
      effects.push({ kind: 'reply', devEui: eui, pkg: 'ts005', port: s.ports.ts005, commands: groupDelete, hex: groupHex });
    }
    const t = onCancel(st, now);
    const next = t.state !== st && reason ? { ...t.state, r: reason } : t.state;
    if (next !== st) {
      d.devices.set(eui, next);
      d.changed.set(eui, next);
      ended++;
    } else if (st.p !== 'final') {
      // A device with its status already (e.g. waiting for its clean-up answers) is final now.
      const fin = { ...st, p: 'final' as const, t: now };
      delete fin.o;
      d.devices.set(eui, fin);
      d.changed.set(eui, fin);
    }
  }
  if (how.stage === 'cancelled') d.events.push({ type: 'cancelled', devices: ended });
  else {
    d.events.push({ type: 'failed', error: how.error, devices: ended });
    state.error = how.error;
  }
  d.events.push(report(state, d.devices, now));
  state.stage = how.stage;
  effects.push({ kind: 'release' });
  return { state, effects };
}
