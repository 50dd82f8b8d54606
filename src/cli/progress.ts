/**
 * How the CLI shows a campaign: the `status` table, one line per event when stdout is not a terminal, and live
 * progress bars (devices set up, fragments sent of planned, devices updated) when it is.
 */
import type { CampaignEventMsg, CampaignMsg } from '../api/proto.js';

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '-');

function counts(m: Record<string, number>): string {
  const parts = Object.entries(m)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(', ') : '-';
}

const PLAN_FIELDS = ['fragSize', 'nbFrag', 'initialCoded', 'maxCoded', 'etaSeconds', 'initialAirtimeSeconds'];

/** The stored plan's headline fields (the full plan is in `status --json`). */
function planSummary(json: string | undefined): string {
  if (!json) return '';
  try {
    const plan = JSON.parse(json) as Record<string, unknown>;
    const parts = PLAN_FIELDS.filter((k) => typeof plan[k] === 'number').map((k) => `${k}=${+(plan[k] as number).toFixed(3)}`);
    const warnings = Array.isArray(plan.warnings) ? plan.warnings.length : 0;
    return parts.join(' ') + (warnings ? ` warnings=${warnings}` : '');
  } catch {
    return '(unreadable)';
  }
}

/** The readable `campaign status` output. */
export function formatStatus(c: CampaignMsg): string {
  const p = c.progress;
  const rows: [string, string][] = [
    ['campaign', `${c.id}  ${c.name}`],
    ['application', c.applicationId],
    ['stage', c.stage],
    ['created', iso(c.createdAt)],
    ['last change', iso(c.updatedAt)],
    ['devices', String(c.devicesTotal)],
    ['by status', counts(c.byStatus)],
    ['by phase', counts(c.byPhase)],
    ['set up', `${p.devicesSetUp}/${c.devicesTotal}`],
    ['fragments', `${p.fragmentsSent}/${p.fragmentsPlanned} planned`],
    ['updated', `${p.devicesUpdated}/${c.devicesTotal}`],
  ];
  if (c.error) rows.push(['error', c.error]);
  const plan = planSummary(c.data.plan);
  if (plan) rows.push(['plan', plan]);
  const data = Object.keys(c.data)
    .filter((k) => k !== 'plan')
    .sort();
  if (data.length) rows.push(['figures', data.map((k) => `${k}=${c.data[k]}`).join(' ')]);
  let out = rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n') + '\n';
  if (c.devices.length) {
    const head = ['devEui', 'status', 'phase', 'fw', 'updated', 'reason'];
    const lines = c.devices.map((d) => [
      d.devEui,
      d.status,
      d.phase,
      d.fwVersion === undefined ? '-' : `0x${d.fwVersion.toString(16).padStart(8, '0')}`,
      iso(d.updatedAt),
      d.reason,
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmt = (l: string[]) => l.map((v, i) => (i === l.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
    out += '\n' + [head, ...lines].map(fmt).join('\n') + '\n';
  }
  return out;
}

/** One line for a streamed event: time, type, then the event's own fields as JSON. */
export function formatEventLine(ev: CampaignEventMsg): string {
  const { id: _id, time: _time, type: _type, ...rest } = JSON.parse(ev.json) as Record<string, unknown>;
  const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
  return `${iso(ev.time)} ${ev.type}${extra}`;
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
