/**
 * Loads proto/lorafuota.proto at run time and types its messages as @grpc/proto-loader presents them
 * (camelCase fields, uint64 as number, maps as plain objects).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface CreateCampaignRequest {
  specJson: string;
  clientToken: string;
}
export interface CreateCampaignResponse {
  id: string;
  created: boolean;
}
export interface GetCampaignRequest {
  id: string;
  includeDevices: boolean;
}
export interface CancelCampaignResponse {
  cancelled: boolean;
}
export interface WatchCampaignRequest {
  id: string;
  fromEventId: string;
}
export interface CampaignEventMsg {
  id: string;
  time: number;
  type: string;
  json: string;
}
export interface ProgressMsg {
  devicesSetUp: number;
  fragmentsSent: number;
  fragmentsPlanned: number;
  devicesUpdated: number;
  devicesFinal: number;
}
export interface DeviceMsg {
  devEui: string;
  status: string;
  phase: string;
  reason: string;
  updatedAt: number;
  fwVersion?: number;
}
export interface CampaignMsg {
  id: string;
  name: string;
  stage: string;
  createdAt: number;
  updatedAt: number;
  error: string;
  applicationId: string;
  devicesTotal: number;
  byStatus: Record<string, number>;
  byPhase: Record<string, number>;
  data: Record<string, string>;
  progress: ProgressMsg;
  devices: DeviceMsg[];
}
export interface ListCampaignsResponse {
  campaigns: CampaignMsg[];
}

/** Largest message either side accepts: a spec carries the whole image in base64. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Finds proto/lorafuota.proto above this file (src/api/ when run from source, dist/src/api/ when compiled). */
export function protoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    dir = dirname(dir);
    const p = join(dir, 'proto', 'lorafuota.proto');
    if (existsSync(p)) return p;
  }
  throw new Error('proto: lorafuota.proto not found above ' + fileURLToPath(import.meta.url));
}

/** The CampaignService client constructor (its `service` property is the server-side definition). */
export function loadCampaignService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(protoPath(), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    lorafuota: { v1: { CampaignService: grpc.ServiceClientConstructor } };
  };
  return pkg.lorafuota.v1.CampaignService;
}
