import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignLogLines, followCampaignLogs, newLogState, type LogLine } from '../src/obs/campaign-log.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { redisUrl } from '../src/store/queue.js';
import { randomBytes } from 'node:crypto';

const ID = 'c-1';

describe('campaign events as log lines', () => {
  it('logs stage changes, repair rounds, final device statuses once, and the end with counts', () => {
    const state = newLogState();
    const lines = campaignLogLines(
      ID,
      [
        { type: 'created', time: 1, devices: 3 },
        { type: 'stage', time: 2, stage: 'setup', groupId: 'g-1' },
        { type: 'device', devEui: 'a', phase: 'fragSetup', status: 'Pending' },
        { type: 'device', devEui: 'b', status: 'McGroupError', reason: 'key error' },
        { type: 'repair', time: 3, round: 1, fragments: 12, devices: 2, worst: 9 },
        { type: 'device', devEui: 'a', phase: 'cleanup', status: 'Updated' },
        { type: 'device', devEui: 'a', phase: 'final', status: 'Updated' },
        { type: 'badAnswer', devEui: 'c', hex: '00' },
        { type: 'report', time: 4, devices: 3, updated: 1, failed: 2, byStatus: { Updated: 1, McGroupError: 1, Timeout: 1 }, fragmentsSent: 40, repairRounds: 1 },
        { type: 'stage', time: 5, stage: 'done' },
      ],
      state,
    );
    expect(lines).toEqual<LogLine[]>([
      { level: 'info', obj: { campaign: ID, devices: 3 }, msg: 'campaign created' },
      { level: 'info', obj: { campaign: ID, stage: 'setup', groupId: 'g-1' }, msg: 'stage setup' },
      { level: 'info', obj: { campaign: ID, devEui: 'b', status: 'McGroupError', reason: 'key error' }, msg: 'device failed: McGroupError' },
      { level: 'info', obj: { campaign: ID, round: 1, fragments: 12, devices: 2, worst: 9 }, msg: 'repair round 1: 12 more fragments' },
      { level: 'info', obj: { campaign: ID, devEui: 'a', status: 'Updated' }, msg: 'device updated' },
      {
        level: 'info',
        obj: { campaign: ID, devices: 3, updated: 1, failed: 2, byStatus: { Updated: 1, McGroupError: 1, Timeout: 1 }, fragmentsSent: 40, repairRounds: 1 },
        msg: 'campaign ended: 1/3 updated',
      },
      { level: 'info', obj: { campaign: ID, stage: 'done' }, msg: 'stage done' },
    ]);
    // The state carries over between batches: a device already logged final is not logged again.
    expect(campaignLogLines(ID, [{ type: 'device', devEui: 'a', phase: 'final', status: 'Updated' }], state)).toEqual([]);
  });

  it('never logs a field named like key material, and logs a failed stage as a warning', () => {
    const lines = campaignLogLines(ID, [{ type: 'stage', stage: 'failed', error: 'boom', mcKey: '00'.repeat(16), appSKey: 'ff' }]);
    expect(lines).toEqual([{ level: 'warn', obj: { campaign: ID, stage: 'failed', error: 'boom' }, msg: 'stage failed' }]);
  });

  it('says which group waits for its turn on shared gateways, for whom, and when turns start and end', () => {
    const lines = campaignLogLines(ID, [
      { type: 'turnPlan', time: 1, groups: [{ group: 0, startInSeconds: 0 }, { group: 1, startInSeconds: 900 }], etaSeconds: 2600 },
      { type: 'turnStart', time: 1, group: 0, key: 'EU868/C/v1', waitedSeconds: 0, fragmentIntervalMs: 5000 },
      { type: 'turnWait', time: 1, group: 1, key: 'EU868/B/v2', waitsFor: [0], gateways: ['0016c001f153a14c'] },
      { type: 'turnEnd', time: 2, group: 0, key: 'EU868/C/v1', heldSeconds: 1240 },
      { type: 'turnStart', time: 2, group: 1, key: 'EU868/B/v2', waitedSeconds: 1240, fragmentIntervalMs: 5000 },
    ]);
    expect(lines.map((l) => l.msg)).toEqual([
      'groups on shared gateways take turns: ETA 2600 s',
      'group 0 (EU868/C/v1) starts its turn after 0 s',
      'group 1 (EU868/B/v2) waits for its turn: gateways 0016c001f153a14c busy with group 0',
      'group 0 (EU868/C/v1) ends its turn after 1240 s',
      'group 1 (EU868/B/v2) starts its turn after 1240 s',
    ]);
    // (The group's key is in the message: fields named like key material never go into a line's object.)
    expect(lines[2]!.obj).toEqual({ campaign: ID, group: 1, waitsFor: [0], gateways: ['0016c001f153a14c'] });
    expect(lines.every((l) => l.level === 'info')).toBe(true);
  });
});

describe('followCampaignLogs', () => {
  let store: CampaignStore;
  beforeAll(() => {
    store = new CampaignStore(new Redis(redisUrl()), `t-log-${randomBytes(6).toString('hex')}`);
  });
  afterAll(async () => {
    await store.purgeAll();
    await store.redis.quit();
  });

  it('tails active campaigns: new events of a campaign running at start, all events of one created later, none of one already over', async () => {
    const spec = (eui: string) => ({ name: 'n', devices: [{ devEui: eui, lorawan: '1.0' }] }) as never;
    const running = (await store.create(spec('0000000000000001'), new Uint8Array(1))).id;
    await store.setStage(running, 'setup');
    const over = (await store.create(spec('0000000000000002'), new Uint8Array(1))).id;
    await store.setStage(over, 'done');
    const got: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const log = { info: (obj: object, msg: string) => got.push({ level: 'info', obj: obj as Record<string, unknown>, msg }), warn: (obj: object, msg: string) => got.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) };
    const f = followCampaignLogs({ redis: store.redis, prefix: store.keys.prefix, log, intervalMs: 50 });
    try {
      await new Promise((r) => setTimeout(r, 150));
      expect(got).toEqual([]);
      await store.commit(running, new Map(), [{ type: 'repair', round: 1, fragments: 5, devices: 1, worst: 4 }]);
      const later = (await store.create(spec('0000000000000003'), new Uint8Array(1))).id;
      await store.setStage(running, 'done');
      for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 150));
      expect(got.map((l) => [l.obj.campaign, l.msg])).toEqual([
        [running, 'repair round 1: 5 more fragments'],
        [running, 'stage done'],
        [later, 'campaign created'],
      ]);
    } finally {
      await f.close();
    }
  });
});
