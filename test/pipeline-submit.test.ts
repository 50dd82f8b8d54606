import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitCampaign, prepareCampaign } from '../src/service/submit.js';
import { SpecError } from '../src/campaign/schema.js';
import { generateKeyPair, formatPublicKeyFile, publicKeyOf } from '../src/image/keys.js';
import { signImage } from '../src/image/sign.js';
import { startCampaignEnv, waitForStage, type CampaignEnv } from './helpers/campaign-env.js';

describe('submission checks', () => {
  let ce: CampaignEnv;
  beforeAll(async () => {
    ce = await startCampaignEnv({ devices: 6, loss: 0.05, seed: 5 });
  });
  afterAll(async () => ce?.close());

  const ctx = () => ({ store: ce.store, queue: ce.workers[0]!.ctx.queue });

  it('names the field of a bad spec and stores nothing', async () => {
    const bad = { ...ce.env.spec, devices: [{ devEui: 'xyz' }] };
    await expect(submitCampaign(ctx(), bad)).rejects.toThrow(SpecError);
    await expect(submitCampaign(ctx(), bad)).rejects.toThrow(/devices\.0\.devEui: devEui: expected 16 hex digits/);
    await expect(submitCampaign(ctx(), { ...ce.env.spec, multicast: { dr: 0, fragSize: 0 } })).rejects.toThrow();
    await expect(submitCampaign(ctx(), { ...ce.env.spec, fragmentation: { fragSize: 200 }, multicast: { dr: 0 } })).rejects.toThrow(
      /fragmentation.fragSize: 200 exceeds the 48 bytes DR0 allows/,
    );
    expect(await ce.store.list()).toEqual([]);
  });

  it('refuses an image signed with another key, or for another device class, before anything is sent', async () => {
    const other = generateKeyPair('ed25519');
    const forged = signImage(new Uint8Array(2000).fill(7), { key: other, version: '1.1.0', deviceClass: 'demo-sensor-v1' });
    await expect(submitCampaign(ctx(), { ...ce.env.spec, imageBase64: Buffer.from(forged).toString('base64') })).rejects.toThrow(/image: bad signature/);
    const wrongClass = signImage(new Uint8Array(2000).fill(7), { key: other, version: '1.1.0', deviceClass: 'other-class' });
    const pub = formatPublicKeyFile({ algorithm: other.algorithm, publicKey: publicKeyOf(other) });
    await expect(
      submitCampaign(ctx(), { ...ce.env.spec, imageBase64: Buffer.from(wrongClass).toString('base64'), publicKeys: [pub] }),
    ).rejects.toThrow(/image: wrong device class/);
    const truncated = Buffer.from(ce.env.spec.imageBase64, 'base64').subarray(0, 100);
    await expect(submitCampaign(ctx(), { ...ce.env.spec, imageBase64: truncated.toString('base64') })).rejects.toThrow(/image: truncated/);
    expect(await ce.store.list()).toEqual([]);
    expect(ce.env.chirpstack.groups.size).toBe(0);
  });

  it('plans from the image and the DR', () => {
    const { plan, targetVersion } = prepareCampaign(ce.env.spec);
    expect(plan.fragSize).toBe(239);
    expect(plan.nbFrag).toBe(Math.ceil(Buffer.from(ce.env.spec.imageBase64, 'base64').length / 239));
    expect(targetVersion).toBe(0x01010000);
  });

  it('is idempotent by client token and refuses devices already in an active campaign', async () => {
    const spec = { ...ce.env.spec, clientToken: 'tok-1' };
    const a = await submitCampaign(ctx(), spec);
    const b = await submitCampaign(ctx(), spec);
    expect(a.created).toBe(true);
    expect(b).toEqual({ id: a.id, created: false });
    await expect(submitCampaign(ctx(), { ...ce.env.spec, clientToken: 'tok-2' })).rejects.toThrow(/devices: .* is already in an active campaign/);
    expect((await ce.store.list()).length).toBe(1);
    // Cancel: the campaign stops, devices are Cancelled, the ChirpStack group is deleted, the devices are free again.
    await waitForStage(ce.store, a.id, ['setup', 'session', 'broadcast']);
    expect(await ce.store.requestCancel(a.id)).toBe(true);
    expect(await waitForStage(ce.store, a.id, ['cancelled'])).toBe('cancelled');
    const devs = await ce.store.devices(a.id);
    expect([...devs.values()].every((d) => d.s === 'Cancelled' || d.s !== 'Pending')).toBe(true);
    expect([...devs.values()].some((d) => d.s === 'Cancelled')).toBe(true);
    expect(ce.env.chirpstack.groups.size).toBe(0);
    expect(await ce.store.campaignOf(ce.env.spec.devices[0]!.devEui)).toBeNull();
    expect(await ce.store.requestCancel(a.id)).toBe(false);
  });
});
