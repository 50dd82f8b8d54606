/**
 * A delta campaign's images in the store and the API view: the delta images stored by base version and released
 * with the campaign, the image table parsed into the state, the group keys with their base round-tripped through the
 * campaign hash, and the savings in the campaign view.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { campaignView, savingsOf } from '../src/api/campaign-view.js';
import { prepareCampaign } from '../src/service/submit.js';
import { serialiseImages } from '../src/campaign/images.js';
import { CampaignStore } from '../src/store/campaign-store.js';
import { parseCampaignState, serialiseCampaignState } from '../src/store/campaign-state.js';
import { REDIS_URL } from './helpers/campaign-env.js';
import { BASE_A, BASE_B, DELTA_A, DELTA_B, FULL, VA, VB, key } from './helpers/delta-fixtures.js';
import { PipelineHarness } from './helpers/pipeline-harness.js';

describe('delta images in the store', () => {
  const store = new CampaignStore(new Redis(REDIS_URL), `lftest-${randomUUID().slice(0, 8)}`);
  afterAll(async () => {
    await store.purgeAll();
    store.redis.disconnect();
  });

  it('stores each delta by base version, keeps them out of the spec, parses the image table, releases them', async () => {
    const h = new PipelineHarness({ devices: 2, loss: 0, seed: 3, images: { key, full: FULL, deltas: [DELTA_A, DELTA_B], baseImageOf: () => BASE_A } });
    const { spec, image, plan, targetVersion, deltas } = prepareCampaign(h.spec);
    const data = { plan: JSON.stringify(plan), targetVersion: String(targetVersion), ruleVersion: '1', images: serialiseImages(deltas!.images) };
    const { id } = await store.create(spec, image, data, deltas!.bytes);
    const rec = (await store.get(id))!;
    expect(rec.spec).not.toHaveProperty('deltas');
    expect(rec.spec).not.toHaveProperty('imageBase64');
    expect(Buffer.from((await store.deltaImage(id, VA))!).equals(Buffer.from(DELTA_A))).toBe(true);
    expect(Buffer.from((await store.deltaImage(id, VB))!).equals(Buffer.from(DELTA_B))).toBe(true);
    expect(await store.deltaImage(id, 0x01000000)).toBeNull();
    const st = parseCampaignState(rec);
    expect(st.images).toEqual({ fullBytes: FULL.length, deltas: [expect.objectContaining({ baseVersion: VA, bytes: DELTA_A.length }), expect.objectContaining({ baseVersion: VB, bytes: DELTA_B.length })] });
    await store.release(id);
    expect(await store.deltaImage(id, VA)).toBeNull();
  });

  it('refuses a bad image table, naming the field', () => {
    const h = new PipelineHarness({ devices: 2, loss: 0, seed: 3 });
    const rec = { id: 'x', name: 'x', stage: 'setup' as const, createdAt: 0, updatedAt: 0, spec: h.state.spec, data: { ...serialiseCampaignState(h.state), plan: JSON.stringify(h.state.groups[0].plan), images: '{"fullBytes":10,"deltas":[{"baseVersion":-1}]}' } };
    expect(() => parseCampaignState(rec)).toThrow(/campaign state: images: deltas\[0\]\.baseVersion: not a u32/);
  });
});

describe('a finished delta campaign, stored and viewed', () => {
  const h = new PipelineHarness({ devices: 6, loss: 0.05, seed: 5, images: { key, full: FULL, deltas: [DELTA_A, DELTA_B], baseImageOf: (i) => (i % 2 ? BASE_A : BASE_B) } });
  h.run();
  const rec = {
    id: h.state.id,
    name: 'delta',
    stage: h.state.stage,
    createdAt: 0,
    updatedAt: 0,
    spec: h.state.spec,
    data: { ...serialiseCampaignState(h.state), plan: JSON.stringify(h.state.groups[0].plan), targetVersion: String(h.state.targetVersion), images: serialiseImages(h.state.images!) },
  };

  it('round-trips the groups with their base through the campaign hash', () => {
    expect(h.byStatus()).toEqual({ Updated: 6 });
    const back = parseCampaignState(rec);
    expect(back.groups.map((g) => g.key)).toEqual(h.state.groups.map((g) => g.key));
    expect(back.groups.map((g) => g.key.base).filter((b) => b !== undefined).sort()).toEqual([VA, VB]);
  });

  it('shows the savings in the campaign view as the report does', () => {
    const report = h.events.find((e) => e.type === 'report')!;
    const view = campaignView(rec, h.devices, false);
    const shown = JSON.parse(view.data.savings!) as Record<string, unknown> & { groups: Record<string, unknown>[] };
    expect(shown).toMatchObject(report.savings as object);
    expect(shown.groups.filter((g) => g.image === 'delta').map((g) => g.savedBytes).sort()).toEqual([FULL.length - DELTA_A.length, FULL.length - DELTA_B.length].sort());
    expect(savingsOf({ ...rec, data: { ...rec.data, images: '' } })).toBeUndefined();
  });
});
