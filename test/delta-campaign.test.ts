/**
 * Delta campaigns (docs/delta.md#delta-campaigns) over the simulator in virtual time: devices on two base versions
 * each get the delta for their base through a multicast group of their own, devices on an unknown base get the
 * full image, every device runs the new version after its own image check; the air time against the same fleet's
 * full-image campaign; a device whose base firmware differs from the delta's base fails with that reason; the
 * submission checks of the delta images.
 */
import { describe, expect, it } from 'vitest';
import { prepareCampaign } from '../src/service/submit.js';
import { decodeImageHeader, versionToU32 } from '../src/codec/image-header.js';
import { applyImage } from '../src/device/image-apply.js';
import { formatPublicKeyFile } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import { parseKey } from '../src/store/campaign-state.js';
import { SpecError } from '../src/campaign/schema.js';
import { DEVICE_CLASS, PipelineHarness } from './helpers/pipeline-harness.js';
import { firmware } from './image-fixtures.js';
import { BASE_A, BASE_B, DELTA_A, DELTA_B, FULL, FW_A, FW_B, NEW, TARGET, VA, VB, key, other, sign } from './helpers/delta-fixtures.js';

/** Device i runs base A (i % 3 = 0), base B (1), or 1.0.0 without a delta (2). */
const baseOfDevice = (i: number) => (i % 3 === 0 ? BASE_A : i % 3 === 1 ? BASE_B : undefined);
const fleet = { devices: 18, loss: 0.1, seed: 41, mix: { 'loramac-node': 1, 'lbm-v1': 1 } } as const;

function reportOf(h: PipelineHarness): Record<string, unknown> & { airtimeSeconds: number } {
  return h.events.find((e) => e.type === 'report') as Record<string, unknown> & { airtimeSeconds: number };
}

describe('a delta campaign over the simulator', () => {
  const h = new PipelineHarness({ ...fleet, images: { key, full: FULL, deltas: [DELTA_A, DELTA_B], baseImageOf: baseOfDevice } });
  h.run();
  const full = new PipelineHarness({ ...fleet, images: { key, full: FULL, baseImageOf: baseOfDevice } });
  full.run();

  it('the images: deltas a fraction of the full image, each decoding (device check) to the new firmware from its base only', () => {
    expect(DELTA_A.length).toBeLessThan(FULL.length / 4);
    expect(DELTA_B.length).toBeLessThan(FULL.length / 4);
    const policy = { deviceClass: DEVICE_CLASS, trustedKeys: [key] };
    for (const [delta, base] of [[DELTA_A, FW_A], [DELTA_B, FW_B]] as const) {
      const r = applyImage(delta, { ...policy, base });
      expect(r.ok && Buffer.from(r.firmware).equals(Buffer.from(NEW))).toBe(true);
    }
    expect(applyImage(DELTA_A, { ...policy, base: FW_B })).toMatchObject({ ok: false, reason: 'wrong-base', upImageStatus: 2 });
  });

  it('updates every device: each runs the new version after its own image check', () => {
    expect(h.state.error ?? '').toBe('');
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 18 });
    for (const d of h.sim) expect([d.state.runningVersion, d.state.reboots]).toEqual([TARGET, 1]);
    for (const d of h.devices.values()) expect([d.p, d.fw]).toEqual(['final', TARGET]);
  });

  it('groups the devices by the version they report: base A, base B, and the full image for the unknown base', () => {
    const euis = [...h.devices.keys()];
    const groupOf = (base: number | undefined) => h.state.groups.findIndex((g) => g.key.base === base && g.fragmentsSent > 0);
    const ga = groupOf(VA);
    const gb = groupOf(VB);
    const gf = groupOf(undefined);
    expect(new Set([ga, gb, gf]).size).toBe(3);
    expect(Math.min(ga, gb, gf)).toBeGreaterThanOrEqual(0);
    euis.forEach((eui, i) => expect(h.devices.get(eui)!.g, eui).toBe([ga, gb, gf][i % 3]));
    // Each group's block is its own image: M × fragment size − padding = the image's length.
    for (const [gi, img] of [[ga, DELTA_A], [gb, DELTA_B], [gf, FULL]] as const) {
      const p = h.state.groups[gi]!.plan;
      expect(p.nbFrag * p.fragSize - p.padding).toBe(img.length);
    }
    // Discovery asked each device its running version together with its TS006 version.
    for (const eui of euis) {
      const first = h.unicastsTo(eui).find((e) => e.pkg === 'ts006')!;
      expect(first.commands.map((c) => c.type)).toEqual(['PackageVersionReq', 'DevVersionReq']);
    }
    // The key as stored names the base.
    expect(parseKey('EU868/C/v1/b01020000', 'k')).toEqual({ region: 'EU868', groupType: 'C', rule: 1, base: VA });
  });

  it('reports bytes and air time per group against the full image; the total says what the split cost', () => {
    const r = reportOf(h);
    const groups = r.groups as Record<string, unknown>[];
    const delta = groups.filter((g) => g.image === 'delta');
    expect(delta.map((g) => [g.base, g.imageBytes, g.savedBytes]).sort()).toEqual([
      ['1.2.0', DELTA_A.length, FULL.length - DELTA_A.length],
      ['1.3.0', DELTA_B.length, FULL.length - DELTA_B.length],
    ]);
    for (const g of delta) expect(g.savedAirtimeSeconds as number).toBeGreaterThan(0);
    expect(groups.find((g) => g.image === 'full')).toMatchObject({ imageBytes: FULL.length, savedAirtimeSeconds: 0 });
    const s = r.savings as Record<string, number>;
    expect(s.deltaGroups).toBe(2);
    expect(s.savedImageBytes).toBe(2 * FULL.length - DELTA_A.length - DELTA_B.length);
    expect(s.airtimeSeconds).toBeCloseTo(r.airtimeSeconds, 3);
    // A third of the fleet needs the full image anyway: the deltas' groups come on top of its broadcast.
    expect(s.fullAirtimeSeconds).toBeGreaterThanOrEqual(groups.find((g) => g.image === 'full')!.airtimeSeconds as number);
    expect(s.savedAirtimeSeconds).toBeLessThan(0);
    expect(h.events.filter((e) => e.type === 'group' && e.image === 'delta').length).toBe(2);
  });
});

