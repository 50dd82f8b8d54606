/**
 * Fleet figures read from the Redis store: per-campaign device counts and the snapshot behind the fleet gauges of
 * /metrics. A campaign in a final stage never changes again, so its figures are read once and kept; active ones
 * are re-read when asked (callers cache: the metrics module for a few seconds).
 */
import type { Queue } from 'bullmq';
import { FINAL_STAGES } from '../campaign/model.js';
import type { Stage } from '../campaign/model.js';
import { subBandFor, isRegion } from '../codec/region.js';
import type { CampaignRecord, CampaignStore } from '../store/campaign-store.js';
import type { StoreSnapshot } from './metrics.js';

/** What one campaign contributes to the fleet figures. */
export interface CampaignFigures {
  stage: Stage;
  byStatus: Record<string, number>;
  fragmentsSent: number;
  nbFrag: number;
  repairRounds: number;
  region: string;
  subBand: string;
  airtimeSeconds: number;
}

function num(v: string | undefined): number {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function subBandName(region: string, freqHz: number): string {
  if (!isRegion(region)) return 'unknown';
  try {
    return subBandFor(region, freqHz).name;
  } catch {
    return 'unknown';
  }
}

/** The figures of one stored campaign (reads its device records). */
export async function campaignFigures(store: CampaignStore, c: CampaignRecord): Promise<CampaignFigures> {
  const byStatus: Record<string, number> = {};
  const devs = await store.redis.hvals(store.keys.devices(c.id));
  for (const json of devs) {
    const m = /"s":"([A-Za-z]+)"/.exec(json);
    const s = m?.[1] ?? 'Unknown';
    byStatus[s] = (byStatus[s] ?? 0) + 1;
  }
  let nbFrag = 0;
  try {
    nbFrag = Number((JSON.parse(c.data.plan ?? '{}') as { nbFrag?: unknown }).nbFrag) || 0;
  } catch {
    nbFrag = 0;
  }
  const region = c.spec.multicast?.region ?? 'unknown';
  return {
    stage: c.stage,
    byStatus,
    fragmentsSent: num(c.data.fragmentsSent),
    nbFrag,
    repairRounds: num(c.data.rounds),
    region,
    subBand: subBandName(region, c.spec.multicast?.frequencyHz ?? 0),
    airtimeSeconds: num(c.data.airtimeMs) / 1000,
  };
}

export class FleetReader {
  private readonly finished = new Map<string, CampaignFigures>();

  constructor(
    readonly store: CampaignStore,
    private readonly queue?: Queue,
  ) {}

  /** Figures of one campaign, from the cache when it is final. */
  async figures(c: CampaignRecord): Promise<CampaignFigures> {
    const kept = this.finished.get(c.id);
    if (kept) return kept;
    const f = await campaignFigures(this.store, c);
    if (FINAL_STAGES.includes(c.stage)) this.finished.set(c.id, f);
    return f;
  }

  /** Every stored campaign's figures (final campaigns are not re-read). */
  async all(): Promise<Map<string, CampaignFigures>> {
    const ids = await this.store.redis.zrange(this.store.keys.campaigns(), 0, -1);
    const out = new Map<string, CampaignFigures>();
    for (const id of ids) {
      const kept = this.finished.get(id);
      if (kept) {
        out.set(id, kept);
        continue;
      }
      const c = await this.store.get(id);
      if (c) out.set(id, await this.figures(c));
    }
    return out;
  }

  /** The fleet gauges' snapshot. */
  async snapshot(): Promise<StoreSnapshot> {
    const s: StoreSnapshot = {
      campaignsByStage: {},
      devicesByStatus: {},
      fragmentsSent: { uncoded: 0, coded: 0 },
      repairRounds: 0,
      airtimeSeconds: [],
      queue: {},
    };
    const air = new Map<string, { region: string; subBand: string; seconds: number }>();
    for (const f of (await this.all()).values()) {
      s.campaignsByStage[f.stage] = (s.campaignsByStage[f.stage] ?? 0) + 1;
      for (const [st, n] of Object.entries(f.byStatus)) s.devicesByStatus[st] = (s.devicesByStatus[st] ?? 0) + n;
      const uncoded = Math.min(f.fragmentsSent, f.nbFrag);
      s.fragmentsSent.uncoded += uncoded;
      s.fragmentsSent.coded += f.fragmentsSent - uncoded;
      s.repairRounds += f.repairRounds;
      const k = `${f.region}\0${f.subBand}`;
      const a = air.get(k) ?? { region: f.region, subBand: f.subBand, seconds: 0 };
      a.seconds += f.airtimeSeconds;
      air.set(k, a);
    }
    s.airtimeSeconds = [...air.values()];
    if (this.queue) {
      const counts = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
      for (const [state, n] of Object.entries(counts)) s.queue[state] = n;
    }
    return s;
  }
}
