/**
 * Campaign events as log lines. The pipeline writes its events to each campaign's event stream; this turns them
 * into info-level lines that carry the campaign id: stage changes, repair rounds (fragments and the estimate
 * behind them), the turns of multicast groups on shared gateways (who waits for whom, when a turn starts and
 * ends), each device reaching a final status with its reason, and the end of the campaign with counts.
 * It only reads events, so it works with whatever writes them: a worker can pass the events it just wrote, or
 * `followCampaignLogs` (in `serve`) tails every active campaign's stream.
 */
import type { Redis } from 'ioredis';
import { FINAL_STAGES, type Stage } from '../campaign/model.js';
import { Keys } from '../store/keys.js';

/** The part of a pino logger used here. */
export interface LineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LogLine {
  level: 'info' | 'warn';
  obj: Record<string, unknown>;
  msg: string;
}

/** What is remembered between calls for one campaign: devices whose final status was already logged. */
export interface CampaignLogState {
  finalLogged: Set<string>;
}

export function newLogState(): CampaignLogState {
  return { finalLogged: new Set() };
}

const SECRET = /key$/i;

/** The event's fields minus bookkeeping and anything named like key material. */
function fields(ev: Record<string, unknown>, drop: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ev)) if (!drop.includes(k) && !SECRET.test(k)) out[k] = v;
  return out;
}

function list(v: unknown): string {
  return Array.isArray(v) ? v.map(String).join(', ') : String(v);
}

/** The log lines of a batch of events of one campaign (in stream order). Pure apart from `state`. */
export function campaignLogLines(campaignId: string, events: Iterable<Record<string, unknown>>, state: CampaignLogState = newLogState()): LogLine[] {
  const lines: LogLine[] = [];
  const base = { campaign: campaignId };
  for (const ev of events) {
    switch (ev.type) {
      case 'created':
        lines.push({ level: 'info', obj: { ...base, devices: ev.devices }, msg: 'campaign created' });
        break;
      case 'stage': {
        const failed = ev.stage === 'failed';
        lines.push({ level: failed ? 'warn' : 'info', obj: { ...base, ...fields(ev, ['id', 'type', 'time']) }, msg: `stage ${String(ev.stage)}` });
        break;
      }
      case 'repair':
        lines.push({
          level: 'info',
          obj: { ...base, round: ev.round, fragments: ev.fragments, devices: ev.devices, worst: ev.worst },
          msg: `repair round ${String(ev.round)}: ${String(ev.fragments)} more fragments`,
        });
        break;
      case 'turnPlan':
        lines.push({ level: 'info', obj: { ...base, ...fields(ev, ['id', 'type', 'time']) }, msg: `groups on shared gateways take turns: ETA ${String(ev.etaSeconds)} s` });
        break;
      case 'turnWait':
        lines.push({
          level: 'info',
          obj: { ...base, ...fields(ev, ['id', 'type', 'time']) },
          msg: `group ${String(ev.group)} (${String(ev.key)}) waits for its turn: gateways ${list(ev.gateways)} busy with group ${list(ev.waitsFor)}`,
        });
        break;
      case 'turnStart':
        lines.push({ level: 'info', obj: { ...base, ...fields(ev, ['id', 'type', 'time']) }, msg: `group ${String(ev.group)} (${String(ev.key)}) starts its turn after ${String(ev.waitedSeconds)} s` });
        break;
      case 'turnEnd':
        lines.push({ level: 'info', obj: { ...base, ...fields(ev, ['id', 'type', 'time']) }, msg: `group ${String(ev.group)} (${String(ev.key)}) ends its turn after ${String(ev.heldSeconds)} s` });
        break;
      case 'device': {
        const eui = typeof ev.devEui === 'string' ? ev.devEui : '';
        if (ev.status === undefined || ev.status === 'Pending' || state.finalLogged.has(eui)) break;
        state.finalLogged.add(eui);
        const ok = ev.status === 'Updated';
        lines.push({
          level: 'info',
          obj: { ...base, devEui: eui, status: ev.status, ...(ev.reason ? { reason: ev.reason } : {}) },
          msg: ok ? 'device updated' : `device failed: ${String(ev.status)}`,
        });
        break;
      }
      case 'report':
        lines.push({ level: 'info', obj: { ...base, ...fields(ev, ['id', 'type', 'time']) }, msg: `campaign ended: ${String(ev.updated)}/${String(ev.devices)} updated` });
        break;
      case 'cancelRequested':
        lines.push({ level: 'info', obj: base, msg: 'cancel requested' });
        break;
      case 'cancelled':
        lines.push({ level: 'info', obj: { ...base, devices: ev.devices }, msg: 'campaign cancelled' });
        break;
      case 'warning':
        lines.push({ level: 'warn', obj: { ...base, warning: ev.warning }, msg: 'campaign warning' });
        break;
      default:
        break;
    }
  }
  return lines;
}

