/**
 * The one place that turns the campaign hash into the typed `CampaignState` and back. Field names are those the
 * hash has always had (the API view and the CLI show some of them). An absent optional field is stored as ''.
 * The fields of the campaign's first multicast group are stored flat (as before campaigns split), with its key
 * (`gGroup`, e.g. "EU868/C/v1") and stage (`gStage`); every further group i is one JSON field `g<i>` plus its McKey
 * in `g<i>.mcKey` (hidden from the API view like every field ending in "key"), and `groups` counts them.
 * A group's turn on shared gateways is stored flat for the first group (`turnFromMs`, `turnStartMs`, `turnEndMs`,
 * `turnWaitedMs`) and as `turn: [fromMs, startMs, endMs, waitedMs]` (null: not yet) in the JSON of the others; a
 * state stored before groups took turns has neither.
 */
import { defaultKey, keyString, type GroupKey } from '../campaign/grouping.js';
import { parseImages } from '../campaign/images.js';
import { FINAL_STAGES, STAGES, type Stage } from '../campaign/model.js';
import { REGION_NAMES, type RegionName } from '../codec/region.js';
import type { Plan } from '../campaign/planner.js';
import type { CampaignState, GroupState, GroupTurn, McPending } from '../campaign/state.js';
import type { CampaignRecord } from './campaign-store.js';
import { open, seal } from './secrets.js';

export class StateError extends Error {
  override readonly name = 'StateError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`campaign state: ${field}: ${reason}`);
  }
}

const ALL_STAGES: readonly Stage[] = [...STAGES, ...FINAL_STAGES];

function num(d: Record<string, string>, field: string, dflt?: number): number {
  const v = d[field];
  if (v === undefined || v === '') {
    if (dflt === undefined) throw new StateError(field, 'missing');
    return dflt;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new StateError(field, `not a number: ${JSON.stringify(v)}`);
  return n;
}

function optNum(d: Record<string, string>, field: string): number | undefined {
  return d[field] === undefined || d[field] === '' ? undefined : num(d, field);
}

function parsePending(v: string | undefined): McPending | undefined {
  if (!v) return undefined;
  const [kind, arg] = v.split(':');
  const n = Number(arg);
  if (!Number.isFinite(n)) throw new StateError('mcPending', `bad value ${JSON.stringify(v)}`);
  if (kind === 'frag') return { kind: 'frag', n };
  if (kind === 'status') return { kind: 'status', at: n };
  throw new StateError('mcPending', `unknown kind ${JSON.stringify(kind)}`);
}

export function pendingString(p: McPending | undefined): string {
  if (!p) return '';
  return p.kind === 'frag' ? `frag:${p.n}` : `status:${p.at}`;
}

function parsePlan(v: string | undefined): Plan {
  if (!v) throw new StateError('plan', 'missing (campaign was not submitted through submitCampaign)');
  let p: unknown;
  try {
    p = JSON.parse(v);
  } catch (e) {
    throw new StateError('plan', `not JSON (${(e as Error).message})`);
  }
  const plan = p as Partial<Plan> | null;
  for (const f of ['nbFrag', 'fragSize', 'padding', 'initialCoded', 'maxCoded', 'fragmentIntervalMs', 'statusWindowMs', 'sessionTimeOut', 'fragmentAirtimeMs'] as const) {
    if (typeof plan?.[f] !== 'number') throw new StateError(`plan.${f}`, 'missing or not a number');
  }
  return plan as Plan;
}

export function parseKey(v: string, field: string): GroupKey {
  const m = /^([A-Z0-9-]+)\/([BC])\/v([12])(?:\/b([0-9a-f]{8}))?$/.exec(v);
  if (!m || !REGION_NAMES.includes(m[1] as RegionName)) throw new StateError(field, `bad group key ${JSON.stringify(v)}`);
  return { region: m[1] as RegionName, groupType: m[2] as 'B' | 'C', rule: Number(m[3]) as 1 | 2, ...(m[4] ? { base: parseInt(m[4], 16) >>> 0 } : {}) };
}

/** The key as stored: the same text as `keyString` (e.g. "EU868/C/v1", "EU868/C/v1/b01000000" for a delta group). */
export function keyField(k: GroupKey): string {
  return keyString(k);
}

/** The first group's turn from its flat fields (absent when `turnFromMs` is). */
function parseTurn(d: Record<string, string>): GroupTurn | undefined {
  const fromMs = optNum(d, 'turnFromMs');
  if (fromMs === undefined) return undefined;
  const startMs = optNum(d, 'turnStartMs');
  const endMs = optNum(d, 'turnEndMs');
  return { fromMs, ...(startMs !== undefined ? { startMs } : {}), ...(endMs !== undefined ? { endMs } : {}), waitedMs: num(d, 'turnWaitedMs', 0) };
}

/** A further group's `turn` as stored in its JSON, [fromMs, startMs, endMs, waitedMs] (absent: stored before turns). */
function parseExtraTurn(v: unknown, field: string): GroupTurn | undefined {
  if (v === undefined) return undefined;
  const ok = Array.isArray(v) && v.length === 4 && typeof v[0] === 'number' && typeof v[3] === 'number' && [v[1], v[2]].every((x) => x === null || typeof x === 'number');
  if (!ok) throw new StateError(field, `expected [fromMs, startMs, endMs, waitedMs], got ${JSON.stringify(v)}`);
  const [fromMs, startMs, endMs, waitedMs] = v as [number, number | null, number | null, number];
  return { fromMs, ...(startMs !== null ? { startMs } : {}), ...(endMs !== null ? { endMs } : {}), waitedMs };
}

function parseStage(v: string, field: string): Stage {
  if (!ALL_STAGES.includes(v as Stage)) throw new StateError(field, `unknown stage ${JSON.stringify(v)}`);
  return v as Stage;
}

/** A group's stage as stored before campaigns split: the campaign's own from the session on. */
function legacyGroupStage(stage: Stage): Stage {
  return stage === 'prepare' || stage === 'group' ? 'setup' : stage === 'cancelled' || stage === 'failed' ? 'done' : stage;
}

/** Group i > 0 as stored: its JSON field (without the key) and its McKey. */
function parseExtraGroup(d: Record<string, string>, i: number): GroupState {
  const field = `g${i}`;
  const v = d[field];
  if (!v) throw new StateError(field, 'missing');
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(v) as Record<string, unknown>;
  } catch (e) {
    throw new StateError(field, `not JSON (${(e as Error).message})`);
  }
  const mcKeyHex = d[`${field}.mcKey`] ?? '';
  if (mcKeyHex && !/^[0-9a-f]{32}$/.test(mcKeyHex)) throw new StateError(`${field}.mcKey`, 'expected 32 hex digits');
  if (typeof o.key !== 'string') throw new StateError(`${field}.key`, 'missing');
  parseStage(String(o.stage), `${field}.stage`);
  for (const f of ['mcGroupId', 'mcAddr', 'mcFCnt', 'fragAirMs', 'fragmentsSent', 'airtimeMs'] as const) {
    if (typeof o[f] !== 'number') throw new StateError(`${field}.${f}`, 'missing or not a number');
  }
  const turn = parseExtraTurn(o.turn, `${field}.turn`);
  const { turn: _t, ...rest } = o;
  const g = { ...rest, key: parseKey(o.key, `${field}.key`), plan: parsePlan(JSON.stringify(o.plan)), ...(turn ? { turn } : {}), mcKeyHex } as unknown as GroupState;
  return g;
}

