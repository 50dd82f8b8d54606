/**
 * How a stored campaign is shown to API clients: the Campaign message and the progress figures behind the bars.
 * Pure functions of the store's records.
 */
import { DEVICE_PHASES, DEVICE_STATUSES } from '../campaign/model.js';
import type { DeviceState, DeviceStatus } from '../campaign/model.js';
import type { CampaignRecord } from '../store/campaign-store.js';
import { parseCampaignState } from '../store/campaign-state.js';
import { keyString } from '../campaign/grouping.js';
import { campaignSavings, groupSavingFigures } from '../campaign/savings.js';
import type { CampaignMsg, DeviceMsg, ProgressMsg } from './proto.js';

/** Final statuses a device can only reach after it was set up (multicast group + fragmentation session). */
const AFTER_SETUP: ReadonlySet<DeviceStatus> = new Set(['Updated', 'SessionError', 'MissingFragments', 'MICError', 'ImageRejected']);
const READY_AT = DEVICE_PHASES.indexOf('ready');

/** True when the device has completed its unicast setup. */
export function isSetUp(d: DeviceState): boolean {
  if (d.s === 'Pending') return DEVICE_PHASES.indexOf(d.p) >= READY_AT;
  return AFTER_SETUP.has(d.s);
}

function num(v: string | undefined): number {
  const n = Number(v);
  return v !== undefined && v.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : 0;
}

/** Fragments of the first broadcast (uncoded + initial coded) from the stored plan; 0 before planning. */
export function fragmentsPlanned(c: CampaignRecord): number {
  if (!c.data.plan) return 0;
  try {
    const plan = JSON.parse(c.data.plan) as { nbFrag?: unknown; initialCoded?: unknown };
    return (Number(plan.nbFrag) || 0) + (Number(plan.initialCoded) || 0);
  } catch {
    return 0;
  }
}

/** Data fields never shown to clients: key material the pipeline keeps (mcKey). */
const SECRET = /key$/i;

/** The record's data map without secrets. */
export function publicData(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).filter(([k]) => !SECRET.test(k)));
}

/**
 * A delta campaign's savings against the full image so far: the total (as in the report event) and per group its
 * image (`full` or the base's `delta`), bytes saved and air time against the full image. Undefined for a campaign
 * without deltas or whose record does not parse.
 */
export function savingsOf(c: CampaignRecord): Record<string, unknown> | undefined {
  if (!c.data.images) return undefined;
  try {
    const s = parseCampaignState(c);
    return { ...campaignSavings(s), groups: s.groups.map((g, gi) => ({ group: gi, key: keyString(g.key), ...groupSavingFigures(s, g) })) };
  } catch {
    return undefined;
  }
}

/** One multicast group of a split campaign as the view shows it. */
export interface GroupSummary {
  group: number;
  key: string;
  stage: string;
  fragmentsSent: number;
  fragmentsPlanned: number;
  /**
   * Its turn on gateways it shares with other groups (src/campaign/airtime-budget.ts): waiting for it, on it, or
   * over; absent in a record stored before groups took turns.
   */
  turn?: 'waiting' | 'on' | 'over';
  devices?: number;
  updated?: number;
}

/** A stored turn (start and end, undefined or null when not yet) as the view says it. */
function turnOf(stored: boolean, startMs: unknown, endMs: unknown): { turn?: GroupSummary['turn'] } {
  if (!stored) return {};
  const set = (v: unknown) => v !== undefined && v !== null && v !== '';
  return { turn: !set(startMs) ? 'waiting' : !set(endMs) ? 'on' : 'over' };
}

