/**
 * A ChirpStack v4 stand-in that speaks the real gRPC wire protocol (official service definitions from
 * @chirpstack/chirpstack-api): MulticastGroupService, DeviceService and DeviceProfileService, with applications,
 * devices, keys, multicast groups and queues held in memory. Provisioning is in-process (SimChirpStack methods).
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  DeviceProfileServiceService,
  DeviceServiceService,
  MulticastGroupServiceService,
  devicePb,
  deviceProfilePb,
  emptyPb,
  multicastPb,
} from '../chirpstack/pb.js';
import {
  APP_LAYER_VERSIONS,
  DEVICE_CLASSES,
  MAC_VERSIONS,
  REGION_ENUM,
  mcAddrFromHex,
  regionFromEnum,
  type AppLayerParams,
  type DeviceClass,
  type DeviceKeys,
  type MacVersion,
  type MulticastGroupInfo,
  type QueueItem,
} from '../chirpstack/types.js';
import { isRegion, type RegionName } from '../codec/region.js';

export interface SimDeviceProfile {
  id: string;
  name: string;
  region: RegionName;
  macVersion: MacVersion;
  supportsClassB: boolean;
  supportsClassC: boolean;
  appLayer: AppLayerParams;
}

export interface SimDeviceRecord {
  devEui: string;
  name: string;
  applicationId: string;
  deviceProfileId: string;
  devAddr: number;
  keys: DeviceKeys;
  classEnabled: DeviceClass;
  fCntUp: number;
  fCntDown: number;
  queue: SimDeviceQueueItem[];
}

export interface SimDeviceQueueItem extends QueueItem {
  id: string;
  confirmed: boolean;
}

export interface SimMulticastGroup extends MulticastGroupInfo {
  region: RegionName;
  devices: Set<string>;
  gateways: Set<string>;
  queue: QueueItem[];
}

export interface SimChirpStackOptions {
  apiToken?: string;
  /** Runs after a call changed state and before it answers: lets tests simulate a reply lost in an outage. */
  beforeReply?: (method: string) => Promise<void> | void;
}

const NO_APP_LAYER: AppLayerParams = {
  ts003Version: 'NOT_IMPLEMENTED', ts003FPort: 202, ts004Version: 'NOT_IMPLEMENTED', ts004FPort: 201, ts005Version: 'NOT_IMPLEMENTED', ts005FPort: 200,
};

class RpcError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

type Handler<Req, Res> = (req: Req) => Res;

export class SimChirpStack {
  readonly apiToken: string;
  readonly applications = new Map<string, { id: string; name: string }>();
  readonly profiles = new Map<string, SimDeviceProfile>();
  readonly devices = new Map<string, SimDeviceRecord>();
  readonly groups = new Map<string, SimMulticastGroup>();
  /** Listeners told about every new multicast queue item (the network schedules it) and every unicast one. */
  readonly onMulticastEnqueue = new Set<(groupId: string) => void>();
  private server: grpc.Server | undefined;
  private nextDevAddr = 0x26000001;

  constructor(private readonly opts: SimChirpStackOptions = {}) {
    this.apiToken = opts.apiToken ?? randomUUID();
  }

  // ---- in-process provisioning ----

  createApplication(name: string): string {
    const id = randomUUID();
    this.applications.set(id, { id, name });
    return id;
  }

  createDeviceProfile(p: Partial<Omit<SimDeviceProfile, 'id'>> & { name: string }): string {
    const id = randomUUID();
    this.profiles.set(id, {
      id,
      name: p.name,
      region: p.region ?? 'EU868',
      macVersion: p.macVersion ?? '1.0.3',
      supportsClassB: p.supportsClassB ?? false,
      supportsClassC: p.supportsClassC ?? true,
      appLayer: { ...NO_APP_LAYER, ...p.appLayer },
    });
    return id;
  }