function serialiseExtraGroup(g: GroupState): string {
  const { mcKeyHex: _k, key, turn, ...rest } = g;
  return JSON.stringify({ ...rest, ...(turn ? { turn: [turn.fromMs, turn.startMs ?? null, turn.endMs ?? null, turn.waitedMs] } : {}), key: keyField(key) });
}

/** Parses the campaign record's pipeline fields. Throws a StateError naming the field on bad input. */
export function parseCampaignState(c: CampaignRecord): CampaignState {
  const d = c.data;
  if (!ALL_STAGES.includes(c.stage)) throw new StateError('stage', `unknown stage ${JSON.stringify(c.stage)}`);
  const rule = num(d, 'ruleVersion', 1);
  if (rule !== 1 && rule !== 2) throw new StateError('ruleVersion', `must be 1 or 2, got ${rule}`);
  const plan = parsePlan(d.plan);
  let mcKeyHex: string;
  try {
    mcKeyHex = open(d.mcKey ?? '', c.id, 'mcKey');
  } catch (e) {
    throw new StateError('mcKey', (e as Error).message.replace(/^mcKey: /, ''));
  }
  if (mcKeyHex && !/^[0-9a-f]{32}$/.test(mcKeyHex)) throw new StateError('mcKey', 'expected 32 hex digits');
  const askedAt = optNum(d, 'statusAskedAt');
  const lossCap = optNum(d, 'lossCap');
  const fleetLoss = optNum(d, 'fleetLoss');
  const mcPending = parsePending(d.mcPending);
  const timeGps = optNum(d, 'sessionTimeGps');
  const turn = parseTurn(d);
  const group: GroupState = {
    key: d.gGroup ? parseKey(d.gGroup, 'gGroup') : { ...defaultKey(c.spec), rule },
    stage: d.gStage ? parseStage(d.gStage, 'gStage') : legacyGroupStage(c.stage),
    ...(timeGps !== undefined ? { session: { timeGps, startMs: num(d, 'sessionStartMs'), endMs: num(d, 'sessionEndMs') } } : {}),
    mcGroupId: c.spec.multicast.mcGroupId,
    mcAddr: num(d, 'mcAddr', 0),
    mcKeyHex,
    ...(d.groupId ? { groupId: d.groupId } : {}),
    // Stored before groups were created at the end of the set-up: a group with an id was filled in the same stage.
    ...((d.gReady === undefined ? !!d.groupId : d.gReady === '1') ? { ready: true } : {}),
    ruleVersion: rule,
    plan,
    mcFCnt: num(d, 'mcFCnt', 0),
    ...(mcPending ? { mcPending } : {}),
    fragAirMs: num(d, 'fragAirMs', 0),
    broadcast: { startMs: num(d, 'bStartMs', 0), startN: num(d, 'bStartN', 1), nextN: num(d, 'nextN', 1), targetN: num(d, 'targetN', 0) },
    status: { ...(askedAt !== undefined ? { askedAt } : {}), sentN: num(d, 'statusSentN', 0) },
    repair: { rounds: num(d, 'rounds', 0), ...(lossCap !== undefined ? { lossCap } : {}), ...(fleetLoss !== undefined ? { fleetLoss } : {}) },
    ...(turn ? { turn } : {}),
    fragmentsSent: num(d, 'fragmentsSent', 0),
    airtimeMs: num(d, 'airtimeMs', 0),
  };
  const startedAtMs = optNum(d, 'startedAtMs');
  const setupStartedMs = optNum(d, 'setupStartedMs');
  const count = num(d, 'groups', 1);
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new StateError('groups', `must be 1..64, got ${count}`);
  const extra: GroupState[] = [];
  for (let i = 1; i < count; i++) extra.push(parseExtraGroup(d, i));
  let images;
  if (d.images) {
    try {
      images = parseImages(d.images);
    } catch (e) {
      throw new StateError('images', (e as Error).message);
    }
  }
  return {
    id: c.id,
    stage: c.stage,
    spec: c.spec,
    targetVersion: num(d, 'targetVersion', 0),
    cancel: d.cancel === '1',
    ...(d.abort ? { abort: d.abort } : {}),
    ...(startedAtMs !== undefined ? { startedAtMs } : {}),
    ...(setupStartedMs !== undefined ? { setupStartedMs } : {}),
    lastDeviceStepMs: num(d, 'lastDeviceStepMs', 0),
    ansCursor: d.ansCursor || '0',
    ...(c.error ? { error: c.error } : {}),
    ...(images ? { images } : {}),
    groups: [group, ...extra],
  };
}

