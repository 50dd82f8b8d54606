/**
 * Submission: validate the spec, verify the image, plan, store, and start the pipeline. Shared by the gRPC API,
 * the CLI and the BullMQ `submit` job. Nothing is stored when any check fails, and every failure names the field.
 */
import type { Queue } from 'bullmq';
import { parseCampaignSpec, type CampaignSpec } from '../campaign/schema.js';
import { planCampaign, type Plan } from '../campaign/planner.js';
import { parsePublicKeyFile } from '../image/keys.js';
import { verifyImageForCampaign } from '../image/verify.js';
import type { CampaignStore } from '../store/campaign-store.js';
import { scheduleAdvance } from '../store/queue.js';

export interface SubmitContext {
  store: CampaignStore;
  queue: Queue;
}

/** Validates and plans without storing anything: what `submitCampaign` would run. */
export function prepareCampaign(input: unknown): { spec: CampaignSpec; image: Uint8Array; plan: Plan; targetVersion: number } {
  const spec = parseCampaignSpec(input);
  const image = new Uint8Array(Buffer.from(spec.imageBase64, 'base64'));
  const publicKeys = spec.publicKeys.map((text, i) => parsePublicKeyFile(text, `publicKeys[${i}]`));
  // Refuse, before anything is sent, an image the devices would refuse.
  const header = verifyImageForCampaign(image, { publicKeys, deviceClass: spec.deviceClass });
  const plan = planCampaign({
    imageBytes: image.length,
    region: spec.multicast.region,
    dr: spec.multicast.dr,
    frequencyHz: spec.multicast.frequencyHz,
    groupType: spec.multicast.groupType,
    classBPeriodicity: spec.multicast.classBPeriodicity,
    gatewayCount: Math.max(spec.multicast.gatewayCount, spec.multicast.gatewayIds.length || 1),
    fragSize: spec.fragmentation.fragSize,
    initialRedundancyPercent: spec.fragmentation.initialRedundancyPercent,
    maxRedundancyPercent: spec.fragmentation.maxRedundancyPercent,
    blockAckDelay: spec.fragmentation.blockAckDelay,
    maxRepairRounds: spec.fragmentation.maxRepairRounds,
    uplinkIntervalS: spec.timing.uplinkIntervalS,
    unicastRetries: spec.timing.unicastRetries,
    rebootDelayS: spec.timing.rebootDelayS,
    classCMarginMs: spec.multicast.classCMarginMs,
    dwellTime: spec.multicast.dwellTime,
    repeaterCompatible: spec.multicast.repeaterCompatible,
    deviceLimits: spec.fragmentation.deviceLimits,
  });
  return { spec, image, plan, targetVersion: header.firmwareVersion };
}

export async function submitCampaign(ctx: SubmitContext, input: unknown): Promise<{ id: string; created: boolean }> {
  const { spec, image, plan, targetVersion } = prepareCampaign(input);
  const res = await ctx.store.create(spec, image, {
    plan: JSON.stringify(plan),
    targetVersion: String(targetVersion),
    ruleVersion: String(spec.fragmentation.ts004Version),
  });
  if (res.created) {
    await ctx.store.addEvent(res.id, { type: 'plan', ...plan });
    await scheduleAdvance(ctx.queue, res.id, 0);
  }
  return res;
}
