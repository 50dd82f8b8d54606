/**
 * What the web console shows, as JSON: the campaign list with counts, one campaign's summary (plan, progress,
 * airtime and duty-cycle budget, timing), its timeline (planned and sent fragments, repair rounds, stages) and one
 * page of its device table. Reads the store; no key material leaves here.
 */
import { DEVICE_STATUSES, FINAL_STAGES } from '../campaign/model.js';
import type { DeviceState } from '../campaign/model.js';
import { u32ToVersion } from '../codec/image-header.js';
import { isRegion, subBandFor } from '../codec/region.js';
import type { CampaignRecord, CampaignStore } from '../store/campaign-store.js';
import type { FleetReader } from '../obs/fleet.js';
import { isSetUp } from './campaign-view.js';

export interface PlanView {
  nbFrag: number;
  fragSize: number;
  padding: number;
  initialCoded: number;
  maxCoded: number;
  initialRedundancyPercent: number;
  maxRedundancyPercent: number;
  maxRepairRounds: number;
  etaSeconds: number;
  fragmentAirtimeMs: number;
  fragmentIntervalMs: number;
  sessionSeconds: number;
  warnings: string[];
}

export interface CampaignSummary {
  id: string;
  name: string;
  stage: string;
  final: boolean;
  error: string;
  createdAt: number;
  updatedAt: number;
  elapsedSeconds: number;
  /** Expected end (createdAt + the plan's ETA), 0 before planning. */
  etaAt: number;
  devicesTotal: number;
  byStatus: Record<string, number>;
  byPhase: Record<string, number>;
  setUp: number;
  updated: number;
  failed: number;
  pending: number;
  plan: PlanView | null;
  fragments: { sent: number; scheduled: number; initial: number; max: number; repairRounds: number };
  airtime: {
    region: string;
    frequencyHz: number;
    subBand: string;
    dutyCycle: number;
    gateways: number;
    usedSeconds: number;
    perGatewaySeconds: number;
    /** Airtime the sub-band's duty cycle allows one gateway over the multicast session (0 before planning). */
    budgetSeconds: number;
    plannedInitialSeconds: number;
  };
}

