/**
 * The base part of a delta campaign's grouping (pure): the discovery asks the running version with the TS006
 * version, the key carries the base when a delta exists for it, the group's image and size follow from the key, and
 * a refused delta names its base.
 */
import { describe, expect, it } from 'vitest';
import { nextRequest, onAnswer, type MachineContext } from '../src/campaign/device-machine.js';
import { groupKeyOf, keyString } from '../src/campaign/grouping.js';
import { baseOf, fullAirtimeEstimateMs, imageBytesFor, parseImages, selectImage, serialiseImages, type CampaignImages } from '../src/campaign/images.js';
import type { DeviceState } from '../src/campaign/model.js';
import { CampaignSpecSchema } from '../src/campaign/schema.js';
import { parseKey } from '../src/store/campaign-state.js';

const spec = CampaignSpecSchema.parse({ name: 'n', applicationId: 'a', imageBase64: 'x', publicKeys: ['k'], deviceClass: 'c', devices: [{ devEui: '0000000000000001' }] });
const V1 = 0x01020000;
const V2 = 0x01030000;
const images: CampaignImages = { fullBytes: 6000, deltas: [{ baseVersion: V1, baseDigest: 'ab'.repeat(32), bytes: 600 }, { baseVersion: V2, baseDigest: 'cd'.repeat(32), bytes: 450 }] };
const dev = (o: Partial<DeviceState>): DeviceState => ({ p: 'discover', s: 'Pending', t: 0, lw: '1.0', ...o });

describe('the base in the grouping key', () => {
  it('waits for the running version in a delta campaign, then keys by base (or none for another version)', () => {
    const bases = [V1, V2];
    expect(groupKeyOf(spec, dev({ v: [0, 1, 0, 0] }), undefined)).toEqual({ region: 'EU868', groupType: 'C', rule: 1 });
    expect(groupKeyOf(spec, dev({ v: [0, 1, 0, 0] }), undefined, bases)).toBeUndefined();
    expect(groupKeyOf(spec, dev({ v: [0, 1, 0, 1], fw: V2 }), undefined, bases)).toEqual({ region: 'EU868', groupType: 'C', rule: 1, base: V2 });
    expect(groupKeyOf(spec, dev({ v: [0, 2, 0, 1], fw: 0x01000000 }), undefined, bases)).toEqual({ region: 'EU868', groupType: 'C', rule: 2 });
    // TS006 answered without DevVersionAns: the full image.
    expect(groupKeyOf(spec, dev({ v: [0, 1, 0, 1] }), undefined, bases)).toEqual({ region: 'EU868', groupType: 'C', rule: 1 });
  });

  it('writes and reads the base in the key text', () => {
    const k = { region: 'EU868', groupType: 'C', rule: 1, base: V1 } as const;
    expect(keyString(k)).toBe('EU868/C/v1/b01020000');
    expect(parseKey(keyString(k), 'k')).toEqual(k);
    expect(keyString({ region: 'US915', groupType: 'B', rule: 2 })).toBe('US915/B/v2');
    expect(() => parseKey('EU868/C/v1/b0102', 'g1.key')).toThrow(/g1\.key: bad group key/);
  });

  it('chooses the group image and its size from the key', () => {
    expect(baseOf(images, V1)).toBe(V1);
    expect(baseOf(images, 0x01000000)).toBeUndefined();
    expect(baseOf(undefined, V1)).toBeUndefined();
    expect(imageBytesFor(images, { base: V2 }, 1)).toBe(450);
    expect(imageBytesFor(images, {}, 1)).toBe(6000);
    expect(imageBytesFor(undefined, {}, 1234)).toBe(1234);
    expect(() => imageBytesFor(images, { base: 7 }, 1)).toThrow(/no delta for base 0x00000007/);
    const deltas = new Map([[V1, 'delta 1']]);
    expect(selectImage({ base: V1 }, 'full', deltas)).toBe('delta 1');
    expect(selectImage({}, 'full', deltas)).toBe('full');
    expect(() => selectImage({ base: V2 }, 'full', deltas)).toThrow(/not supplied/);
    expect(parseImages(serialiseImages(images))).toEqual(images);
    expect(() => parseImages('{"fullBytes":1,"deltas":[{"baseVersion":1,"baseDigest":"zz","bytes":3}]}')).toThrow(/deltas\[0\]\.baseDigest/);
  });

  it('estimates the full image in a group: its first broadcast plus the repair the group needed', () => {
    const g = { airtimeMs: 10 * 400, fragmentsSent: 10, fragAirMs: 400, plan: { nbFrag: 3, initialCoded: 1 } };
    expect(fullAirtimeEstimateMs(g, { nbFrag: 27, initialCoded: 3 })).toBe((27 + 3 + 6) * 400);
    expect(fullAirtimeEstimateMs({ ...g, fragmentsSent: 0, airtimeMs: 0 }, { nbFrag: 27, initialCoded: 3 })).toBe(0);
  });
});

describe('the device machine in a delta campaign', () => {
  const ctx = {
    nowMs: 1_000_000, ports: { ts003: 202, ts004: 201, ts005: 200, ts006: 203 }, fragIndex: 0, mcGroupId: 0, mcAddr: 1, groupType: 'C', nbFrag: 3,
    fragSize: 200, padding: 0, blockAckDelay: 0, descriptor: 0, dr: 5, frequencyHz: 869_525_000, classBPeriodicity: 0, sessionTimeOut: 8,
    sessionLeadS: 180, targetVersion: 0x01040000, rebootDelayS: 30, answerTimeoutMs: 85_000, retries: 2, askFirmware: true, deltaBase: V1,
  } satisfies MachineContext;

  it('asks the running version with the TS006 version, after TS004 and before the group is set up', () => {
    expect(nextRequest(dev({}), ctx)!.commands.map((c) => c.type)).toEqual(['PackageVersionReq']);
    const r = nextRequest(dev({ v: [0, 1, 0, 0] }), ctx)!;
    expect([r.pkg, r.commands.map((c) => c.type)]).toEqual(['ts006', ['PackageVersionReq', 'DevVersionReq']]);
    const t = onAnswer(dev({ v: [0, 1, 0, 0] }), 'ts006', [{ type: 'PackageVersionAns', packageIdentifier: 4, packageVersion: 1 }, { type: 'DevVersionAns', fwVersion: V1, hwVersion: 1 }], ctx, ctx.nowMs);
    expect([t.state.v, t.state.fw, t.state.p]).toEqual([[0, 1, 0, 1], V1, 'discover']);
    // Without the flag, TS005 comes second as before.
    const { askFirmware: _a, ...plain } = ctx;
    expect(nextRequest(dev({ v: [0, 1, 0, 0] }), { ...plain, keys: { mcKeyEncrypted: new Uint8Array(16) } })!.pkg).toBe('ts005');
  });

  it('fails a device refusing the delta (status 2) with its base in the reason', () => {
    const t = onAnswer(dev({ p: 'upgrade' }), 'ts006', [{ type: 'DevUpgradeImageAns', status: 2 }], ctx, ctx.nowMs);
    expect([t.state.s, t.state.r]).toEqual(['ImageRejected', expect.stringMatching(/delta for base 1.2.0 refused/)]);
    const { deltaBase: _b, ...full } = ctx;
    expect(onAnswer(dev({ p: 'upgrade' }), 'ts006', [{ type: 'DevUpgradeImageAns', status: 2 }], full, ctx.nowMs).state.r).toBe('DevUpgradeImageAns: wrong hardware');
  });
});
