/**
 * Typed ChirpStack v4 gRPC client for what a FUOTA campaign needs: multicast groups and their queues,
 * unicast device queues and keys, and device-profile checks. Plain TS values in and out.
 */
import * as grpc from '@grpc/grpc-js';
import {
  DeviceProfileServiceClient,
  DeviceServiceClient,
  MulticastGroupServiceClient,
  devicePb,
  deviceProfilePb,
  msFromTimestamp,
  multicastPb,
  timestampFromMs,
} from './pb.js';
import { type CallPolicy, type RetryLogger, type UnaryMethod, once, withRetry, logRetries, ChirpStackError } from './call.js';
import {
  APP_LAYER_VERSIONS,
  DEVICE_CLASSES,
  MAC_VERSIONS,
  REGION_ENUM,
  devEuiHex,
  keyToHex,
  mcAddrFromHex,
  mcAddrToHex,
  regionFromEnum,
  type DeviceInfo,
  type DeviceKeys,
  type DeviceProfileInfo,
  type DeviceQueueEntry,
  type MulticastGroupInfo,
  type MulticastGroupSpec,
  type QueueItem,
} from './types.js';
import { isRegion } from '../codec/region.js';
import { DEFAULT_CHIRPSTACK_VERSION, field14For, periodicityOf, type ChirpStackApiVersion } from './version.js';
import { timeChirpstackCall } from '../obs/metrics.js';

export interface ChirpStackClientOptions {
  /** host:port of ChirpStack's gRPC API. */
  target: string;
  apiToken: string;
  /** true = TLS with system roots; or explicit root certificates (PEM). Default plaintext. */
  tls?: boolean | { rootCerts: Buffer };
  policy?: Partial<CallPolicy>;
  /** Called before each retry. */
  onRetry?: (err: ChirpStackError, retryNo: number, delayMs: number) => void;
  /** Writes one structured line per retry (`chirpstack call retry`: rpc, attempt, code, delayMs). */
  logger?: RetryLogger;
  /** ChirpStack version spoken (default 4.19): 4.12 reads MulticastGroup field 14 as class_b_ping_slot_nb_k. */
  chirpstackVersion?: ChirpStackApiVersion;
}

export const DEFAULT_POLICY: CallPolicy = { deadlineMs: 10_000, retries: 5, backoffMs: 200, maxBackoffMs: 5_000 };

const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

const GROUP_TYPES = ['CLASS_C', 'CLASS_B'] as const;
const SCHEDULING = ['DELAY', 'GPS_TIME'] as const;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkPort(fPort: number): void {
  if (!Number.isInteger(fPort) || fPort < 1 || fPort > 223) throw new RangeError(`fPort: must be 1..223, got ${fPort}`);
}

export class ChirpStackClient {
  private readonly mc: MulticastGroupServiceClient;
  private readonly dev: DeviceServiceClient;
  private readonly prof: DeviceProfileServiceClient;
  private readonly metadata = new grpc.Metadata();
  readonly policy: CallPolicy;
  private readonly onRetry: ((err: ChirpStackError, retryNo: number, delayMs: number) => void) | undefined;
  readonly chirpstackVersion: ChirpStackApiVersion;

  constructor(opts: ChirpStackClientOptions) {
    if (!opts.apiToken) throw new Error('apiToken: must not be empty');
    const creds =
      opts.tls === true
        ? grpc.credentials.createSsl()
        : opts.tls
          ? grpc.credentials.createSsl(opts.tls.rootCerts)
          : grpc.credentials.createInsecure();
    this.mc = new MulticastGroupServiceClient(opts.target, creds, CHANNEL_OPTIONS);
    this.dev = new DeviceServiceClient(opts.target, creds, CHANNEL_OPTIONS);
    this.prof = new DeviceProfileServiceClient(opts.target, creds, CHANNEL_OPTIONS);
    this.metadata.set('authorization', `Bearer ${opts.apiToken}`);
    this.policy = { ...DEFAULT_POLICY, ...opts.policy };
    const log = opts.logger ? logRetries(opts.logger) : undefined;
    const hook = opts.onRetry;
    this.onRetry = log && hook ? (e, n, d) => (log(e, n, d), hook(e, n, d)) : (log ?? hook);
    this.chirpstackVersion = opts.chirpstackVersion ?? DEFAULT_CHIRPSTACK_VERSION;
  }

