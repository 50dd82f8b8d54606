/**
 * The process's Prometheus metrics: one registry, every series defined here, and the small functions the rest of
 * the code calls to feed them. Only prom-client is imported, so any layer may call in.
 *
 * Two kinds of series:
 * - per-process counters and histograms fed by one-line hooks (ChirpStack calls, uplinks, pipeline steps, API
 *   requests);
 * - fleet gauges read from the Redis store at scrape time through `setStoreSnapshot` (campaigns by stage, devices
 *   by status, fragments, repair rounds, airtime, queue depth), cached for a few seconds, so that every process
 *   that serves /metrics shows the same figures and the pipeline needs no hooks for them.
 *
 * Labels are bounded: stage, status, outcome, rpc, code, region, sub-band, kind. Never a DevEUI or campaign id.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'lorafuota_' });

/** gRPC status names by code (so this module needs no gRPC import). */
const GRPC_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/** A status code (number) or name as a bounded label value. */
export function codeLabel(code: unknown): string {
  if (typeof code === 'number') return GRPC_CODES[code] ?? 'UNKNOWN';
  if (typeof code === 'string' && (GRPC_CODES as readonly string[]).includes(code)) return code;
  return 'UNKNOWN';
}

// ---- per-process series (hooks) ----

const chirpstackDuration = new Histogram({
  name: 'lorafuota_chirpstack_call_duration_seconds',
  help: 'ChirpStack gRPC API call latency per attempt, by RPC and status code',
  labelNames: ['rpc', 'code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const chirpstackErrors = new Counter({
  name: 'lorafuota_chirpstack_call_errors_total',
  help: 'ChirpStack gRPC API call attempts that failed, by RPC and status code',
  labelNames: ['rpc', 'code'] as const,
  registers: [registry],
});

/** One attempt of a ChirpStack call: the RPC name, its duration and its status (number or name; 0 = OK). */
export function observeChirpstackCall(rpc: string, ms: number, code: unknown): void {
  const c = codeLabel(code);
  chirpstackDuration.observe({ rpc, code: c }, ms / 1000);
  if (c !== 'OK') chirpstackErrors.inc({ rpc, code: c });
}

/** Runs one ChirpStack call attempt and records it (the error's `code` field, if any, is its status). */
export async function timeChirpstackCall<T>(rpc: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const res = await fn();
    observeChirpstackCall(rpc, performance.now() - t0, 0);
    return res;
  } catch (e) {
    observeChirpstackCall(rpc, performance.now() - t0, (e as { code?: unknown }).code);
    throw e;
  }
}

export const UPLINK_OUTCOMES = ['accepted', 'duplicate', 'malformed', 'mac_only', 'undecodable', 'unknown_device', 'answer', 'clock_sync'] as const;
export type UplinkOutcome = (typeof UPLINK_OUTCOMES)[number];

/** Uplink intake statistics objects of the workers in this process (counters only grow, so their sums do too). */
interface IntakeStatsLike {
  accepted: number;
  duplicates: number;
  malformed: number;
  undecodable: number;
  macOnly: number;
}
interface UplinkCountersLike {
  processed: number;
  ignored: number;
  clockSync: number;
}
const intakeSources = new Set<IntakeStatsLike>();
const counterSources = new Set<UplinkCountersLike>();
const direct = new Map<UplinkOutcome, number>();

function uplinkTotals(): Record<UplinkOutcome, number> {
  const t: Record<UplinkOutcome, number> = { accepted: 0, duplicate: 0, malformed: 0, mac_only: 0, undecodable: 0, unknown_device: 0, answer: 0, clock_sync: 0 };
  for (const s of intakeSources) {
    t.accepted += s.accepted;
    t.duplicate += s.duplicates;
    t.malformed += s.malformed;
    t.undecodable += s.undecodable;
    t.mac_only += s.macOnly;
  }
  for (const c of counterSources) {
    t.unknown_device += c.ignored;
    t.answer += c.processed;
    t.clock_sync += c.clockSync;
  }
  for (const [k, v] of direct) t[k] += v;
  return t;
}

const uplinkSeen: Record<string, number> = {};
new Counter({
  name: 'lorafuota_uplinks_total',
  help: 'Uplinks from the ChirpStack integration by outcome: accepted or dropped (duplicate, malformed, mac_only), and of the accepted ones: answer (to a campaign), clock_sync, unknown_device (in no campaign), undecodable',
  labelNames: ['outcome'] as const,
  registers: [registry],
  collect() {
    const t = uplinkTotals();
    for (const o of UPLINK_OUTCOMES) {
      const delta = t[o] - (uplinkSeen[o] ?? 0);
      if (delta > 0) this.inc({ outcome: o }, delta);
      else if (uplinkSeen[o] === undefined) this.inc({ outcome: o }, 0);
      uplinkSeen[o] = t[o];
    }
  },
});

/**
 * Counts the uplinks of one worker: its intake's statistics and its uplink counters are read at scrape time
 * (one call when the worker starts; either argument may be omitted).
 */