  createDevice(d: { devEui: string; name?: string; applicationId: string; deviceProfileId: string; keys: Omit<DeviceKeys, 'devEui'>; classEnabled?: DeviceClass }): SimDeviceRecord {
    const devEui = d.devEui.toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(devEui)) throw new RangeError(`devEui: expected 16 hex digits, got "${d.devEui}"`);
    if (!this.applications.has(d.applicationId)) throw new RangeError(`applicationId: unknown application ${d.applicationId}`);
    if (!this.profiles.has(d.deviceProfileId)) throw new RangeError(`deviceProfileId: unknown device profile ${d.deviceProfileId}`);
    const rec: SimDeviceRecord = {
      devEui,
      name: d.name ?? devEui,
      applicationId: d.applicationId,
      deviceProfileId: d.deviceProfileId,
      devAddr: this.nextDevAddr++ >>> 0,
      keys: { devEui, ...d.keys },
      classEnabled: d.classEnabled ?? 'CLASS_A',
      fCntUp: 0,
      fCntDown: 0,
      queue: [],
    };
    this.devices.set(devEui, rec);
    return rec;
  }

  /** The next multicast queue item of a group, removed from the queue (what the network transmits). */
  popMulticast(groupId: string): QueueItem | undefined {
    return this.groups.get(groupId)?.queue.shift();
  }

  /** The next unicast queue item of a device, removed from the queue (delivered in the RX window). */
  popDownlink(devEui: string): SimDeviceQueueItem | undefined {
    return this.devices.get(devEui)?.queue.shift();
  }

  // ---- gRPC server ----

  /**
   * Listens on host:port (port 0 = pick a free one), plaintext or TLS with a PEM certificate chain and key;
   * resolves to the bound port. Can be called again after stop().
   */
  async listen(host = '127.0.0.1', port = 0, tls?: { certChain: Buffer; privateKey: Buffer }): Promise<number> {
    if (this.server) throw new Error('listen: already listening');
    const server = new grpc.Server();
    server.addService(MulticastGroupServiceService, this.multicastImpl());
    server.addService(DeviceServiceService, this.deviceImpl());
    server.addService(DeviceProfileServiceService, this.profileImpl());
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${host}:${port}`,
        tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: tls.certChain, private_key: tls.privateKey }]) : grpc.ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    this.server = server;
    return bound;
  }

  /** Drops every connection and call in flight at once (an outage). State is kept. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private unary<Req, Res>(method: string, handler: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const auth = call.metadata.get('authorization')[0];
      if (auth !== `Bearer ${this.apiToken}`) {
        callback({ code: grpc.status.UNAUTHENTICATED, details: 'authorization: missing or wrong bearer token' });
        return;
      }
      let res: Res;
      try {
        res = handler(call.request);
      } catch (err) {
        const code = err instanceof RpcError ? err.code : grpc.status.INTERNAL;
        callback({ code, details: err instanceof Error ? err.message : String(err) });
        return;
      }
      Promise.resolve(this.opts.beforeReply?.(method)).then(
        () => callback(null, res),
        (err: unknown) => callback({ code: grpc.status.INTERNAL, details: String(err) }),
      );
    };
  }

  private group(id: string): SimMulticastGroup {
    const g = this.groups.get(id);
    if (!g) throw new RpcError(grpc.status.NOT_FOUND, `multicast group ${id} does not exist`);
    return g;
  }

  private device(devEui: string): SimDeviceRecord {
    const d = this.devices.get(devEui.toLowerCase());
    if (!d) throw new RpcError(grpc.status.NOT_FOUND, `device ${devEui} does not exist`);
    return d;
  }

  private multicastImpl(): grpc.UntypedServiceImplementation {
    const empty = () => new emptyPb.Empty();
    const pb = multicastPb;
    return {
      create: this.unary('Create', (req: InstanceType<typeof pb.CreateMulticastGroupRequest>) => {
        const g = req.getMulticastGroup();
        if (!g) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'multicast_group is required');
        if (!this.applications.has(g.getApplicationId())) throw new RpcError(grpc.status.NOT_FOUND, `application ${g.getApplicationId()} does not exist`);
        let mcAddr: number;
        try {
          mcAddr = mcAddrFromHex(g.getMcAddr());
        } catch (err) {
          throw new RpcError(grpc.status.INVALID_ARGUMENT, (err as Error).message);
        }
        for (const [field, v] of [['mc_app_s_key', g.getMcAppSKey()], ['mc_nwk_s_key', g.getMcNwkSKey()]] as const) {
          if (!/^[0-9a-fA-F]{32}$/.test(v)) throw new RpcError(grpc.status.INVALID_ARGUMENT, `${field}: expected 32 hex digits`);
        }
        const region = regionFromEnum(g.getRegion());
        if (!isRegion(region)) throw new RpcError(grpc.status.INVALID_ARGUMENT, `region ${region} not simulated`);
        const id = randomUUID();
        this.groups.set(id, {
          id,
          name: g.getName(),
          applicationId: g.getApplicationId(),
          region,
          mcAddr,
          mcAppSKey: g.getMcAppSKey().toLowerCase(),
          mcNwkSKey: g.getMcNwkSKey().toLowerCase(),
          fCnt: g.getFCnt(),
          groupType: g.getGroupType() === 1 ? 'CLASS_B' : 'CLASS_C',
          dr: g.getDr(),
          frequencyHz: g.getFrequency(),
          schedulingType: g.getClassCSchedulingType() === 1 ? 'GPS_TIME' : 'DELAY',
          pingSlotPeriodicity: g.getClassBPingSlotPeriodicity(),
          devices: new Set(),
          gateways: new Set(),
          queue: [],
        });
        const res = new pb.CreateMulticastGroupResponse();
        res.setId(id);
        return res;
      }),
      get: this.unary('Get', (req: InstanceType<typeof pb.GetMulticastGroupRequest>) => {
        const s = this.group(req.getId());
        const g = new pb.MulticastGroup();
        g.setId(s.id);
        g.setName(s.name);
        g.setApplicationId(s.applicationId);
        g.setRegion(REGION_ENUM[s.region] as 0);
        g.setMcAddr(s.mcAddr.toString(16).padStart(8, '0'));
        g.setMcAppSKey(s.mcAppSKey);
        g.setMcNwkSKey(s.mcNwkSKey);
        g.setFCnt(s.fCnt);
        g.setGroupType(s.groupType === 'CLASS_B' ? 1 : 0);
        g.setDr(s.dr);
        g.setFrequency(s.frequencyHz);
        g.setClassCSchedulingType(s.schedulingType === 'GPS_TIME' ? 1 : 0);
        g.setClassBPingSlotPeriodicity(s.pingSlotPeriodicity ?? 0);
        const res = new pb.GetMulticastGroupResponse();
        res.setMulticastGroup(g);
        return res;
      }),
      delete: this.unary('Delete', (req: InstanceType<typeof pb.DeleteMulticastGroupRequest>) => {
        this.group(req.getId());
        this.groups.delete(req.getId());
        return empty();
      }),
      addDevice: this.unary('AddDevice', (req: InstanceType<typeof pb.AddDeviceToMulticastGroupRequest>) => {
        const g = this.group(req.getMulticastGroupId());
        const d = this.device(req.getDevEui());
        if (d.applicationId !== g.applicationId) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'device and multicast group belong to different applications');
        g.devices.add(d.devEui);
        return empty();
      }),
      removeDevice: this.unary('RemoveDevice', (req: InstanceType<typeof pb.RemoveDeviceFromMulticastGroupRequest>) => {
        this.group(req.getMulticastGroupId()).devices.delete(req.getDevEui().toLowerCase());
        return empty();
      }),
      addGateway: this.unary('AddGateway', (req: InstanceType<typeof pb.AddGatewayToMulticastGroupRequest>) => {
        this.group(req.getMulticastGroupId()).gateways.add(req.getGatewayId().toLowerCase());
        return empty();
      }),
      enqueue: this.unary('Enqueue', (req: InstanceType<typeof pb.EnqueueMulticastGroupQueueItemRequest>) => {
        const qi = req.getQueueItem();
        if (!qi) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'queue_item is required');
        const g = this.group(qi.getMulticastGroupId());
        if (qi.getFPort() === 0) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'f_port must be > 0');
        // Like ChirpStack: the group's counter decides, the f_cnt in the request is ignored.
        const fCnt = g.fCnt;
        g.fCnt = (g.fCnt + 1) >>> 0;
        g.queue.push({ fCnt, fPort: qi.getFPort(), data: qi.getData_asU8() });
        for (const l of this.onMulticastEnqueue) l(g.id);
        const res = new pb.EnqueueMulticastGroupQueueItemResponse();
        res.setFCnt(fCnt);
        return res;
      }),
      flushQueue: this.unary('FlushQueue', (req: InstanceType<typeof pb.FlushMulticastGroupQueueRequest>) => {
        this.group(req.getMulticastGroupId()).queue.length = 0;
        return empty();
      }),
      listQueue: this.unary('ListQueue', (req: InstanceType<typeof pb.ListMulticastGroupQueueRequest>) => {
        const g = this.group(req.getMulticastGroupId());
        const res = new pb.ListMulticastGroupQueueResponse();
        res.setItemsList(
          g.queue.map((q) => {
            const item = new pb.MulticastGroupQueueItem();
            item.setMulticastGroupId(g.id);
            item.setFCnt(q.fCnt);
            item.setFPort(q.fPort);
            item.setData(q.data);
            return item;
          }),
        );
        return res;
      }),
    };
  }

  private deviceImpl(): grpc.UntypedServiceImplementation {
    const pb = devicePb;
    return {
      get: this.unary('Device.Get', (req: InstanceType<typeof pb.GetDeviceRequest>) => {
        const d = this.device(req.getDevEui());
        const dev = new pb.Device();
        dev.setDevEui(d.devEui);
        dev.setName(d.name);
        dev.setApplicationId(d.applicationId);
        dev.setDeviceProfileId(d.deviceProfileId);
        const res = new pb.GetDeviceResponse();
        res.setDevice(dev);
        res.setClassEnabled(DEVICE_CLASSES.indexOf(d.classEnabled) as 0);
        return res;
      }),
      getKeys: this.unary('Device.GetKeys', (req: InstanceType<typeof pb.GetDeviceKeysRequest>) => {
        const d = this.device(req.getDevEui());
        const k = new pb.DeviceKeys();
        k.setDevEui(d.devEui);
        k.setNwkKey(d.keys.nwkKey);
        k.setAppKey(d.keys.appKey);
        k.setGenAppKey(d.keys.genAppKey);
        const res = new pb.GetDeviceKeysResponse();
        res.setDeviceKeys(k);
        return res;
      }),
      enqueue: this.unary('Device.Enqueue', (req: InstanceType<typeof pb.EnqueueDeviceQueueItemRequest>) => {
        const qi = req.getQueueItem();
        if (!qi) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'queue_item is required');
        const d = this.device(qi.getDevEui());
        if (qi.getFPort() === 0) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'f_port must be > 0');
        if (req.getFlushQueue()) d.queue.length = 0;
        const id = randomUUID();
        d.queue.push({ id, fCnt: d.fCntDown++, fPort: qi.getFPort(), data: qi.getData_asU8(), confirmed: qi.getConfirmed() });
        const res = new pb.EnqueueDeviceQueueItemResponse();
        res.setId(id);
        return res;
      }),
      flushQueue: this.unary('Device.FlushQueue', (req: InstanceType<typeof pb.FlushDeviceQueueRequest>) => {
        this.device(req.getDevEui()).queue.length = 0;
        return new emptyPb.Empty();
      }),
      getQueue: this.unary('Device.GetQueue', (req: InstanceType<typeof pb.GetDeviceQueueItemsRequest>) => {
        const d = this.device(req.getDevEui());
        const res = new pb.GetDeviceQueueItemsResponse();
        res.setTotalCount(d.queue.length);
        res.setResultList(
          d.queue.map((q) => {
            const item = new pb.DeviceQueueItem();
            item.setId(q.id);
            item.setDevEui(d.devEui);
            item.setFPort(q.fPort);
            item.setData(q.data);
            item.setFCntDown(q.fCnt);
            item.setConfirmed(q.confirmed);
            return item;
          }),
        );
        return res;
      }),
    };
  }

  private profileImpl(): grpc.UntypedServiceImplementation {
    const pb = deviceProfilePb;
    return {
      get: this.unary('DeviceProfile.Get', (req: InstanceType<typeof pb.GetDeviceProfileRequest>) => {
        const p = this.profiles.get(req.getId());
        if (!p) throw new RpcError(grpc.status.NOT_FOUND, `device profile ${req.getId()} does not exist`);
        const dp = new pb.DeviceProfile();
        dp.setId(p.id);
        dp.setName(p.name);
        dp.setRegion(REGION_ENUM[p.region] as 0);
        dp.setMacVersion(MAC_VERSIONS.indexOf(p.macVersion) as 0);
        dp.setSupportsOtaa(true);
        dp.setSupportsClassB(p.supportsClassB);
        dp.setSupportsClassC(p.supportsClassC);
        const a = new pb.AppLayerParams();
        const v = (x: AppLayerParams['ts003Version']) => APP_LAYER_VERSIONS.indexOf(x) as 0;
        a.setTs003Version(v(p.appLayer.ts003Version));
        a.setTs003FPort(p.appLayer.ts003FPort);
        a.setTs004Version(v(p.appLayer.ts004Version));
        a.setTs004FPort(p.appLayer.ts004FPort);
        a.setTs005Version(v(p.appLayer.ts005Version));
        a.setTs005FPort(p.appLayer.ts005FPort);
        dp.setAppLayerParams(a);
        const res = new pb.GetDeviceProfileResponse();
        res.setDeviceProfile(dp);
        return res;
      }),
    };
  }
}
