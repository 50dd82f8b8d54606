import { describe, expect, it } from 'vitest';
import { codeLabel, observeChirpstackCall, registry, setStoreSnapshot, timeChirpstackCall, trackUplinks, type StoreSnapshot } from '../src/obs/metrics.js';

async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

describe('metrics', () => {
  it('names gRPC status codes with a bounded set of labels', () => {
    expect(codeLabel(0)).toBe('OK');
    expect(codeLabel(14)).toBe('UNAVAILABLE');
    expect(codeLabel(99)).toBe('UNKNOWN');
    expect(codeLabel('something else')).toBe('UNKNOWN');
  });

  it('times ChirpStack calls and counts the failed ones by RPC and code', async () => {
    observeChirpstackCall('MulticastGroupService.Get', 12, 0);
    await expect(timeChirpstackCall('MulticastGroupService.Enqueue', async () => Promise.reject(Object.assign(new Error('x'), { code: 14 })))).rejects.toThrow('x');
    expect(await timeChirpstackCall('MulticastGroupService.Enqueue', async () => 7)).toBe(7);
    expect(await value('lorafuota_chirpstack_call_duration_seconds', { rpc: 'MulticastGroupService.Enqueue' })).toBeGreaterThan(0);
    expect(await value('lorafuota_chirpstack_call_errors_total', { rpc: 'MulticastGroupService.Enqueue', code: 'UNAVAILABLE' })).toBe(1);
    expect(await value('lorafuota_chirpstack_call_errors_total', { rpc: 'MulticastGroupService.Get' })).toBe(0);
  });

  it('sums the uplink statistics of every tracked worker, as counters that only grow', async () => {
    const a = { accepted: 5, duplicates: 2, malformed: 1, undecodable: 0, macOnly: 0 };
    const b = { processed: 3, ignored: 1, clockSync: 1 };
    trackUplinks(a, b);
    trackUplinks({ accepted: 1, duplicates: 0, malformed: 0, undecodable: 0, macOnly: 1 });
    const text = await registry.metrics();
    expect(text).toMatch(/^lorafuota_uplinks_total\{outcome="accepted"\} 6$/m);
    expect(text).toMatch(/^lorafuota_uplinks_total\{outcome="duplicate"\} 2$/m);
    expect(text).toMatch(/^lorafuota_uplinks_total\{outcome="unknown_device"\} 1$/m);
    a.duplicates += 4;
    expect(await registry.metrics()).toMatch(/^lorafuota_uplinks_total\{outcome="duplicate"\} 6$/m);
  });

  it('reads the fleet gauges from the store snapshot, at most once per cache period, and survives a failed read', async () => {
    let reads = 0;
    const snap: StoreSnapshot = {
      campaignsByStage: { broadcast: 2, done: 1 },
      devicesByStatus: { Pending: 10, Updated: 5 },
      fragmentsSent: { uncoded: 100, coded: 20 },
      repairRounds: 3,
      airtimeSeconds: [{ region: 'EU868', subBand: 'g3 (869.4-869.65)', seconds: 12.5 }],
      queue: { delayed: 2, waiting: 0 },
    };
    setStoreSnapshot(async () => (reads++, snap), 60_000);
    const text = await registry.metrics();
    await registry.metrics();
    expect(reads).toBe(1);
    expect(text).toMatch(/^lorafuota_campaigns\{stage="broadcast"\} 2$/m);
    expect(text).toMatch(/^lorafuota_devices\{status="Updated"\} 5$/m);
    expect(text).toMatch(/^lorafuota_fragments_sent\{kind="coded"\} 20$/m);
    expect(text).toMatch(/^lorafuota_repair_rounds 3$/m);
    expect(text).toMatch(/^lorafuota_multicast_airtime_seconds\{region="EU868",sub_band="g3 \(869.4-869.65\)"\} 12.5$/m);
    expect(text).toMatch(/^lorafuota_queue_jobs\{state="delayed"\} 2$/m);
    setStoreSnapshot(async () => Promise.reject(new Error('redis down')), 0);
    await registry.metrics();
    const after = await registry.metrics();
    expect(after).toMatch(/^lorafuota_repair_rounds 3$/m);
    expect(after).toMatch(/^lorafuota_store_scrape_errors_total [1-9]/m);
    setStoreSnapshot(undefined);
  });
});
