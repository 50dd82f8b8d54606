/**
 * Campaign state in Redis: the only store. Every write that must not be half-done is one MULTI/EXEC.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CampaignSpec } from '../campaign/schema.js';
import type { DeviceState, DeviceStatus, Stage } from '../campaign/model.js';
import { DEVICE_STATUSES, FINAL_STAGES } from '../campaign/model.js';
import { Keys } from './keys.js';

/** Campaign hash fields, parsed. Counters are numbers; JSON fields are parsed objects. */
export interface CampaignRecord {
  id: string;
  name: string;
  stage: Stage;
  createdAt: number;
  updatedAt: number;
  error?: string;
  clientToken?: string;
  spec: Omit<CampaignSpec, 'imageBase64' | 'deltas'>;
  /** Whatever the pipeline keeps between steps (plan, group id, counters). */
  data: Record<string, string>;
  /** Side effects a pipeline step recorded and has not finished carrying out (JSON). */
  intents?: string;
}

export interface CampaignEvent {
  id: string;
  time: number;
  type: string;
  [k: string]: unknown;
}

export interface Answer {
  id: string;
  devEui: string;
  fPort: number;
  hex: string;
  timeMs: number;
}

export interface CampaignSummary {
  campaign: CampaignRecord;
  devices: number;
  byStatus: Partial<Record<DeviceStatus, number>>;
  byPhase: Record<string, number>;
}

/** What one pipeline step writes (see `commitStep`). */
export interface StepWrite {
  fields: Record<string, string>;
  stage?: { stage: Stage; error?: string; deviceEuis: string[]; [k: string]: unknown };
  devices?: Map<string, DeviceState>;
  events?: Record<string, unknown>[];
  intents?: string | null;
  /** Next TS004 v2 SessionCnt of devices whose FragSessionSetupReq this step sends (written before it is sent). */
  sessionCnts?: ReadonlyMap<string, number>;
}

/**
 * Appends an answer unless its marker exists, then sets the marker (kept 10 minutes), in one atomic script: the
 * marker is written after the append, so a failed append leaves none.
 */