  close(): void {
    this.mc.close();
    this.dev.close();
    this.prof.close();
  }

  private call<Req, Res>(name: string, client: grpc.Client, method: UnaryMethod<Req, Res>, req: Req, beforeRetry?: () => Promise<Res | undefined>): Promise<Res> {
    const fn = method.bind(client) as UnaryMethod<Req, Res>;
    return withRetry(this.policy, () => timeChirpstackCall(name, () => once(name, fn, req, this.metadata, this.policy.deadlineMs)), beforeRetry, this.onRetry);
  }

  // ---- MulticastGroupService ----

  async createMulticastGroup(spec: MulticastGroupSpec): Promise<string> {
    if (!isRegion(spec.region)) throw new RangeError(`region: unsupported ${String(spec.region)}`);
    const g = new multicastPb.MulticastGroup();
    g.setName(spec.name);
    g.setApplicationId(spec.applicationId);
    g.setRegion(REGION_ENUM[spec.region] as 0);
    g.setMcAddr(mcAddrToHex(spec.mcAddr));
    g.setMcAppSKey(keyToHex('mcAppSKey', spec.mcAppSKey));
    g.setMcNwkSKey(keyToHex('mcNwkSKey', spec.mcNwkSKey));
    g.setGroupType(GROUP_TYPES.indexOf(spec.groupType) as 0 | 1);
    g.setDr(spec.dr);
    g.setFrequency(spec.frequencyHz);
    g.setClassCSchedulingType(SCHEDULING.indexOf(spec.schedulingType ?? 'DELAY') as 0 | 1);
    // Field 14: the periodicity (v4.13+) or nb_k = 7 - periodicity (v4.12); meaningless for Class C groups.
    g.setClassBPingSlotPeriodicity(spec.pingSlotPeriodicity !== undefined ? field14For(this.chirpstackVersion, spec.pingSlotPeriodicity) : 0);
    const req = new multicastPb.CreateMulticastGroupRequest();
    req.setMulticastGroup(g);
    const res = await this.call('MulticastGroupService.Create', this.mc, this.mc.create, req);
    return res.getId();
  }

  async getMulticastGroup(id: string): Promise<MulticastGroupInfo> {
    const req = new multicastPb.GetMulticastGroupRequest();
    req.setId(id);
    const res = await this.call('MulticastGroupService.Get', this.mc, this.mc.get, req);
    const g = res.getMulticastGroup();
    if (!g) throw new Error(`multicast_group: missing in Get response for ${id}`);
    return {
      id: g.getId(),
      name: g.getName(),
      applicationId: g.getApplicationId(),
      region: regionFromEnum(g.getRegion()),
      mcAddr: mcAddrFromHex(g.getMcAddr()),
      mcAppSKey: g.getMcAppSKey(),
      mcNwkSKey: g.getMcNwkSKey(),
      fCnt: g.getFCnt(),
      groupType: GROUP_TYPES[g.getGroupType()] ?? 'CLASS_C',
      dr: g.getDr(),
      frequencyHz: g.getFrequency(),
      schedulingType: SCHEDULING[g.getClassCSchedulingType()] ?? 'DELAY',
      pingSlotPeriodicity: g.getGroupType() === 1 ? periodicityOf(this.chirpstackVersion, g.getClassBPingSlotPeriodicity()) : g.getClassBPingSlotPeriodicity(),
    };
  }

  async deleteMulticastGroup(id: string): Promise<void> {
    const req = new multicastPb.DeleteMulticastGroupRequest();
    req.setId(id);
    await this.call('MulticastGroupService.Delete', this.mc, this.mc.delete, req);
  }

  async addDeviceToMulticastGroup(groupId: string, devEui: string): Promise<void> {
    const req = new multicastPb.AddDeviceToMulticastGroupRequest();
    req.setMulticastGroupId(groupId);
    req.setDevEui(devEuiHex(devEui));
    await this.call('MulticastGroupService.AddDevice', this.mc, this.mc.addDevice, req);
  }