/**
 * The pipeline fields of a state, as hash fields. `stage` and `error` are written by the store with their event;
 * `cancel` is only ever set by a cancel request, and `plan`, `ruleVersion`, `targetVersion`, `images` only at submission.
 */
export function serialiseCampaignState(s: CampaignState): Record<string, string> {
  const g = s.groups[0];
  const str = (n: number | undefined) => (n === undefined ? '' : String(n));
  const extra: Record<string, string> = {};
  if (s.groups.length > 1) {
    extra.groups = String(s.groups.length);
    s.groups.forEach((x, i) => {
      if (i === 0) return;
      extra[`g${i}`] = serialiseExtraGroup(x);
      extra[`g${i}.mcKey`] = x.mcKeyHex;
    });
  }
  return {
    gGroup: keyField(g.key),
    gStage: g.stage,
    gReady: g.ready ? '1' : '0',
    mcAddr: str(g.mcAddr),
    mcKey: g.mcKeyHex,
    groupId: g.groupId ?? '',
    mcFCnt: str(g.mcFCnt),
    mcPending: pendingString(g.mcPending),
    fragAirMs: str(g.fragAirMs),
    bStartMs: str(g.broadcast.startMs),
    bStartN: str(g.broadcast.startN),
    nextN: str(g.broadcast.nextN),
    targetN: str(g.broadcast.targetN),
    statusAskedAt: str(g.status.askedAt),
    statusSentN: str(g.status.sentN),
    rounds: str(g.repair.rounds),
    lossCap: str(g.repair.lossCap),
    fleetLoss: str(g.repair.fleetLoss),
    fragmentsSent: str(g.fragmentsSent),
    airtimeMs: str(g.airtimeMs),
    startedAtMs: str(s.startedAtMs),
    setupStartedMs: str(s.setupStartedMs),
    sessionTimeGps: str(g.session?.timeGps),
    sessionStartMs: str(g.session?.startMs),
    sessionEndMs: str(g.session?.endMs),
    turnFromMs: str(g.turn?.fromMs),
    turnStartMs: str(g.turn?.startMs),
    turnEndMs: str(g.turn?.endMs),
    turnWaitedMs: str(g.turn?.waitedMs),
    lastDeviceStepMs: str(s.lastDeviceStepMs),
    ansCursor: s.ansCursor,
    ...extra,
  };
}

/** Fields of `after` that differ from `before` (what a step has to write). */
export function stateDiff(before: CampaignState, after: CampaignState): Record<string, string> {
  const a = serialiseCampaignState(before);
  const b = serialiseCampaignState(after);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(b)) if (a[k] !== v) out[k] = v;
  // Key material is sealed on its way to the store (src/store/secrets.ts).
  if (out.mcKey !== undefined) out.mcKey = seal(out.mcKey, after.id);
  return out;
}