const APPEND_ONCE = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV))
redis.call('SET', KEYS[1], '1', 'EX', 600)
return 1`;

/** HGETALL of a campaign hash, without its `spec` field when ARGV[1] is the campaign's createdAt (spec cached). */
const HASH_BUT_SPEC = `
local skip = ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'createdAt') == ARGV[1]
if not skip then return redis.call('HGETALL', KEYS[1]) end
local names = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if f ~= 'spec' then names[#names + 1] = f end
end
if #names == 0 then return {} end
local vals = redis.call('HMGET', KEYS[1], unpack(names))
local out = {}
for i, f in ipairs(names) do out[#out + 1] = f; out[#out + 1] = vals[i] end
return out`;

/** A transaction's replies, or its first error (a transaction aborted by WATCH counts as one). */
function results(res: [Error | null, unknown][] | null, what: string): [Error | null, unknown][] {
  const failed = res?.find(([err]) => err);
  if (!res || failed) throw (failed?.[0] as Error) ?? new Error(`${what}: transaction aborted`);
  return res;
}

const RESERVED = new Set(['name', 'stage', 'createdAt', 'updatedAt', 'error', 'clientToken', 'spec', 'fx']);

/** Device records of a campaign as last read or written by this process, at a version of its devices hash. */
interface DeviceCache {
  ver: number;
  map: Map<string, DeviceState>;
  /** Id of the last change-log entry folded into `map`. */
  lastId: string;
}

/** Change-log entries kept per campaign (about): a cache further behind reads every record again. */
const CHANGE_LOG_LEN = 64;

export class CampaignStore {
  readonly keys: Keys;
  /**
   * Device records by campaign. Every write of a campaign's device records bumps the counter `<devices key>:ver`
   * and appends the DevEUIs it wrote to the change log `<devices key>:chg` (a stream, in the same transaction): a
   * read whose counter matches the cached one parses nothing, and one that is a few writes behind (another worker
   * stepped the campaign) reads just the records those writes changed.
   */
  private readonly deviceCache = new Map<string, DeviceCache>();
  private readonly specCache = new Map<string, { createdAt: string; spec: CampaignRecord['spec'] }>();
  constructor(
    readonly redis: Redis,
    prefix = 'lf',
  ) {
    this.keys = new Keys(prefix);
  }

  /**
   * Stores a validated campaign and its image and claims its devices. Idempotent by clientToken: a repeated
   * submission returns the first campaign's id with created = false. Fails, storing nothing, when a device
   * already belongs to another active campaign.
   */
  async create(
    spec: CampaignSpec,
    image: Uint8Array,
    data: Record<string, string> = {},
    /** Delta images by base firmware version (a delta campaign, docs/delta.md#delta-campaigns). */
    deltaImages: ReadonlyMap<number, Uint8Array> = new Map(),
  ): Promise<{ id: string; created: boolean }> {
    const id = randomUUID();
    const k = this.keys;
    if (spec.clientToken) {
      const won = await this.redis.set(k.token(spec.clientToken), id, 'NX');
      if (won !== 'OK') {
        const existing = await this.redis.get(k.token(spec.clientToken));
        if (existing) return { id: existing, created: false };
      }
    }
    const devEuis = spec.devices.map((d) => d.devEui);
    // Claim devices atomically: none may be in another active campaign.
    const claimed = (await this.redis.eval(
      `for i, d in ipairs(ARGV) do
         if i > 1 and redis.call('HEXISTS', KEYS[1], d) == 1 then return d end
       end
       for i, d in ipairs(ARGV) do
         if i > 1 then redis.call('HSET', KEYS[1], d, ARGV[1]) end
       end
       return ''`,
      1,
      k.deviceIndex(),
      id,
      ...devEuis,
    )) as string;
    if (claimed !== '') {
      if (spec.clientToken) await this.redis.del(k.token(spec.clientToken));
      // Name the campaign that holds the device, so the operator knows what to wait for or cancel.
      const holder = await this.redis.hget(k.deviceIndex(), claimed);
      const holderName = holder ? await this.redis.hget(k.campaign(holder), 'name') : null;
      const which = holder ? ` ${holder}${holderName ? ` ("${holderName}")` : ''}` : '';
      throw new Error(`devices: ${claimed} is already in an active campaign${which}`);
    }
    const now = Date.now();
    const { imageBase64: _omit, deltas: _deltas, ...storedSpec } = spec;
    const devState: DeviceState = { p: 'discover', s: 'Pending', t: now, lw: '1.0' };
    const devFields: string[] = [];
    for (const d of spec.devices) devFields.push(d.devEui, JSON.stringify({ ...devState, lw: d.lorawan }));
    const m = this.redis.multi();
    m.hset(k.campaign(id), {
      ...data,
      name: spec.name,
      stage: 'prepare',
      createdAt: String(now),
      updatedAt: String(now),
      spec: JSON.stringify(storedSpec),
      ...(spec.clientToken ? { clientToken: spec.clientToken } : {}),
    });
    m.set(k.image(id), Buffer.from(image));
    for (const [base, bytes] of deltaImages) m.hset(k.deltaImages(id), String(base), Buffer.from(bytes));
    m.hset(k.devices(id), ...devFields);
    m.zadd(k.campaigns(), now, id);
    m.xadd(...this.eventArgs(id, { type: 'created', time: now, devices: devEuis.length }));
    await m.exec();
    return { id, created: true };
  }

  async get(id: string): Promise<CampaignRecord | null> {
    const key = this.keys.campaign(id);
    // The spec (it lists every device) is written once, at creation: read it only when not cached for this
    // campaign's creation time.
    const hit = this.specCache.get(id);
    const flat = (await this.redis.eval(HASH_BUT_SPEC, 1, key, hit ? hit.createdAt : '')) as string[];
    const h: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
    if (!h.stage) return null;
    const data: Record<string, string> = {};
    for (const [f, v] of Object.entries(h)) if (!RESERVED.has(f)) data[f] = v;
    return {
      id,
      name: h.name ?? '',
      stage: h.stage as Stage,
      createdAt: Number(h.createdAt),
      updatedAt: Number(h.updatedAt),
      ...(h.error ? { error: h.error } : {}),
      ...(h.clientToken ? { clientToken: h.clientToken } : {}),
      ...(h.fx ? { intents: h.fx } : {}),
      spec: h.spec === undefined && hit ? hit.spec : this.parseSpec(id, h.createdAt ?? '', h.spec ?? '{}'),
      data,
    };
  }

  /** The stored spec, parsed once per campaign while it stays the same (it lists every device). */
  private parseSpec(id: string, createdAt: string, raw: string): CampaignRecord['spec'] {
    const spec = JSON.parse(raw) as CampaignRecord['spec'];
    this.specCache.delete(id);
    if (this.specCache.size >= 8) this.specCache.delete(this.specCache.keys().next().value as string);
    this.specCache.set(id, { createdAt, spec });
    return spec;
  }

  async list(): Promise<CampaignRecord[]> {
    const ids = await this.redis.zrange(this.keys.campaigns(), 0, -1);
    const out: CampaignRecord[] = [];
    for (const id of ids) {
      const c = await this.get(id);
      if (c) out.push(c);
    }
    return out;
  }

  async image(id: string): Promise<Uint8Array | null> {
    const b = await this.redis.getBuffer(this.keys.image(id));
    return b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : null;
  }

  /** The delta image for devices running firmware `baseVersion`, if the campaign has one. */
  async deltaImage(id: string, baseVersion: number): Promise<Uint8Array | null> {
    const b = await this.redis.hgetBuffer(this.keys.deltaImages(id), String(baseVersion));
    return b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : null;
  }

  /** Sets pipeline data fields (and updatedAt) in one write. */
  async setData(id: string, fields: Record<string, string | number>): Promise<void> {
    const f: Record<string, string> = { updatedAt: String(Date.now()) };
    for (const [k, v] of Object.entries(fields)) f[k] = String(v);
    await this.redis.hset(this.keys.campaign(id), f);
  }

  /** Moves the campaign to a new stage and records the event. A final stage is never left. */
  async setStage(id: string, stage: Stage, extra: Record<string, unknown> = {}): Promise<void> {
    const cur = await this.redis.hget(this.keys.campaign(id), 'stage');
    if (cur && FINAL_STAGES.includes(cur as Stage)) return;
    const now = Date.now();
    const m = this.redis.multi();
    m.hset(this.keys.campaign(id), {
      stage,
      updatedAt: String(now),
      ...(typeof extra.error === 'string' ? { error: extra.error } : {}),
    });
    m.xadd(...this.eventArgs(id, { type: 'stage', time: now, stage, ...extra }));
    if (FINAL_STAGES.includes(stage)) m.hdel(this.keys.deviceIndex(), ...(await this.deviceEuis(id)));
    await m.exec();
  }

  async deviceEuis(id: string): Promise<string[]> {
    return this.redis.hkeys(this.keys.devices(id));
  }

  async devices(id: string): Promise<Map<string, DeviceState>> {
    const verKey = `${this.keys.devices(id)}:ver`;
    const chgKey = `${this.keys.devices(id)}:chg`;
    const cached = this.deviceCache.get(id);
    if (cached) {
      const res = results(await this.redis.multi().get(verKey).xrange(chgKey, `(${cached.lastId}`, '+').exec(), 'devices');
      const ver = Number(res[0]![1] ?? NaN);
      const entries = res[1]![1] as [string, string[]][];
      if (ver === cached.ver) return new Map(cached.map);
      // Every write since the cached version is in the log: read the records they changed.
      if (entries.length === ver - cached.ver && entries.length > 0) {
        const euis = new Set<string>();
        for (const [, f] of entries) for (const e of (f[1] ?? '').split(',')) if (e) euis.add(e);
        const list = [...euis];
        const vals = list.length ? await this.redis.hmget(this.keys.devices(id), ...list) : [];
        list.forEach((eui, i) => {
          const v = vals[i];
          if (v) cached.map.set(eui, JSON.parse(v) as DeviceState);
        });
        // (Records read here may be newer than `ver`: the entries after `lastId` are read again next time.)
        cached.ver = ver;
        cached.lastId = entries[entries.length - 1]![0];
        return new Map(cached.map);
      }
    }
    const res = results(await this.redis.multi().get(verKey).hgetall(this.keys.devices(id)).xrevrange(chgKey, '+', '-', 'COUNT', 1).exec(), 'devices');
    const ver = res[0]![1] as string | null;
    const h = res[1]![1] as Record<string, string>;
    const last = (res[2]![1] as [string, string[]][])[0]?.[0] ?? '0-0';
    const m = new Map<string, DeviceState>();
    for (const [eui, json] of Object.entries(h)) m.set(eui, JSON.parse(json) as DeviceState);
    this.deviceCache.delete(id);
    if (ver !== null) {
      if (this.deviceCache.size >= 8) this.deviceCache.delete(this.deviceCache.keys().next().value as string);
      this.deviceCache.set(id, { ver: Number(ver), map: new Map(m), lastId: last });
    }
    return m;
  }

  /** Appends the DevEUIs of a write to the campaign's device change log (in the writer's transaction). */
  private logChanges(m: ReturnType<Redis['multi']>, id: string, euis: Iterable<string>): void {
    m.xadd(`${this.keys.devices(id)}:chg`, 'MAXLEN', '~', String(CHANGE_LOG_LEN), '*', 'e', [...euis].join(','));
  }

  /**
   * Writes changed device records, the events they cause, and pipeline data fields (such as the answer cursor) in
   * one transaction, so a worker that dies in between leaves either all or none of it.
   */
  async commit(
    id: string,
    changed: Map<string, DeviceState>,
    events: Record<string, unknown>[],
    data: Record<string, string | number> = {},
  ): Promise<void> {
    const m = this.redis.multi();
    if (changed.size > 0) {
      const fields: string[] = [];
      for (const [eui, st] of changed) fields.push(eui, JSON.stringify(st));
      m.hset(this.keys.devices(id), ...fields);
      m.incr(`${this.keys.devices(id)}:ver`);
      this.logChanges(m, id, changed.keys());
      this.deviceCache.delete(id);
    }
    const now = Date.now();
    for (const e of events) {
      m.xadd(...this.eventArgs(id, { time: now, ...e }));
    }
    const f: Record<string, string> = { updatedAt: String(now) };
    for (const [k, v] of Object.entries(data)) f[k] = String(v);
    m.hset(this.keys.campaign(id), f);
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0] as Error;
  }

  /**
   * One pipeline step's write, in one transaction: the changed state fields, the stage (with its event, and the
   * release of the devices' index entries on a final stage), the changed device records, the step's events and
   * the intents of the side effects about to be carried out (`fx`, JSON; null clears them).
   */
  async commitStep(id: string, w: StepWrite): Promise<void> {
    const m = this.redis.multi();
    const now = Date.now();
    const devWrite = !!w.devices && w.devices.size > 0;
    if (w.devices && devWrite) {
      const fields: string[] = [];
      for (const [eui, st] of w.devices) fields.push(eui, JSON.stringify(st));
      m.hset(this.keys.devices(id), ...fields);
      m.incr(`${this.keys.devices(id)}:ver`);
      this.logChanges(m, id, w.devices.keys());
    }
    const f: Record<string, string> = { updatedAt: String(now), ...w.fields };
    if (w.stage) {
      f.stage = w.stage.stage;
      if (w.stage.error !== undefined) f.error = w.stage.error;
    }
    if (typeof w.intents === 'string') f.fx = w.intents;
    if (w.sessionCnts?.size) m.hset(this.keys.sessionCnts(), ...[...w.sessionCnts].flatMap(([eui, n]) => [eui, String(n)]));
    m.hset(this.keys.campaign(id), f);
    if (w.intents === null) m.hdel(this.keys.campaign(id), 'fx');
    for (const e of w.events ?? []) m.xadd(...this.eventArgs(id, { time: now, ...e }));
    if (w.stage) {
      const { stage, error, deviceEuis, ...extra } = w.stage;
      m.xadd(...this.eventArgs(id, { type: 'stage', time: now, stage, ...(error !== undefined ? { error } : {}), ...extra }));
      if (FINAL_STAGES.includes(stage) && deviceEuis.length) m.hdel(this.keys.deviceIndex(), ...deviceEuis);
    }
    const cached = devWrite ? this.deviceCache.get(id) : undefined;
    if (devWrite) this.deviceCache.delete(id);
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0] as Error;
    // The cache stays good only if no other process wrote the records since it was read (the counter moved by one).
    if (cached && w.devices && res?.[1]?.[1] === cached.ver + 1) {
      for (const [eui, st] of w.devices) cached.map.set(eui, st);
      cached.ver += 1;
      cached.lastId = String(res[2]?.[1] ?? cached.lastId);
      this.deviceCache.set(id, cached);
    }
  }

  /** The next TS004 v2 SessionCnt of each device (0 for a device never given one). */
  async sessionCnts(devEuis: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (devEuis.length === 0) return out;
    const vals = await this.redis.hmget(this.keys.sessionCnts(), ...devEuis);
    devEuis.forEach((eui, i) => {
      const n = Number(vals[i] ?? 0);
      out.set(eui, Number.isInteger(n) && n >= 0 ? n : 0);
    });
    return out;
  }

  /** Which active campaign a device belongs to. */
  async campaignOf(devEui: string): Promise<string | null> {
    return this.redis.hget(this.keys.deviceIndex(), devEui);
  }

  /**
   * Appends device answers (from the uplink intake) to their campaigns' answer streams in one round trip, each at
   * most once per `deduplicationId`: the marker and the append are one script (atomic), so a batch processed again
   * after a crash, or an uplink re-delivered, adds nothing, and no answer is marked without being appended.
   * Returns how many were appended (the others were duplicates).
   */
  async appendAnswers(items: { campaignId: string; devEui: string; fPort: number; hex: string; timeMs: number; deduplicationId?: string }[]): Promise<number> {
    if (items.length === 0) return 0;
    const p = this.redis.pipeline();
    for (const a of items) {
      const fields = ['d', a.devEui, 'p', String(a.fPort), 'x', a.hex, 't', String(a.timeMs)];
      if (a.deduplicationId === undefined) p.xadd(this.keys.answers(a.campaignId), '*', ...fields);
      else p.eval(APPEND_ONCE, 2, this.keys.answerMark(a.campaignId, a.deduplicationId), this.keys.answers(a.campaignId), ...fields);
    }
    const res = (await p.exec()) ?? [];
    const failed = res.find(([err]) => err);
    if (failed) throw failed[0] as Error;
    return res.filter(([, v]) => v !== 0).length;
  }

  /** Answers after `afterId` (exclusive), oldest first. */
  /**
   * Every answer after `afterId`, oldest first, read in pages of `page`. All of them: a step that saw only part of
   * the answers would time out the devices whose answers it had not read yet and send their requests again (after
   * a status request, a fleet of 10,000 answers within seconds).
   */
  async readAnswers(id: string, afterId: string, page = 5000): Promise<Answer[]> {
    const out: Answer[] = [];
    let from = afterId;
    for (;;) {
      const res = await this.redis.xrange(this.keys.answers(id), `(${from}`, '+', 'COUNT', page);
      for (const [sid, f] of res) {
        const o: Record<string, string> = {};
        for (let i = 0; i < f.length; i += 2) o[f[i]!] = f[i + 1]!;
        out.push({ id: sid, devEui: o.d ?? '', fPort: Number(o.p), hex: o.x ?? '', timeMs: Number(o.t) });
      }
      if (res.length < page) return out;
      from = res[res.length - 1]![0];
    }
  }

  /** XADD arguments of one event (the stream keeps about the last 10,000). */
  private eventArgs(id: string, event: Record<string, unknown>): [string, string, string, string, string, string, string] {
    return [this.keys.events(id), 'MAXLEN', '~', '10000', '*', 'e', JSON.stringify(event)];
  }

  async addEvent(id: string, event: Record<string, unknown>): Promise<void> {
    await this.redis.xadd(...this.eventArgs(id, { time: Date.now(), ...event }));
  }

  /** Events after `fromId` ('0' for all); blocks up to blockMs for new ones when blockMs > 0. */
  async readEvents(id: string, fromId = '0', blockMs = 0, count = 1000): Promise<CampaignEvent[]> {
    const key = this.keys.events(id);
    const res =
      blockMs > 0
        ? await this.redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, fromId)
        : await this.redis.xread('COUNT', count, 'STREAMS', key, fromId);
    if (!res) return [];
    const out: CampaignEvent[] = [];
    for (const [, entries] of res) {
      for (const [sid, f] of entries) {
        const ev = JSON.parse(f[1] ?? '{}') as Omit<CampaignEvent, 'id'>;
        out.push({ ...ev, id: sid } as CampaignEvent);
      }
    }
    return out;
  }

  async requestCancel(id: string): Promise<boolean> {
    const c = await this.get(id);
    if (!c) return false;
    if (FINAL_STAGES.includes(c.stage)) return false;
    await this.redis.hset(this.keys.campaign(id), 'cancel', '1');
    await this.addEvent(id, { type: 'cancelRequested' });
    return true;
  }

  async summary(id: string): Promise<CampaignSummary | null> {
    const campaign = await this.get(id);
    if (!campaign) return null;
    const devs = await this.devices(id);
    const byStatus: Partial<Record<DeviceStatus, number>> = {};
    const byPhase: Record<string, number> = {};
    for (const s of DEVICE_STATUSES) byStatus[s] = 0;
    for (const d of devs.values()) {
      byStatus[d.s] = (byStatus[d.s] ?? 0) + 1;
      byPhase[d.p] = (byPhase[d.p] ?? 0) + 1;
    }
    return { campaign, devices: devs.size, byStatus, byPhase };
  }

  /**
   * Bytes Redis uses for every key under this store's prefix (MEMORY USAGE summed over a SCAN), by kind. The
   * uplink de-duplication markers are transient (they expire two minutes after the uplink) and counted apart.
   */
  async memoryUsage(): Promise<{ total: number; transient: number }> {
    let cursor = '0';
    let total = 0;
    let transient = 0;
    const dd = this.keys.dedup('');
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.keys.all(), 'COUNT', 1000);
      cursor = next;
      if (keys.length) {
        const p = this.redis.pipeline();
        for (const k of keys) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
        const res = (await p.exec()) ?? [];
        res.forEach(([, v], i) => {
          if (keys[i]!.startsWith(dd) || keys[i]!.includes('}:dd:')) transient += Number(v ?? 0);
          else total += Number(v ?? 0);
        });
      }
    } while (cursor !== '0');
    return { total, transient };
  }

  /**
   * Drops what a finished campaign no longer needs: the McKey, the consumed answers, the image, the per-device events
   * (the device records keep every device's final status and reason). Campaign-level events (stages, plan,
   * repair rounds, the report) stay, with their ids, so `watch` still replays the campaign's history.
   */
  async release(id: string): Promise<void> {
    const key = this.keys.events(id);
    const all = await this.redis.xrange(key, '-', '+');
    const perDevice = new Set(['device', 'badAnswer']);
    const keep = all.filter(([, f]) => !perDevice.has((JSON.parse(f[1] ?? '{}') as { type?: string }).type ?? ''));
    const m = this.redis.multi();
    m.del(this.keys.answers(id), this.keys.image(id), this.keys.deltaImages(id), key, `${this.keys.devices(id)}:chg`);
    // The campaign's McKey is not needed any more: no key material stays behind a finished campaign.
    m.hdel(this.keys.campaign(id), 'mcKey');
    for (const [sid, f] of keep) m.xadd(key, sid, ...f);
    await m.exec();
  }

  /** Deletes every key under this store's prefix (tests and demo clean-up). */
  async purgeAll(): Promise<number> {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.keys.all(), 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await this.redis.del(...keys);
    } while (cursor !== '0');
    return n;
  }
}
