/**
 * The campaign job schema: what any producer (CLI, gRPC API, a BullMQ client in another language) submits.
 * Validation errors name the field path and the reason; nothing is stored until the spec validates.
 */
import { z } from 'zod';
import { REGION_NAMES } from '../codec/region.js';

const hex = (bytes: number, what: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `${what}: expected ${bytes * 2} hex digits`)
    .transform((s) => s.toLowerCase());

export const DeviceSpecSchema = z.object({
  devEui: hex(8, 'devEui'),
  /** LoRaWAN MAC version of the device: decides GenAppKey (1.0.x) or AppKey (1.1) as the multicast root key. */
  lorawan: z.enum(['1.0', '1.1']).default('1.0'),
}).strict();

/** Per-region multicast parameters of a split campaign (each falls back to the region's default when absent). */
export const RegionMulticastSchema = z
  .object({
    dr: z.number().int().min(0).max(15).optional(),
    frequencyHz: z.number().int().min(100_000_000).max(3_000_000_000).optional(),
    dwellTime: z.boolean().optional(),
    repeaterCompatible: z.boolean().optional(),
    classBPeriodicity: z.number().int().min(0).max(7).optional(),
    gatewayIds: z.array(hex(8, 'multicast.byRegion.gatewayIds[]')).optional(),
    gatewayCount: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

/** Most delta images one campaign carries (each base version becomes a multicast group of its own). */
export const MAX_DELTAS = 8;

/** A signed delta image (its header names the base version and base firmware digest), base64. */
export const DeltaImageSchema = z.object({ imageBase64: z.string().min(1) }).strict();

export const CampaignSpecSchema = z.object({
  /** Idempotency: a second submission with the same token returns the first campaign. */
  clientToken: z.string().min(1).max(128).optional(),
  name: z.string().min(1).max(120),
  applicationId: z.string().min(1),
  /** The signed image (lorafuota image format), base64: the full image (raw or compressed) any device can install. */
  imageBase64: z.string().min(1),
  /**
   * Delta images of the same firmware, one per base version (docs/delta.md#delta-campaigns): a device reporting a
   * base version (TS006 DevVersionAns) gets the delta for it; devices on any other version get `imageBase64`.
   */
  deltas: z.array(DeltaImageSchema).max(MAX_DELTAS).optional(),
  /** Trusted public key files' contents (as written by `lorafuota image keygen`). */
  publicKeys: z.array(z.string().min(1)).min(1),
  deviceClass: z.string().min(1).max(64),
  devices: z
    .array(DeviceSpecSchema)
    .min(1)
    .refine((d) => new Set(d.map((x) => x.devEui)).size === d.length, 'devices: duplicate devEui'),
  multicast: z
    .object({
      /** Class of the session; 'auto': each device profile's (Class C where supported, else Class B). */
      groupType: z.enum(['C', 'B', 'auto']).default('C'),
      region: z.enum(REGION_NAMES).default('EU868'),
      /** Network runs the 400 ms dwell-time limit (AS923, AU915) / repeater-compatible payload sizes (ChirpStack region settings). */
      dwellTime: z.boolean().default(false),
      repeaterCompatible: z.boolean().default(false),
      dr: z.number().int().min(0).max(15).default(5),
      frequencyHz: z.number().int().min(100_000_000).max(3_000_000_000).default(869_525_000),
      mcGroupId: z.number().int().min(0).max(3).default(0),
      /** Multicast address as ChirpStack shows it (big-endian hex); random when absent. */
      mcAddr: hex(4, 'multicast.mcAddr').optional(),
      classBPeriodicity: z.number().int().min(0).max(7).default(0),
      gatewayIds: z.array(hex(8, 'multicast.gatewayIds[]')).default([]),
      /** Number of gateways that will carry the broadcast (for pacing when gatewayIds is empty). */
      gatewayCount: z.number().int().min(1).max(1000).default(1),
      /** ChirpStack's `multicast_class_c_margin`: least spacing between two multicast frames (ms). */
      classCMarginMs: z.number().int().min(0).max(600_000).default(5000),
      /**
       * Multicast parameters of the groups in other regions than `region` (a campaign splits its fleet by device
       * profile region); a region not listed uses its Class C default channel and DR and no gateway list.
       */
      byRegion: z.partialRecord(z.enum(REGION_NAMES), RegionMulticastSchema).optional(),
    })
    .strict()
    .prefault({}),
  fragmentation: z
    .object({
      /** Bytes per fragment; the largest the DR allows when absent. */
      fragSize: z.number().int().min(1).max(250).optional(),
      fragIndex: z.number().int().min(0).max(3).default(0),
      /** TS004 version of the campaign's first group; devices of the other version get a group of their own. */
      ts004Version: z.union([z.literal(1), z.literal(2)]).default(1),
      /** Coded fragments sent in the first broadcast, as a percentage of M. Repair rounds add what is missing. */
      initialRedundancyPercent: z.number().min(0).max(300).default(15),
      /** Cap on all coded fragments (initial + repair), percentage of M. */
      maxRedundancyPercent: z.number().min(0).max(1000).default(200),
      blockAckDelay: z.number().int().min(0).max(7).default(0),
      descriptor: hex(4, 'fragmentation.descriptor').default('00000000'),
      maxRepairRounds: z.number().int().min(0).max(20).default(6),
      /**
       * What the devices' fragment decoders accept (their compiled limits), when known. The planner picks a fragment
       * size within maxFragSize and warns when the image needs more fragments than maxFragments: such devices
       * would answer FragSessionSetupAns "not enough memory".
       */
      deviceLimits: z
        .object({
          maxFragments: z.number().int().min(1).max(16383).optional(),
          maxFragSize: z.number().int().min(1).max(250).optional(),
        })
        .strict()
        .optional(),
    })
    .strict()
    .prefault({}),
  ports: z
    .object({
      ts003: z.number().int().min(1).max(223).default(202),
      ts004: z.number().int().min(1).max(223).default(201),
      ts005: z.number().int().min(1).max(223).default(200),
      ts006: z.number().int().min(1).max(223).default(203),
    })
    .strict()
    .prefault({}),
  timing: z
    .object({
      /** How often devices are expected to uplink (Class A: each uplink opens one downlink slot). */
      uplinkIntervalS: z.number().positive().max(86_400).default(60),
      /** Unanswered unicast requests are re-sent this many times before the device is marked Timeout. */
      unicastRetries: z.number().int().min(0).max(10).default(3),
      /** Delay between DevUpgradeImageAns and the reboot. */
      rebootDelayS: z.number().int().min(1).max(86_400).default(30),
    })
    .strict()
    .prefault({}),
  /**
   * Firmware version the devices run now ("1.0.0"), when known: an image with a lower version is refused at
   * submission unless `allowDowngrade`.
   */
  currentVersion: z
    .string()
    .regex(/^\d{1,3}\.\d{1,3}\.\d{1,5}$/, 'currentVersion: expected "major.minor.patch"')
    .optional(),
  /** Send an image older than the devices run (refused at submission and, per device, at apply time otherwise). */
  allowDowngrade: z.boolean().default(false),
})
  // Unknown fields are refused, so a misspelt option is an error rather than a silent default.
  .strict();

export type CampaignSpecInput = z.input<typeof CampaignSpecSchema>;
export type CampaignSpec = z.output<typeof CampaignSpecSchema>;
export type DeviceSpec = z.output<typeof DeviceSpecSchema>;

export class SpecError extends Error {
  override readonly name = 'SpecError';
  constructor(readonly issues: { path: string; message: string }[]) {
    super(issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; '));
  }
}

/** Validates a submission; throws SpecError naming every bad field. */
export function parseCampaignSpec(input: unknown): CampaignSpec {
  const r = CampaignSpecSchema.safeParse(input);
  if (!r.success) {
    throw new SpecError(r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  }
  return r.data;
}