/** The campaign's multicast groups from the stored record: group 0's flat fields, then `g1`, `g2`… */
export function groupSummaries(c: CampaignRecord, devices?: Iterable<DeviceState>): GroupSummary[] {
  const out: GroupSummary[] = [
    {
      group: 0, key: c.data.gGroup ?? '', stage: c.data.gStage ?? c.stage, fragmentsSent: Math.round(num(c.data.fragmentsSent)), fragmentsPlanned: Math.round(num(c.data.targetN)) || fragmentsPlanned(c),
      ...turnOf(!!c.data.turnFromMs, c.data.turnStartMs, c.data.turnEndMs),
    },
  ];
  const count = Math.round(num(c.data.groups));
  for (let i = 1; i < count; i++) {
    try {
      const g = JSON.parse(c.data[`g${i}`] ?? '{}') as { key?: string; stage?: string; fragmentsSent?: number; broadcast?: { targetN?: number }; plan?: { nbFrag?: number; initialCoded?: number }; turn?: unknown[] };
      const planned = (g.plan?.nbFrag ?? 0) + (g.plan?.initialCoded ?? 0);
      const turn = Array.isArray(g.turn) ? turnOf(true, g.turn[1], g.turn[2]) : {};
      out.push({ group: i, key: g.key ?? '', stage: g.stage ?? '', fragmentsSent: Number(g.fragmentsSent) || 0, fragmentsPlanned: Number(g.broadcast?.targetN) || planned, ...turn });
    } catch {
      out.push({ group: i, key: '', stage: '', fragmentsSent: 0, fragmentsPlanned: 0 });
    }
  }
  if (devices) {
    for (const g of out) Object.assign(g, { devices: 0, updated: 0 });
    for (const d of devices) {
      const g = out[d.g ?? 0];
      if (!g) continue;
      g.devices = (g.devices ?? 0) + 1;
      if (d.s === 'Updated') g.updated = (g.updated ?? 0) + 1;
    }
  }
  return out;
}

export function progressOf(c: CampaignRecord, devices: Iterable<DeviceState>): ProgressMsg {
  let setUp = 0;
  let updated = 0;
  let final = 0;
  for (const d of devices) {
    if (isSetUp(d)) setUp++;
    if (d.s === 'Updated') updated++;
    if (d.s !== 'Pending') final++;
  }
  // Summed over the campaign's multicast groups.
  const groups = groupSummaries(c);
  return {
    devicesSetUp: setUp,
    fragmentsSent: groups.reduce((a, g) => a + g.fragmentsSent, 0),
    // Scheduled so far: the first broadcast plus what repair rounds added (so sent never exceeds it).
    fragmentsPlanned: groups.reduce((a, g) => a + g.fragmentsPlanned, 0),
    devicesUpdated: updated,
    devicesFinal: final,
  };
}

export function deviceRow(devEui: string, d: DeviceState): DeviceMsg {
  return {
    devEui,
    status: d.s,
    phase: d.p,
    reason: d.r ?? '',
    updatedAt: d.t,
    ...(d.fw !== undefined ? { fwVersion: d.fw } : {}),
  };
}

function header(c: CampaignRecord): Omit<CampaignMsg, 'byStatus' | 'byPhase' | 'progress' | 'devices'> {
  return {
    id: c.id,
    name: c.name,
    stage: c.stage,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    error: c.error ?? '',
    applicationId: c.spec.applicationId ?? '',
    devicesTotal: c.spec.devices?.length ?? 0,
    data: publicData(c.data),
  };
}

/** The full view (Get): counts by status and phase, progress, and device rows when asked for. */
export function campaignView(c: CampaignRecord, devices: Map<string, DeviceState>, includeDevices: boolean): CampaignMsg {
  const byStatus: Record<string, number> = {};
  const byPhase: Record<string, number> = {};
  for (const s of DEVICE_STATUSES) byStatus[s] = 0;
  for (const d of devices.values()) {
    byStatus[d.s] = (byStatus[d.s] ?? 0) + 1;
    byPhase[d.p] = (byPhase[d.p] ?? 0) + 1;
  }
  const rows = includeDevices
    ? [...devices.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([eui, d]) => deviceRow(eui, d))
    : [];
  const head = header(c);
  // A split campaign: one line of figures per multicast group.
  if (num(c.data.groups) > 1) head.data = { ...head.data, groupFigures: JSON.stringify(groupSummaries(c, devices.values())) };
  // A delta campaign: image bytes and air time against the full image, so far (the report's `savings`).
  const savings = savingsOf(c);
  if (savings) head.data = { ...head.data, savings: JSON.stringify(savings) };
  return {
    ...head,
    devicesTotal: devices.size,
    byStatus,
    byPhase,
    progress: progressOf(c, devices.values()),
    devices: rows,
  };
}

/** The light view (List): the record alone, no device reads. */
export function campaignListItem(c: CampaignRecord): CampaignMsg {
  return { ...header(c), byStatus: {}, byPhase: {}, progress: progressOf(c, []), devices: [] };
}
