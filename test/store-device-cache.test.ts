/** The store's device records kept between steps: its own writes are seen, and so are other processes'. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceState } from '../src/campaign/model.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { REDIS_URL } from './helpers/campaign-env.js';

const dev = (p: string, t: number): DeviceState => ({ p, s: 'Pending', t }) as unknown as DeviceState;

describe('CampaignStore device records cache', () => {
  const prefix = `lfdevcache-${randomUUID().slice(0, 8)}`;
  let ra: Redis;
  let rb: Redis;
  let a: CampaignStore;
  let b: CampaignStore;
  beforeAll(() => {
    ra = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    rb = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    a = new CampaignStore(ra, prefix);
    b = new CampaignStore(rb, prefix);
  });
  afterAll(async () => {
    await a.purgeAll();
    ra.disconnect();
    rb.disconnect();
  });

  it('sees its own writes and those of another store, never a stale record', async () => {
    const id = randomUUID();
    await a.commitStep(id, { fields: {}, devices: new Map([['01', dev('discover', 1)], ['02', dev('discover', 1)]]) });
    expect([...(await a.devices(id))].map(([e, s]) => [e, s.p])).toEqual([['01', 'discover'], ['02', 'discover']]);
    // Its own write after the read: kept without a re-read, and equal to what Redis holds.
    await a.commitStep(id, { fields: {}, devices: new Map([['01', dev('fragSetup', 2)]]) });
    expect((await a.devices(id)).get('01')?.p).toBe('fragSetup');
    expect((await b.devices(id)).get('01')?.p).toBe('fragSetup');
    // Another store writes: the first one reads again.
    await b.commitStep(id, { fields: {}, devices: new Map([['02', dev('ready', 3)]]) });
    const seen = await a.devices(id);
    expect(seen.get('02')?.p).toBe('ready');
    expect(seen.get('01')?.p).toBe('fragSetup');
    // Both write in turn: each sees the other's last record.
    await a.commitStep(id, { fields: {}, devices: new Map([['01', dev('ready', 4)]]) });
    await b.commitStep(id, { fields: {}, devices: new Map([['01', dev('listening', 5)]]) });
    expect((await a.devices(id)).get('01')?.p).toBe('listening');
    // A caller changing the returned map does not change what the next read returns.
    const m = await a.devices(id);
    m.delete('02');
    expect((await a.devices(id)).has('02')).toBe(true);
    expect(await rb.get(`${b.keys.devices(id)}:ver`)).toBe('5');
  });

  it("catches up on another store's writes from the change log, reading only the records they changed", async () => {
    const id = randomUUID();
    const all = new Map(Array.from({ length: 50 }, (_, i) => [i.toString(16).padStart(16, '0'), dev('discover', 1)] as const));
    await a.commitStep(id, { fields: {}, devices: all });
    expect((await a.devices(id)).size).toBe(50);
    await b.commitStep(id, { fields: {}, devices: new Map([['0000000000000003', dev('ready', 2)]]) });
    await b.commitStep(id, { fields: {}, devices: new Map([['0000000000000007', dev('ready', 3)], ['0000000000000003', dev('session', 3)]]) });
    // Count what a's connection asks Redis: one transaction (counter + log) and one HMGET of the 2 records, no HGETALL.
    const sent: string[] = [];
    const orig = ra.sendCommand.bind(ra);
    ra.sendCommand = ((cmd: { name: string; args: unknown[] }) => {
      sent.push(`${cmd.name}:${cmd.name === 'hmget' ? cmd.args.length - 1 : ''}`);
      return orig(cmd as never);
    }) as typeof ra.sendCommand;
    const seen = await a.devices(id);
    ra.sendCommand = orig;
    expect(seen.get('0000000000000003')?.p).toBe('session');
    expect(seen.get('0000000000000007')?.p).toBe('ready');
    expect(seen.get('0000000000000009')?.p).toBe('discover');
    expect(sent.filter((c) => c.startsWith('hgetall'))).toEqual([]);
    expect(sent).toContain('hmget:2');
  });

  it('reads every record again when the change log no longer reaches back to its version', async () => {
    const id = randomUUID();
    await a.commitStep(id, { fields: {}, devices: new Map([['01', dev('discover', 1)]]) });
    expect((await a.devices(id)).get('01')?.p).toBe('discover');
    await b.commitStep(id, { fields: {}, devices: new Map([['01', dev('ready', 2)], ['02', dev('ready', 2)]]) });
    await rb.del(`${b.keys.devices(id)}:chg`); // trimmed away
    const seen = await a.devices(id);
    expect([...seen].map(([e, s]) => [e, s.p])).toEqual([['01', 'ready'], ['02', 'ready']]);
  });
});
