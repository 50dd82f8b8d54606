/**
 * How the CLI shows a campaign: the `status` table, one line per event when stdout is not a terminal, and live
 * progress bars (devices set up, fragments sent of planned, devices updated) when it is.
 */
import type { CampaignEventMsg, CampaignMsg } from '../api/proto.js';

/** A time as local ISO 8601 with the zone offset, e.g. 2026-12-03T16:14:03+01:00 ('-' for none). */
export function localIso(ms: number, tzOffsetMin = -new Date(ms).getTimezoneOffset()): string {
  if (!(ms > 0)) return '-';
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const tz = tzOffsetMin === 0 ? 'Z' : `${tzOffsetMin > 0 ? '+' : '-'}${pad(tzOffsetMin / 60)}:${pad(tzOffsetMin % 60)}`;
  return new Date(ms + tzOffsetMin * 60_000).toISOString().slice(0, 19) + tz;
}

/** A duration in seconds as "1 h 02 min", "3 min 05 s", "42 s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${r} s`;
}

/** u32 firmware version as X.Y.Z. */
export function versionText(v: number | undefined): string {
  if (v === undefined || !Number.isInteger(v) || v < 0 || v > 0xffffffff) return '-';
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${v & 0xffff}`;
}

function counts(m: Record<string, number>): string {
  const parts = Object.entries(m)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(', ') : '-';
}

interface PlanFields {
  fragSize?: number;
  nbFrag?: number;
  initialCoded?: number;
  maxCoded?: number;
  etaSeconds?: number;
  fragmentAirtimeMs?: number;
  warnings?: unknown[];
}

function parsePlan(json: string | undefined): PlanFields | null {
  if (!json) return null;
  try {
    const p = JSON.parse(json) as unknown;
    return typeof p === 'object' && p !== null ? (p as PlanFields) : null;
  } catch {
    return null;
  }
}

const FINAL = ['done', 'failed', 'cancelled'];

/** The readable `campaign status` output: human units, wall-clock times only (internal fields: --json). */
export function formatStatus(c: CampaignMsg, now = Date.now()): string {
  const p = c.progress;
  const plan = parsePlan(c.data.plan);
  const final = FINAL.includes(c.stage);
  const updated = c.byStatus.Updated ?? 0;
  const pending = c.byStatus.Pending ?? 0;
  const failed = c.devicesTotal - updated - pending;
  const end = final ? c.updatedAt : now;
  const rows: [string, string][] = [
    ['campaign', `${c.id}  ${c.name}`],
    ['application', c.applicationId],
    ['stage', c.stage],
    ['started', localIso(c.createdAt)],
    [final ? 'ended' : 'last change', localIso(c.updatedAt)],
    [final ? 'took' : 'elapsed', duration((end - c.createdAt) / 1000)],
  ];
  if (plan?.etaSeconds) {
    const eta = c.createdAt + plan.etaSeconds * 1000;
    rows.push(['ETA', final ? `${localIso(eta)} (planned ${duration(plan.etaSeconds)})` : `${localIso(eta)} (${eta > now ? `in ${duration((eta - now) / 1000)}` : `${duration((now - eta) / 1000)} late`})`]);
  }
  rows.push(
    ['devices', `${c.devicesTotal}: ${updated} updated, ${failed} failed, ${pending} pending (${p.devicesSetUp} set up)`],
    ['by status', counts(c.byStatus)],
    ['by phase', counts(c.byPhase)],
  );
  const rounds = Number(c.data.rounds ?? 0) || 0;
  const scheduled = Number(c.data.targetN ?? 0) || p.fragmentsPlanned;
  if (plan?.nbFrag) {
    rows.push([
      'fragments',
      `${p.fragmentsSent} sent of ${scheduled} scheduled (${plan.nbFrag} uncoded + ${Math.max(0, scheduled - plan.nbFrag)} coded${plan.maxCoded !== undefined ? `, at most ${plan.nbFrag + plan.maxCoded}` : ''}), ${rounds} repair round${rounds === 1 ? '' : 's'}`,
    ]);
    rows.push(['plan', `M = ${plan.nbFrag} fragments${plan.fragSize ? ` of ${plan.fragSize} B` : ''}, ${plan.initialCoded ?? 0} coded in the first broadcast${plan.fragmentAirtimeMs ? `, ${plan.fragmentAirtimeMs.toFixed(1)} ms on air each` : ''}${plan.warnings?.length ? `, ${plan.warnings.length} warning(s)` : ''}`]);
  } else rows.push(['fragments', `${p.fragmentsSent} sent (not planned yet)`]);
  const airMs = Number(c.data.airtimeMs ?? 0) || 0;
  if (airMs > 0) rows.push(['airtime', `${(airMs / 1000).toFixed(1)} s of multicast, summed over gateways`]);
  if (c.error) rows.push(['error', c.error]);
  if (c.data.lastError) rows.push(['last error', `${c.data.lastError} (step failed ${c.data.stepErrors ?? '?'} time(s) in a row; retried)`]);
  let out = rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n') + '\n';
  if (c.devices.length) {
    const head = ['devEui', 'status', 'phase', 'firmware', 'last change', 'reason'];
    const lines = c.devices.map((d) => [d.devEui, d.status, d.phase, versionText(d.fwVersion), localIso(d.updatedAt), d.reason]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmt = (l: string[]) => l.map((v, i) => (i === l.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
    out += '\n' + [head, ...lines].map(fmt).join('\n') + '\n';
  }
  return out;
}

/** Failed devices grouped by status and reason, most frequent first: "  14  MissingFragments: block not ...". */
export function failureBreakdown(c: CampaignMsg): string {
  const groups = new Map<string, number>();
  for (const d of c.devices) {
    if (d.status === 'Updated' || d.status === 'Pending') continue;
    const k = d.reason ? `${d.status}: ${d.reason}` : d.status;
    groups.set(k, (groups.get(k) ?? 0) + 1);
  }
  if (groups.size === 0) return '';
  const rows = [...groups].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const w = Math.max(...rows.map(([, n]) => String(n).length));
  return 'failures by reason:\n' + rows.map(([k, n]) => `  ${String(n).padStart(w)}  ${k}`).join('\n') + '\n';
}

/** One line for a streamed event: time, type, then the event's own fields as JSON. */
export function formatEventLine(ev: CampaignEventMsg): string {
  const { id: _id, time: _time, type: _type, ...rest } = JSON.parse(ev.json) as Record<string, unknown>;
  const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
  return `${localIso(ev.time)} ${ev.type}${extra}`;
}

/** True when the campaign finished with every device updated (the watch exit status 0). */
export function allUpdated(c: CampaignMsg): boolean {
  return c.stage === 'done' && c.devicesTotal > 0 && (c.byStatus.Updated ?? 0) === c.devicesTotal;
}

export interface ProgressView {
  event(ev: CampaignEventMsg): void;
  update(c: CampaignMsg): void;
  stop(): void;
}

/** Event lines for logs and pipes. */
export function lineView(write: (s: string) => void): ProgressView {
  return {
    event: (ev) => write(formatEventLine(ev) + '\n'),
    update: () => {},
    stop: () => {},
  };
}

/** Three live bars on a terminal; events show as the last-event label. */
export async function barView(stream: NodeJS.WriteStream, first: CampaignMsg): Promise<ProgressView> {
  const { default: cliProgress } = await import('cli-progress');
  const multi = new cliProgress.MultiBar(
    { stream, format: '{label} [{bar}] {value}/{total} {note}', barsize: 30, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const total = Math.max(1, first.devicesTotal);
  const setUp = multi.create(total, 0, { label: 'set up   ', note: '' });
  const frags = multi.create(1, 0, { label: 'fragments', note: '' });
  const updated = multi.create(total, 0, { label: 'updated  ', note: '' });
  let lastEvent = '';
  const update = (c: CampaignMsg) => {
    const p = c.progress;
    setUp.update(p.devicesSetUp, { note: `stage ${c.stage}` });
    frags.setTotal(Math.max(1, p.fragmentsPlanned, p.fragmentsSent));
    frags.update(p.fragmentsSent, { note: p.fragmentsPlanned ? '' : '(not planned yet)' });
    updated.update(p.devicesUpdated, { note: lastEvent });
  };
  update(first);
  let stopped = false;
  return {
    event: (ev) => {
      lastEvent = `last: ${ev.type}`;
    },
    update,
    stop: () => {
      if (!stopped) multi.stop();
      stopped = true;
    },
  };
}