export function trackUplinks(intakeStats?: IntakeStatsLike, counters?: UplinkCountersLike): void {
  if (intakeStats) intakeSources.add(intakeStats);
  if (counters) counterSources.add(counters);
}

/** Counts one uplink outcome directly (for code that keeps no statistics object). */
export function countUplink(outcome: UplinkOutcome, n = 1): void {
  direct.set(outcome, (direct.get(outcome) ?? 0) + n);
}

const stepDuration = new Histogram({
  name: 'lorafuota_step_duration_seconds',
  help: 'Duration of one campaign pipeline step (an advance job), by result',
  labelNames: ['result'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export function observeStep(ms: number, result: 'ok' | 'error' = 'ok'): void {
  stepDuration.observe({ result }, ms / 1000);
}

/** Runs one pipeline step and records its duration. */
export async function timeStep<T>(fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const r = await fn();
    observeStep(performance.now() - t0, 'ok');
    return r;
  } catch (e) {
    observeStep(performance.now() - t0, 'error');
    throw e;
  }
}

const apiRequests = new Counter({
  name: 'lorafuota_http_requests_total',
  help: 'Requests to the HTTP console and API, by route and status code',
  labelNames: ['route', 'code'] as const,
  registers: [registry],
});

export function countHttpRequest(route: string, code: number): void {
  apiRequests.inc({ route, code: String(code) });
}

// ---- fleet gauges, collected from the store at scrape time ----

export interface StoreSnapshot {
  /** Campaigns by stage. */
  campaignsByStage: Record<string, number>;
  /** Devices by status, over every stored campaign. */
  devicesByStatus: Record<string, number>;
  /** Multicast DataFragments that reached ChirpStack's queue, by kind (uncoded, coded). */
  fragmentsSent: { uncoded: number; coded: number };
  repairRounds: number;
  /** Multicast airtime used (s, summed over gateways), by region and sub-band. */
  airtimeSeconds: { region: string; subBand: string; seconds: number }[];
  /** Campaign queue jobs by state (waiting, delayed, active, failed). */
  queue: Record<string, number>;
}

let snapshotSource: (() => Promise<StoreSnapshot>) | undefined;
let cached: { at: number; value: Promise<StoreSnapshot> } | undefined;
let cacheMs = 5000;

/** Where the fleet gauges come from (at most one read per `maxAgeMs`). Pass undefined to stop. */
export function setStoreSnapshot(fn: (() => Promise<StoreSnapshot>) | undefined, maxAgeMs = 5000): void {
  snapshotSource = fn;
  cacheMs = maxAgeMs;
  cached = undefined;
}

async function snapshot(): Promise<StoreSnapshot | undefined> {
  if (!snapshotSource) return undefined;
  const now = Date.now();
  if (!cached || now - cached.at >= cacheMs) {
    const value = snapshotSource();
    cached = { at: now, value };
    value.catch(() => {
      storeErrors.inc();
      if (cached?.value === value) cached = undefined;
    });
  }
  try {
    return await cached.value;
  } catch {
    return undefined;
  }
}

function fleetGauge<L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>, s: StoreSnapshot) => void): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      fill(this, s);
    },
  });
}

fleetGauge('lorafuota_campaigns', 'Stored campaigns by stage', ['stage'], (g, s) => {
  for (const [stage, n] of Object.entries(s.campaignsByStage)) g.set({ stage }, n);
});
fleetGauge('lorafuota_devices', 'Devices of stored campaigns by status (a device in two campaigns counts twice)', ['status'], (g, s) => {
  for (const [status, n] of Object.entries(s.devicesByStatus)) g.set({ status }, n);
});
fleetGauge('lorafuota_fragments_sent', 'Multicast DataFragments sent over every stored campaign, by kind', ['kind'], (g, s) => {
  g.set({ kind: 'uncoded' }, s.fragmentsSent.uncoded);
  g.set({ kind: 'coded' }, s.fragmentsSent.coded);
});
fleetGauge('lorafuota_repair_rounds', 'Repair rounds run over every stored campaign', [], (g, s) => {
  g.set(s.repairRounds);
});
fleetGauge('lorafuota_multicast_airtime_seconds', 'Multicast airtime used over every stored campaign (summed over gateways), by region and sub-band', ['region', 'sub_band'], (g, s) => {
  for (const a of s.airtimeSeconds) g.set({ region: a.region, sub_band: a.subBand }, a.seconds);
});
fleetGauge('lorafuota_queue_jobs', 'Campaign queue (BullMQ) jobs by state', ['state'], (g, s) => {
  for (const [state, n] of Object.entries(s.queue)) g.set({ state }, n);
});

const storeErrors = new Counter({
  name: 'lorafuota_store_scrape_errors_total',
  help: 'Failed reads of the Redis store for the fleet gauges (the gauges then keep their last values)',
  registers: [registry],
});

/** The exposition text and its content type. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