  async addGatewayToMulticastGroup(groupId: string, gatewayId: string): Promise<void> {
    if (!/^[0-9a-fA-F]{16}$/.test(gatewayId)) throw new RangeError(`gatewayId: expected 16 hex digits, got "${gatewayId}"`);
    const req = new multicastPb.AddGatewayToMulticastGroupRequest();
    req.setMulticastGroupId(groupId);
    req.setGatewayId(gatewayId.toLowerCase());
    await this.call('MulticastGroupService.AddGateway', this.mc, this.mc.addGateway, req);
  }

  /**
   * Enqueues one multicast frame and returns the f_cnt ChirpStack assigned. With `expectFCnt`, a different
   * assignment is an error (the devices' [minMcFCnt, maxMcFCnt] window would reject it). `expiresAtMs` sets the
   * item's `expires_at`: ChirpStack's scheduler drops it instead of sending it after that time.
   *
   * If a failure hides whether the item landed, the answer is looked up rather than enqueued twice. With
   * `expectFCnt` the group's counter decides (GetMulticastGroup): past `expectFCnt` means the item landed with that
   * f_cnt. The queue cannot tell, since ChirpStack deletes a row on the gateway's TX ack, about a second after it
   * was scheduled. Without `expectFCnt` the queue is listed for an item with the same fPort and data (best effort).
   * Either way the campaign must be the group's only writer.
   */
  async enqueueMulticast(groupId: string, item: { fPort: number; data: Uint8Array; expectFCnt?: number; expiresAtMs?: number }): Promise<number> {
    checkPort(item.fPort);
    const qi = new multicastPb.MulticastGroupQueueItem();
    qi.setMulticastGroupId(groupId);
    qi.setFPort(item.fPort);
    qi.setData(item.data);
    if (item.expectFCnt !== undefined) qi.setFCnt(item.expectFCnt);
    if (item.expiresAtMs !== undefined) {
      if (!Number.isFinite(item.expiresAtMs) || item.expiresAtMs < 0) throw new RangeError(`expiresAtMs: must be a time in ms, got ${item.expiresAtMs}`);
      qi.setExpiresAt(timestampFromMs(item.expiresAtMs));
    }
    const req = new multicastPb.EnqueueMulticastGroupQueueItemRequest();
    req.setQueueItem(qi);
    const landed = async () => {
      const res = new multicastPb.EnqueueMulticastGroupQueueItemResponse();
      if (item.expectFCnt !== undefined) {
        const g = await this.getMulticastGroup(groupId);
        if (g.fCnt <= item.expectFCnt) return undefined;
        res.setFCnt(item.expectFCnt);
        return res;
      }
      const queue = await this.listMulticastQueue(groupId);
      const hit = queue.find((q) => q.fPort === item.fPort && bytesEqual(q.data, item.data));
      if (!hit) return undefined;
      res.setFCnt(hit.fCnt);
      return res;
    };
    const res = await this.call('MulticastGroupService.Enqueue', this.mc, this.mc.enqueue, req, landed);
    const fCnt = res.getFCnt();
    if (item.expectFCnt !== undefined && fCnt !== item.expectFCnt) {
      throw new Error(`fCnt: ChirpStack assigned ${fCnt}, expected ${item.expectFCnt} (group ${groupId} counter out of step)`);
    }
    return fCnt;
  }

  async listMulticastQueue(groupId: string): Promise<QueueItem[]> {
    const req = new multicastPb.ListMulticastGroupQueueRequest();
    req.setMulticastGroupId(groupId);
    const res = await this.call('MulticastGroupService.ListQueue', this.mc, this.mc.listQueue, req);
    return res.getItemsList().map((q) => ({ fCnt: q.getFCnt(), fPort: q.getFPort(), data: q.getData_asU8() }));
  }

  async flushMulticastQueue(groupId: string): Promise<void> {
    const req = new multicastPb.FlushMulticastGroupQueueRequest();
    req.setMulticastGroupId(groupId);
    await this.call('MulticastGroupService.FlushQueue', this.mc, this.mc.flushQueue, req);
  }

  // ---- DeviceService ----

