/**
 * What the service does with each uplink from the integration: answer clock-sync requests at once (TS003), and
 * append every other application-layer answer of a device in a campaign to that campaign's answer stream, where
 * the pipeline step picks it up. Batched: one Redis round trip to find the campaigns and one to append.
 */
import { DEFAULT_PORTS, decodeCommands, encodeCommands } from '../codec/frame.js';
import { unixMsToGps } from '../codec/gpstime.js';
import type { CampaignSpec } from '../campaign/schema.js';
import type { NormalizedUplink } from '../chirpstack/uplink-event.js';
import type { WorkerContext } from './context.js';
import { pMap } from './pipeline/pmap.js';
import { countUplink } from '../obs/metrics.js';

export type { NormalizedUplink };

const portsCache = new Map<string, CampaignSpec['ports']>();

async function portsOf(ctx: WorkerContext, campaignId: string): Promise<CampaignSpec['ports'] | undefined> {
  let p = portsCache.get(campaignId);
  if (!p) {
    const c = await ctx.store.get(campaignId);
    if (!c) return undefined;
    p = c.spec.ports;
    portsCache.set(campaignId, p);
  }
  return p;
}

/** AppTimeAns for an AppTimeReq received at `rxGps` (TS003-2.0.0 §3.2; docs/protocol.md §2): none when the correction is 0 and no answer is required. */
export function appTimeAnswer(deviceTime: number, ansRequired: boolean, tokenReq: number, rxGps: number): Uint8Array | null {
  const correction = (rxGps - deviceTime) | 0; // modulo 2^32, as a signed 32-bit value
  if (correction === 0 && !ansRequired) return null;
  return encodeCommands('ts003', 'downlink', [{ type: 'AppTimeAns', timeCorrection: correction, tokenAns: tokenReq }]);
}

export interface UplinkCounters {
  processed: number;
  ignored: number;
  clockSync: number;
}

export async function processUplinks(ctx: WorkerContext, ups: NormalizedUplink[], counters?: UplinkCounters): Promise<void> {
  const withData = ups.filter((u) => u.fPort > 0 && u.data.length > 0);
  if (withData.length === 0) return;
  // Answers are appended at least once: the de-duplication (drop what this or another worker already appended)
  // is in the same atomic script as the append (CampaignStore.appendAnswers), never before it, so a worker that
  // dies after marking cannot lose an answer. Clock-sync requests are de-duplicated up front (a lost one is asked
  // again by the device).
  const ids = await ctx.store.redis.hmget(ctx.store.keys.deviceIndex(), ...withData.map((u) => u.devEui));
  const answers: { campaignId: string; devEui: string; fPort: number; hex: string; timeMs: number; deduplicationId: string }[] = [];
  const clock: { devEui: string; port: number; bytes: Uint8Array; deduplicationId: string }[] = [];
  for (let i = 0; i < withData.length; i++) {
    const u = withData[i]!;
    const campaignId = ids[i];
    // Clock sync is a service to every device of the application, in a campaign or not (a device synchronised
    // before the campaign starts is one whose session start will not be missed).
    const ports = campaignId ? await portsOf(ctx, campaignId) : DEFAULT_PORTS;
    if (!ports) continue;
    if (u.fPort === ports.ts003) {
      const dec = decodeCommands('ts003', 'uplink', u.data);
      const rxGps = u.gpsTimeMs !== undefined ? Math.floor(u.gpsTimeMs / 1000) : unixMsToGps(u.timeMs);
      for (const cmd of dec.commands) {
        if (cmd.type !== 'AppTimeReq') continue;
        const ans = appTimeAnswer(cmd.deviceTime, cmd.ansRequired, cmd.tokenReq, rxGps);
        if (ans) clock.push({ devEui: u.devEui, port: ports.ts003, bytes: ans, deduplicationId: u.deduplicationId });
      }
      continue;
    }
    if (!campaignId) {
      if (counters) counters.ignored++;
      continue;
    }
    answers.push({ campaignId, devEui: u.devEui, fPort: u.fPort, hex: Buffer.from(u.data).toString('hex'), timeMs: u.timeMs, deduplicationId: u.deduplicationId });
  }
  const appended = await ctx.store.appendAnswers(answers);
  let duplicates = answers.length - appended;
  if (clock.length) {
    const p = ctx.store.redis.pipeline();
    for (const a of clock) p.set(ctx.store.keys.dedup(a.deduplicationId), '1', 'EX', 120, 'NX');
    const first = (await p.exec()) ?? [];
    const fresh = clock.filter((_, i) => first[i]?.[1] === 'OK');
    duplicates += clock.length - fresh.length;
    clock.splice(0, clock.length, ...fresh);
  }
  countUplink('duplicate', duplicates); // seen by another worker (or this one, before a crash)
  // One clock answer queued per device at a time: a Class A device takes one downlink per uplink, and a queue of
  // stale AppTimeAns would delay the campaign's own requests (and the session start) behind them.
  await pMap(clock, 16, async (a) => {
    try {
      const queued = await ctx.chirpstack.getDeviceQueue(a.devEui);
      if (queued.some((q) => q.fPort === a.port)) return;
      await ctx.chirpstack.enqueueDownlink(a.devEui, { fPort: a.port, data: a.bytes });
    } catch (e) {
      ctx.log.warn({ devEui: a.devEui, err: (e as Error).message }, 'AppTimeAns not enqueued');
    }
  });
  if (counters) {
    counters.processed += appended;
    counters.clockSync += clock.length;
  }
}