/** Writes the lines of `events` to `log`. */
export function logCampaignEvents(log: LineLogger, campaignId: string, events: Iterable<Record<string, unknown>>, state?: CampaignLogState): void {
  for (const l of campaignLogLines(campaignId, events, state)) log[l.level](l.obj, l.msg);
}

export interface LogFollower {
  close(): Promise<void>;
}

/**
 * Tails the event streams of every campaign that is not final, every `intervalMs`, and logs them. Campaigns
 * already stored when it starts are followed from their newest event; campaigns created later from their first.
 * One connection, non-blocking reads, so it never holds Redis up.
 */
export function followCampaignLogs(o: { redis: Redis; prefix: string; log: LineLogger; intervalMs?: number }): LogFollower {
  const keys = new Keys(o.prefix);
  const cursors = new Map<string, string>();
  const states = new Map<string, CampaignLogState>();
  /** Campaigns final and read to the end: never read again. */
  const finished = new Set<string>();
  let first = true;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  async function follow(id: string): Promise<void> {
    // The stage is read before the events: the final stage and its event are written together, so once the
    // stage is final, reading to the end of the stream includes that event.
    const stage = await o.redis.hget(keys.campaign(id), 'stage');
    const final = stage === null || FINAL_STAGES.includes(stage as Stage);
    if (first && final) return void finished.add(id);
    let cursor: string = cursors.get(id) ?? '0';
    if (!cursors.has(id) && first) {
      const last = await o.redis.xrevrange(keys.events(id), '+', '-', 'COUNT', 1);
      cursor = last[0]?.[0] ?? '0';
    }
    for (;;) {
      const res: [string, string[]][] = await o.redis.xrange(keys.events(id), `(${cursor}`, '+', 'COUNT', 1000);
      if (res.length > 0) {
        const evs = res.map(([sid, f]) => ({ ...(JSON.parse(f[1] ?? '{}') as Record<string, unknown>), id: sid }));
        let st = states.get(id);
        if (!st) states.set(id, (st = newLogState()));
        logCampaignEvents(o.log, id, evs, st);
        cursor = res[res.length - 1]![0];
      }
      if (res.length < 1000) break;
    }
    cursors.set(id, cursor);
    if (final) {
      finished.add(id);
      cursors.delete(id);
      states.delete(id);
    }
  }

  async function tick(): Promise<void> {
    const ids = await o.redis.zrange(keys.campaigns(), 0, -1);
    for (const id of ids) if (!finished.has(id) && !stopped) await follow(id);
    first = false;
  }
  const onError = (e: unknown) => o.log.warn({ err: (e as Error).message }, 'campaign log follower');
  const timer = setInterval(() => {
    if (!stopped) running = running.then(tick).catch(onError);
  }, o.intervalMs ?? 1000);
  timer.unref();
  running = tick().catch(onError);
  return {
    async close() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