  /** Enqueues a unicast (Class A) downlink; returns the queue-item id. Checked against GetQueue after an unclear failure. */
  async enqueueDownlink(devEui: string, item: { fPort: number; data: Uint8Array; confirmed?: boolean }): Promise<string> {
    checkPort(item.fPort);
    const eui = devEuiHex(devEui);
    const qi = new devicePb.DeviceQueueItem();
    qi.setDevEui(eui);
    qi.setFPort(item.fPort);
    qi.setData(item.data);
    qi.setConfirmed(item.confirmed ?? false);
    const req = new devicePb.EnqueueDeviceQueueItemRequest();
    req.setQueueItem(qi);
    const landed = async () => {
      const queue = await this.getDeviceQueue(eui);
      const hit = queue.find((q) => q.fPort === item.fPort && bytesEqual(q.data, item.data));
      if (!hit) return undefined;
      const res = new devicePb.EnqueueDeviceQueueItemResponse();
      res.setId(hit.id);
      return res;
    };
    const res = await this.call('DeviceService.Enqueue', this.dev, this.dev.enqueue, req, landed);
    return res.getId();
  }

  async getDeviceQueue(devEui: string): Promise<DeviceQueueEntry[]> {
    const req = new devicePb.GetDeviceQueueItemsRequest();
    req.setDevEui(devEuiHex(devEui));
    const res = await this.call('DeviceService.GetQueue', this.dev, this.dev.getQueue, req);
    return res.getResultList().map((q) => ({
      id: q.getId(),
      fCnt: q.getFCntDown(),
      fPort: q.getFPort(),
      data: q.getData_asU8(),
      isPending: q.getIsPending(),
      confirmed: q.getConfirmed(),
    }));
  }

  async flushDeviceQueue(devEui: string): Promise<void> {
    const req = new devicePb.FlushDeviceQueueRequest();
    req.setDevEui(devEuiHex(devEui));
    await this.call('DeviceService.FlushQueue', this.dev, this.dev.flushQueue, req);
  }

  async getDeviceKeys(devEui: string): Promise<DeviceKeys> {
    const req = new devicePb.GetDeviceKeysRequest();
    req.setDevEui(devEuiHex(devEui));
    const res = await this.call('DeviceService.GetKeys', this.dev, this.dev.getKeys, req);
    const k = res.getDeviceKeys();
    if (!k) throw new Error(`device_keys: missing in GetKeys response for ${devEui}`);
    return { devEui: k.getDevEui(), nwkKey: k.getNwkKey(), appKey: k.getAppKey(), genAppKey: k.getGenAppKey() };
  }

  async getDevice(devEui: string): Promise<DeviceInfo> {
    const req = new devicePb.GetDeviceRequest();
    req.setDevEui(devEuiHex(devEui));
    const res = await this.call('DeviceService.Get', this.dev, this.dev.get, req);
    const d = res.getDevice();
    if (!d) throw new Error(`device: missing in Get response for ${devEui}`);
    return {
      devEui: d.getDevEui(),
      name: d.getName(),
      applicationId: d.getApplicationId(),
      deviceProfileId: d.getDeviceProfileId(),
      classEnabled: DEVICE_CLASSES[res.getClassEnabled()] ?? 'CLASS_A',
      ...(res.hasLastSeenAt() ? { lastSeenAtMs: msFromTimestamp(res.getLastSeenAt())! } : {}),
    };
  }

  // ---- DeviceProfileService ----

  async getDeviceProfile(id: string): Promise<DeviceProfileInfo> {
    const req = new deviceProfilePb.GetDeviceProfileRequest();
    req.setId(id);
    const res = await this.call('DeviceProfileService.Get', this.prof, this.prof.get, req);
    const p = res.getDeviceProfile();
    if (!p) throw new Error(`device_profile: missing in Get response for ${id}`);
    const a = p.getAppLayerParams();
    const ver = (v: number | undefined) => APP_LAYER_VERSIONS[v ?? 0] ?? 'NOT_IMPLEMENTED';
    return {
      id: p.getId(),
      name: p.getName(),
      region: regionFromEnum(p.getRegion()),
      macVersion: MAC_VERSIONS[p.getMacVersion()] ?? '1.0.3',
      supportsClassB: p.getSupportsClassB(),
      supportsClassC: p.getSupportsClassC(),
      appLayer: {
        ts003Version: ver(a?.getTs003Version()),
        ts003FPort: a?.getTs003FPort() ?? 0,
        ts004Version: ver(a?.getTs004Version()),
        ts004FPort: a?.getTs004FPort() ?? 0,
        ts005Version: ver(a?.getTs005Version()),
        ts005FPort: a?.getTs005FPort() ?? 0,
      },
    };
  }
}