describe('a fleet on two base versions: delta campaign against the full-image campaign', () => {
  const twoBases = { ...fleet, seed: 47, images: { key, full: FULL, baseImageOf: (i: number) => (i % 2 === 0 ? BASE_A : BASE_B) } };
  const h = new PipelineHarness({ ...twoBases, images: { ...twoBases.images, deltas: [DELTA_A, DELTA_B] } });
  h.run();
  const full = new PipelineHarness(twoBases);
  full.run();

  it('updates both fleets; the delta campaign takes less air time, and its estimate of the full campaign is close', () => {
    expect(h.byStatus()).toEqual({ Updated: 18 });
    expect(full.byStatus()).toEqual({ Updated: 18 });
    for (const d of h.sim) expect(d.state.runningVersion).toBe(TARGET);
    expect(h.state.groups.filter((g) => g.fragmentsSent > 0).map((g) => g.key.base).sort()).toEqual([VA, VB]);
    const r = reportOf(h);
    const fr = reportOf(full);
    expect(fr.savings).toBeUndefined();
    const s = r.savings as Record<string, number>;
    expect(r.airtimeSeconds).toBeLessThan(fr.airtimeSeconds);
    expect(s.savedAirtimeSeconds).toBeGreaterThan(0);
    expect(s.savedAirtimePercent).toBeGreaterThan(0);
    // The estimate of the full campaign (largest of the groups' own) is of its order, on the low side: one group
    // of all the devices needs the repair of the worst of them.
    expect(s.fullAirtimeSeconds).toBeGreaterThan(fr.airtimeSeconds * 0.5);
    expect(s.fullAirtimeSeconds).toBeLessThan(fr.airtimeSeconds * 1.5);
  });
});