function num(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function parsePlan(c: CampaignRecord): PlanView | null {
  if (!c.data.plan) return null;
  try {
    const p = JSON.parse(c.data.plan) as Record<string, unknown>;
    const f = c.spec.fragmentation;
    return {
      nbFrag: num(p.nbFrag),
      fragSize: num(p.fragSize),
      padding: num(p.padding),
      initialCoded: num(p.initialCoded),
      maxCoded: num(p.maxCoded),
      initialRedundancyPercent: num(f?.initialRedundancyPercent),
      maxRedundancyPercent: num(f?.maxRedundancyPercent),
      maxRepairRounds: num(f?.maxRepairRounds),
      etaSeconds: num(p.etaSeconds),
      fragmentAirtimeMs: num(p.fragmentAirtimeMs),
      fragmentIntervalMs: num(p.fragmentIntervalMs),
      sessionSeconds: num(p.sessionSeconds),
      warnings: Array.isArray(p.warnings) ? p.warnings.map(String) : [],
    };
  } catch {
    return null;
  }
}

function subBandOf(region: string, hz: number): { name: string; dutyCycle: number } {
  if (!isRegion(region)) return { name: 'unknown', dutyCycle: 1 };
  try {
    const b = subBandFor(region, hz);
    return { name: b.name, dutyCycle: b.dutyCycle };
  } catch {
    return { name: 'unknown', dutyCycle: 1 };
  }
}

export function summarize(c: CampaignRecord, devices: Iterable<DeviceState>, now = Date.now()): CampaignSummary {
  const byStatus: Record<string, number> = {};
  const byPhase: Record<string, number> = {};
  for (const s of DEVICE_STATUSES) byStatus[s] = 0;
  let total = 0;
  let setUp = 0;
  for (const d of devices) {
    total++;
    byStatus[d.s] = (byStatus[d.s] ?? 0) + 1;
    byPhase[d.p] = (byPhase[d.p] ?? 0) + 1;
    if (isSetUp(d)) setUp++;
  }
  const plan = parsePlan(c);
  const final = FINAL_STAGES.includes(c.stage);
  const end = final ? c.updatedAt : now;
  const initial = plan ? plan.nbFrag + plan.initialCoded : 0;
  const m = c.spec.multicast;
  const sb = subBandOf(m?.region ?? '', m?.frequencyHz ?? 0);
  const gateways = Math.max(1, m?.gatewayIds?.length || m?.gatewayCount || 1);
  const used = num(c.data.airtimeMs) / 1000;
  const elapsed = Math.max(0, (end - c.createdAt) / 1000);
  const updated = byStatus.Updated ?? 0;
  const pending = byStatus.Pending ?? 0;
  return {
    id: c.id,
    name: c.name,
    stage: c.stage,
    final,
    error: c.error ?? '',
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    elapsedSeconds: elapsed,
    etaAt: plan && plan.etaSeconds ? c.createdAt + plan.etaSeconds * 1000 : 0,
    devicesTotal: total,
    byStatus,
    byPhase,
    setUp,
    updated,
    failed: total - updated - pending,
    pending,
    plan,
    fragments: {
      sent: num(c.data.fragmentsSent),
      scheduled: num(c.data.targetN) || initial,
      initial,
      max: plan ? plan.nbFrag + plan.maxCoded : 0,
      repairRounds: num(c.data.rounds),
    },
    airtime: {
      region: m?.region ?? '',
      frequencyHz: m?.frequencyHz ?? 0,
      subBand: sb.name,
      dutyCycle: sb.dutyCycle,
      gateways,
      usedSeconds: used,
      perGatewaySeconds: used / gateways,
      budgetSeconds: plan ? sb.dutyCycle * plan.sessionSeconds : 0,
      plannedInitialSeconds: plan ? (plan.fragmentAirtimeMs * initial) / 1000 : 0,
    },
  };
}

export interface ListRow {
  id: string;
  name: string;
  stage: string;
  createdAt: number;
  updatedAt: number;
  devices: number;
  updated: number;
  failed: number;
  pending: number;
}

/** Every campaign, newest first, with device counts (final campaigns' counts are cached by the reader). */
export async function listRows(fleet: FleetReader): Promise<ListRow[]> {
  const ids = await fleet.store.redis.zrevrange(fleet.store.keys.campaigns(), 0, -1);
  const rows: ListRow[] = [];
  for (const id of ids) {
    const c = await fleet.store.get(id);
    if (!c) continue;
    const f = await fleet.figures(c);
    const devices = Object.values(f.byStatus).reduce((a, b) => a + b, 0);
    const updated = f.byStatus.Updated ?? 0;
    const pending = f.byStatus.Pending ?? 0;
    rows.push({ id, name: c.name, stage: c.stage, createdAt: c.createdAt, updatedAt: c.updatedAt, devices, updated, failed: devices - updated - pending, pending });
  }
  return rows;
}

export interface DeviceRowView {
  devEui: string;
  status: string;
  phase: string;
  reason: string;
  fw: string;
  changedAt: number;
  /** Last FragSessionStatusAns, e.g. "received 120, missing 3", or the request awaiting an answer. */
  lastAnswer: string;
}

function fwOf(d: DeviceState): string {
  if (d.fw === undefined) return '';
  try {
    return u32ToVersion(d.fw);
  } catch {
    return String(d.fw);
  }
}

function lastAnswerOf(d: DeviceState): string {
  const parts: string[] = [];
  if (d.fs) parts.push(`status: received ${d.fs[0]}, missing ${d.fs[1]}`);
  if (d.o) parts.push(`awaiting port ${d.o.port} answer (attempt ${d.o.n})`);
  return parts.join('; ');
}

export function deviceRowView(devEui: string, d: DeviceState): DeviceRowView {
  return { devEui, status: d.s, phase: d.p, reason: d.r ?? '', fw: fwOf(d), changedAt: d.t, lastAnswer: lastAnswerOf(d) };
}

export interface DeviceQuery {
  status?: string;
  phase?: string;
  /** DevEUI substring (case-insensitive) or reason substring. */
  q?: string;
  offset: number;
  limit: number;
}

export interface DevicePage {
  total: number;
  matched: number;
  offset: number;
  limit: number;
  rows: DeviceRowView[];
}

/** One page of the device table, sorted by DevEUI. */
export function devicePage(devices: Map<string, DeviceState>, q: DeviceQuery): DevicePage {
  const needle = q.q?.toLowerCase() ?? '';
  const match: [string, DeviceState][] = [];
  for (const e of devices) {
    const [eui, d] = e;
    if (q.status && d.s !== q.status) continue;
    if (q.phase && d.p !== q.phase) continue;
    if (needle && !eui.includes(needle) && !(d.r ?? '').toLowerCase().includes(needle)) continue;
    match.push(e);
  }
  match.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const offset = Math.max(0, Math.min(q.offset, match.length));
  const rows = match.slice(offset, offset + q.limit).map(([eui, d]) => deviceRowView(eui, d));
  return { total: devices.size, matched: match.length, offset, limit: q.limit, rows };
}

/** Parses the device-table query string, with field-named errors. */
export function parseDeviceQuery(sp: URLSearchParams): DeviceQuery {
  const int = (name: string, def: number, max: number) => {
    const v = sp.get(name);
    if (v === null || v === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new RangeError(`${name}: expected an integer 0..${max}, got "${v}"`);
    return n;
  };
  const status = sp.get('status') ?? '';
  if (status && !(DEVICE_STATUSES as readonly string[]).includes(status)) throw new RangeError(`status: unknown status "${status}"`);
  return {
    ...(status ? { status } : {}),
    ...(sp.get('phase') ? { phase: sp.get('phase')! } : {}),
    ...(sp.get('q') ? { q: sp.get('q')!.slice(0, 64) } : {}),
    offset: int('offset', 0, 10_000_000),
    limit: Math.max(1, int('limit', 50, 500)),
  };
}

export interface Timeline {
  /** Stage changes. */
  stages: { time: number; stage: string }[];
  /** Repair rounds: when, and how many fragments each added. */
  repairs: { time: number; round: number; fragments: number; worst: unknown }[];
  /** Fragments scheduled over time: the first broadcast's, then each repair round's added. */
  scheduled: { time: number; n: number }[];
  /** Fragments sent over time, as sampled by this server (and the current value). */
  sent: { time: number; n: number }[];
  /**
   * Turns of a split campaign's groups on shared gateways: a group waiting (for whom), starting or ending its turn
   * (the events `turnWait`, `turnStart`, `turnEnd` as written, with their time).
   */
  turns: Record<string, unknown>[];
}

/** The campaign-level events (stages, repair rounds, turns) and the sent-fragment samples as a timeline. */
export async function timeline(store: CampaignStore, c: CampaignRecord, samples: { time: number; n: number }[]): Promise<Timeline> {
  const stages: Timeline['stages'] = [];
  const repairs: Timeline['repairs'] = [];
  const scheduled: Timeline['scheduled'] = [];
  const turns: Timeline['turns'] = [];
  const plan = parsePlan(c);
  const initial = plan ? plan.nbFrag + plan.initialCoded : 0;
  let n = 0;
  let cursor = '0';
  for (;;) {
    const evs = await store.redis.xrange(store.keys.events(c.id), cursor === '0' ? '-' : `(${cursor}`, '+', 'COUNT', 5000);
    for (const [sid, f] of evs) {
      cursor = sid;
      const raw = f[1] ?? '';
      // Device events are most of the stream: skip them without parsing.
      if (!raw.includes('"type":"stage"') && !raw.includes('"type":"repair"') && !raw.includes('"type":"turn')) continue;
      const ev = JSON.parse(raw) as Record<string, unknown>;
      const time = num(ev.time);
      if (ev.type === 'stage') {
        stages.push({ time, stage: String(ev.stage) });
        if (ev.stage === 'broadcast' && n === 0 && initial) scheduled.push({ time, n: (n = initial) });
      } else if (ev.type === 'repair') {
        repairs.push({ time, round: num(ev.round), fragments: num(ev.fragments), worst: ev.worst });
        scheduled.push({ time, n: (n += num(ev.fragments)) });
      } else if (ev.type === 'turnWait' || ev.type === 'turnStart' || ev.type === 'turnEnd') {
        turns.push({ ...ev, time });
      }
    }
    if (evs.length < 5000) break;
  }
  return { stages, repairs, scheduled, sent: samples, turns };
}