describe('a device whose firmware is not the delta base', () => {
  it('is failed with the reason (its DevUpgradeImageAns says status 2); the others are updated', () => {
    // Device 0 reports version 1.2.0 but runs other firmware: the delta's base digest does not match.
    const patched = sign(firmware('a local build of 1.2.0', 6000), VA);
    const h = new PipelineHarness({ devices: 6, loss: 0, seed: 43, images: { key, full: FULL, deltas: [DELTA_A], baseImageOf: (i) => (i === 0 ? patched : BASE_A) } });
    h.run();
    expect(h.state.stage).toBe('done');
    const [first, ...rest] = [...h.devices.values()];
    expect(first!.s).toBe('ImageRejected');
    expect(first!.r).toMatch(/delta for base 1.2.0 refused/);
    for (const d of rest) expect(d.s).toBe('Updated');
    expect(h.sim[0]!.state.runningVersion).toBe(VA);
  });
});

describe('submission checks of delta images', () => {
  const spec = (deltas: Uint8Array[], fullImage = FULL) => ({
    name: 'delta',
    applicationId: 'app',
    imageBase64: Buffer.from(fullImage).toString('base64'),
    deltas: deltas.map((d) => ({ imageBase64: Buffer.from(d).toString('base64') })),
    publicKeys: [formatPublicKeyFile(key)],
    deviceClass: DEVICE_CLASS,
    devices: [{ devEui: '70b3d57ed0000001' }],
  });
  const refusal = (s: unknown): string => {
    try {
      prepareCampaign(s);
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('accepts deltas for two bases and reads each base from the header', () => {
    const r = prepareCampaign(spec([DELTA_A, DELTA_B]));
    expect(r.deltas!.images.deltas.map((d) => d.baseVersion)).toEqual([VA, VB]);
    expect(r.deltas!.images.fullBytes).toBe(FULL.length);
    expect(r.deltas!.savings.map((x) => x.savedBytes)).toEqual([FULL.length - DELTA_A.length, FULL.length - DELTA_B.length]);
    expect(r.deltas!.savings[0]!.savedPlannedAirtimeSeconds).toBeGreaterThan(0);
    expect(decodeImageHeader(r.deltas!.bytes.get(VB)!).delta!.baseVersion).toBe(VB);
    // A spec without deltas is as before.
    expect(prepareCampaign({ ...spec([]), deltas: undefined }).deltas).toBeUndefined();
  });

  it('refuses, naming the field: a full image as delta, another version, another signer, other firmware, a repeated base', () => {
    expect(refusal(spec([DELTA_A, FULL]))).toMatch(/^deltas\.1\.imageBase64: not a delta image/);
    expect(refusal(spec([sign(NEW, versionToU32('1.5.0'), { deltaFrom: { firmware: FW_A, version: VA } })]))).toMatch(/^deltas\.0\.imageBase64: delta to version 1\.5\.0, the full image is version 1\.4\.0/);
    const foreign = signImage(NEW, { key: other, version: TARGET, deviceClass: DEVICE_CLASS, deltaFrom: { firmware: FW_A, version: VA } });
    expect(refusal({ ...spec([foreign]), publicKeys: [formatPublicKeyFile(key), formatPublicKeyFile(other)] })).toMatch(/^deltas\.0\.imageBase64: signed by another key/);
    expect(refusal(spec([foreign]))).toMatch(/^deltas\.0\.imageBase64: image: /);
    expect(refusal(spec([sign(FW_B, TARGET, { deltaFrom: { firmware: FW_A, version: VA } })]))).toMatch(/^deltas\.0\.imageBase64: decodes to other firmware/);
    expect(refusal(spec([DELTA_A, DELTA_A]))).toMatch(/^deltas\.1\.imageBase64: a second delta for base version 1\.2\.0/);
    expect(refusal(spec([signImage(NEW, { key, version: TARGET, deviceClass: 'another-class', deltaFrom: { firmware: FW_A, version: VA } })]))).toMatch(/^deltas\.0\.imageBase64: image: wrong device class/);
    expect(refusal({ ...spec([]), deltas: [{ imageBase64: 'x', extra: 1 }] })).toMatch(/deltas\.0/);
  });
});
