/**
 * A ChirpStack v4 stand-in that speaks the real gRPC wire protocol (official service definitions from
 * @chirpstack/chirpstack-api): MulticastGroupService, DeviceService and DeviceProfileService, with tenants, API keys,
 * applications, gateways, devices, multicast groups and queues held in memory. Provisioning is in-process.
 *
 * It behaves like ChirpStack v4.19.0 (read from its source at tag v4.19.0; docs/sim.md lists each behaviour and
 * the file it comes from): access checks before lookups (tenant keys get UNAUTHENTICATED for what they cannot see),
 * NOT_FOUND texts, duplicate members as INTERNAL "duplicate key", gateway selection for multicast, one queue row per
 * gateway scheduled by margin (src/sim/multicast-scheduler.ts), rows removed on the gateway's TX ack (the network
 * does that, src/sim/network.ts), Class C for LoRaWAN 1.0.x devices whose profile supports it. `version: '4.12'`
 * changes the meaning of MulticastGroup field 14 (class_b_ping_slot_nb_k).
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
  msFromTimestamp,
  multicastPb,
  timestampFromMs,
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
import { RpcError, accessDenied, duplicateKey, foreignKey, invalidArgument, notFound, parseEui, parseUuid, validation } from './chirpstack-errors.js';
import { SimGateway, type SimGatewayConfig } from './gateways.js';
import {
  DEFAULT_SCHEDULER,
  minimumGatewaySet,
  pingNbOf,
  planEnqueue,
  type ChirpStackVersion,
  type McQueueRow,
  type SchedulerConfig,
} from './multicast-scheduler.js';

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
  /** Gateways that heard the last uplink (ChirpStack's device gateway rx-info history). */
  lastGateways: string[];
  /** ChirpStack's `last_seen_at` (the last heard uplink), absent when never heard. */
  lastSeenAtMs?: number;
}

export interface SimDeviceQueueItem extends QueueItem {
  id: string;
  confirmed: boolean;
}

export interface SimMulticastGroup extends MulticastGroupInfo {
  region: RegionName;
  devices: Set<string>;
  gateways: Set<string>;
  /** ChirpStack's queue rows: one per gateway per enqueued item (ListQueue shows one per f_cnt). */
  queue: McQueueRow[];
  /** Ping slots per beacon period, from field 14 as the configured version reads it. */
  pingNb: number;
}

export interface SimApiKey {
  token: string;
  /** Admin key (all tenants) or tenant-scoped key. */
  admin: boolean;
  tenantId?: string;
  readOnly: boolean;
}

export interface SimChirpStackOptions {
  /** Token of the admin API key (default random). */
  apiToken?: string;
  /** Runs after a call changed state and before it answers: lets tests simulate a reply lost in an outage. */
  beforeReply?: (method: string) => Promise<void> | void;
  /** ChirpStack version whose API is modelled (default 4.19): 4.12 reads MulticastGroup field 14 as nb_k. */
  version?: ChirpStackVersion;
  /** network.scheduler settings (defaults: margins 5 s, interval 1 s, lock 2 s). */
  scheduler?: Partial<SchedulerConfig>;
  /** Region config `repeater_compatible` (default false): lowers the max payload of the fast data rates to 222. */
  repeaterCompatible?: boolean;
  /** Gateways of the default tenant (default: one EU868 gateway 0016c001f153a14c without GPS). */
  gateways?: Omit<SimGatewayConfig, 'tenantId'>[];
  /**
   * Kinder than ChirpStack, for callers that cannot yet cope: a second AddDevice / AddGateway of the same member
   * succeeds instead of failing with INTERNAL "duplicate key". Off by default.
   */
  acceptDuplicateMembers?: boolean;
  /** Simulated time (ms); the network sets it to its own clock. Default Date.now. */
  now?: () => number;
}

export const DEFAULT_GATEWAY_ID = '0016c001f153a14c';
export const DEFAULT_TENANT_ID = '52f14cd4-c6f1-4fbd-8f87-4025e1d49242';

const NO_APP_LAYER: AppLayerParams = {
  ts003Version: 'NOT_IMPLEMENTED', ts003FPort: 202, ts004Version: 'NOT_IMPLEMENTED', ts004FPort: 201, ts005Version: 'NOT_IMPLEMENTED', ts005FPort: 200,
};

type Handler<Req, Res> = (req: Req, key: SimApiKey) => Res;

export class SimChirpStack {
  readonly apiToken: string;
  readonly version: ChirpStackVersion;
  readonly scheduler: SchedulerConfig;
  readonly repeaterCompatible: boolean;
  /** Region config downlink dwell-time limit (AS923); the network sets it from its region options. */
  dwellTime = false;
  readonly acceptDuplicateMembers: boolean;
  readonly tenants = new Map<string, { id: string; name: string }>();
  readonly apiKeys = new Map<string, SimApiKey>();
  readonly applications = new Map<string, { id: string; name: string; tenantId: string }>();
  readonly profiles = new Map<string, SimDeviceProfile>();
  readonly devices = new Map<string, SimDeviceRecord>();
  readonly gateways = new Map<string, SimGateway>();
  readonly groups = new Map<string, SimMulticastGroup>();
  /** Listeners told about every multicast enqueue that stored rows (the network schedules them). */
  readonly onMulticastEnqueue = new Set<(groupId: string) => void>();
  /** Listeners told about every unicast enqueue (the network sends class C items at once). */
  readonly onDeviceEnqueue = new Set<(devEui: string) => void>();
  /** Server log lines (ChirpStack's warn! lines for discarded items etc.). */
  readonly log: string[] = [];
  now: () => number;
  private server: grpc.Server | undefined;
  private nextDevAddr = 0x26000001;
  private rowSeq = 0;

  constructor(private readonly opts: SimChirpStackOptions = {}) {
    this.apiToken = opts.apiToken ?? randomUUID();
    this.version = opts.version ?? '4.19';
    if (this.version !== '4.12' && this.version !== '4.19') throw new RangeError(`version: expected 4.12 or 4.19, got ${String(opts.version)}`);
    this.scheduler = { ...DEFAULT_SCHEDULER, ...opts.scheduler };
    for (const [k, v] of Object.entries(this.scheduler)) if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`scheduler.${k}: must be >= 0 ms, got ${v}`);
    this.repeaterCompatible = opts.repeaterCompatible ?? false;
    this.acceptDuplicateMembers = opts.acceptDuplicateMembers ?? false;
    this.now = opts.now ?? Date.now;
    this.tenants.set(DEFAULT_TENANT_ID, { id: DEFAULT_TENANT_ID, name: 'ChirpStack' });
    this.apiKeys.set(this.apiToken, { token: this.apiToken, admin: true, readOnly: false });
    for (const g of opts.gateways ?? [{ gatewayId: DEFAULT_GATEWAY_ID, region: 'EU868' as const }]) this.createGateway({ ...g, tenantId: DEFAULT_TENANT_ID });
  }

  // ---- in-process provisioning ----

  createTenant(name: string): string {
    const id = randomUUID();
    this.tenants.set(id, { id, name });
    return id;
  }

  /** An API key: tenant-scoped when `tenantId` is given, admin otherwise. Returns the bearer token. */
  createApiKey(o: { tenantId?: string; readOnly?: boolean } = {}): string {
    if (o.tenantId !== undefined && !this.tenants.has(o.tenantId)) throw new RangeError(`tenantId: unknown tenant ${o.tenantId}`);
    const token = randomUUID();
    this.apiKeys.set(token, { token, admin: o.tenantId === undefined, ...(o.tenantId !== undefined ? { tenantId: o.tenantId } : {}), readOnly: o.readOnly ?? false });
    return token;
  }

  createGateway(cfg: Omit<SimGatewayConfig, 'tenantId'> & { tenantId?: string }): SimGateway {
    const tenantId = cfg.tenantId ?? DEFAULT_TENANT_ID;
    if (!this.tenants.has(tenantId)) throw new RangeError(`tenantId: unknown tenant ${tenantId}`);
    const gw = new SimGateway({ ...cfg, tenantId });
    if (this.gateways.has(gw.gatewayId)) throw new RangeError(`gatewayId: gateway ${gw.gatewayId} already exists`);
    this.gateways.set(gw.gatewayId, gw);
    return gw;
  }

  createApplication(name: string, tenantId = DEFAULT_TENANT_ID): string {
    if (!this.tenants.has(tenantId)) throw new RangeError(`tenantId: unknown tenant ${tenantId}`);
    const id = randomUUID();
    this.applications.set(id, { id, name, tenantId });
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

  /**
   * A device as after its OTAA join. Like ChirpStack v4.19 (`uplink/join.rs`): a LoRaWAN 1.0.x device whose profile
   * supports class C is class C from the join on; others are class A (1.1 devices switch with DeviceModeInd).
   */
  createDevice(d: { devEui: string; name?: string; applicationId: string; deviceProfileId: string; keys: Omit<DeviceKeys, 'devEui'>; classEnabled?: DeviceClass }): SimDeviceRecord {
    const devEui = d.devEui.toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(devEui)) throw new RangeError(`devEui: expected 16 hex digits, got "${d.devEui}"`);
    if (!this.applications.has(d.applicationId)) throw new RangeError(`applicationId: unknown application ${d.applicationId}`);
    const profile = this.profiles.get(d.deviceProfileId);
    if (!profile) throw new RangeError(`deviceProfileId: unknown device profile ${d.deviceProfileId}`);
    const joinClass: DeviceClass = profile.supportsClassC && profile.macVersion.startsWith('1.0') ? 'CLASS_C' : 'CLASS_A';
    const rec: SimDeviceRecord = {
      devEui,
      name: d.name ?? devEui,
      applicationId: d.applicationId,
      deviceProfileId: d.deviceProfileId,
      devAddr: this.nextDevAddr++ >>> 0,
      keys: { devEui, ...d.keys },
      classEnabled: d.classEnabled ?? joinClass,
      fCntUp: 0,
      fCntDown: 0,
      queue: [],
      lastGateways: [],
    };
    this.devices.set(devEui, rec);
    return rec;
  }

  /** Creates a group as the Create RPC does (field14: the wire value of field 14 for this version). */
  createMulticastGroup(g: Omit<SimMulticastGroup, 'id' | 'devices' | 'gateways' | 'queue' | 'pingNb' | 'fCnt' | 'schedulingType'> & { fCnt?: number; schedulingType?: 'DELAY' | 'GPS_TIME'; field14?: number }): string {
    const id = randomUUID();
    const field14 = g.field14 ?? g.pingSlotPeriodicity ?? 0;
    this.groups.set(id, {
      ...g,
      id,
      fCnt: g.fCnt ?? 0,
      schedulingType: g.schedulingType ?? 'DELAY',
      pingSlotPeriodicity: field14,
      pingNb: pingNbOf(this.version, field14),
      devices: new Set(),
      gateways: new Set(),
      queue: [],
    });
    return id;
  }

  /**
   * ChirpStack's multicast enqueue (`downlink/multicast.rs` + `storage/multicast.rs`): the group's gateways, or
   * the fewest gateways that heard its devices' last uplinks; one row per gateway; f_cnt advances even when there
   * is no gateway and nothing is stored. Returns the f_cnt.
   */
  enqueueMulticast(groupId: string, item: { fPort: number; data: Uint8Array; expiresAtMs?: number }): number {
    const g = this.groups.get(groupId);
    if (!g) throw notFound(groupId);
    if (!(item.fPort >= 1 && item.fPort <= 255)) throw validation('FPort must be between 1 - 255');
    const gatewayIds = g.gateways.size > 0 ? [...g.gateways] : minimumGatewaySet(this.gatewayHistory(g));
    const sched = { groupType: g.groupType, schedulingType: g.schedulingType ?? 'DELAY', mcAddr: g.mcAddr, pingNb: g.pingNb } as const;
    const rows = planEnqueue(sched, g.queue, gatewayIds, this.now(), this.scheduler);
    const fCnt = g.fCnt;
    for (const r of rows) {
      g.queue.push({
        ...r,
        id: randomUUID(),
        createdSeq: this.rowSeq++,
        fCnt,
        fPort: item.fPort,
        data: item.data,
        ...(item.expiresAtMs !== undefined ? { expiresAtMs: item.expiresAtMs } : {}),
      });
    }
    g.fCnt = (g.fCnt + 1) >>> 0;
    if (rows.length === 0) this.log.push(`multicast group ${g.id}: f_cnt ${fCnt} enqueued for no gateway (no gateways and no device uplink history)`);
    else for (const l of this.onMulticastEnqueue) l(g.id);
    return fCnt;
  }

  /** Removes a queue row (the TX ack, or a discard at send time). */
  deleteQueueRow(groupId: string, rowId: string): boolean {
    const g = this.groups.get(groupId);
    if (!g) return false;
    const i = g.queue.findIndex((r) => r.id === rowId);
    if (i < 0) return false;
    g.queue.splice(i, 1);
    return true;
  }

  /** The next unicast queue item of a device, removed from the queue (delivered in the RX window). */
  popDownlink(devEui: string): SimDeviceQueueItem | undefined {
    return this.devices.get(devEui)?.queue.shift();
  }

  private gatewayHistory(g: SimMulticastGroup): Map<string, string[]> {
    const h = new Map<string, string[]>();
    for (const devEui of g.devices) {
      const d = this.devices.get(devEui);
      if (d && d.lastGateways.length > 0) h.set(devEui, d.lastGateways);
    }
    return h;
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
      const key = typeof auth === 'string' && auth.startsWith('Bearer ') ? this.apiKeys.get(auth.slice(7)) : undefined;
      if (!key) {
        callback({ code: grpc.status.UNAUTHENTICATED, details: auth === undefined ? 'no authorization provided' : 'authorization: missing or wrong bearer token' });
        return;
      }
      let res: Res;
      try {
        res = handler(call.request, key);
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

  // ---- access checks (validator.rs): admin keys pass, tenant keys only for objects of their tenant ----

  private checkTenant(key: SimApiKey, tenantId: string | undefined, write: boolean): void {
    if (write && key.readOnly) throw accessDenied();
    if (key.admin) return;
    if (tenantId === undefined || key.tenantId !== tenantId) throw accessDenied();
  }

  private groupFor(key: SimApiKey, rawId: string, write: boolean): SimMulticastGroup {
    const id = parseUuid(rawId);
    const g = this.groups.get(id);
    this.checkTenant(key, g && this.applications.get(g.applicationId)?.tenantId, write);
    if (!g) throw notFound(id);
    return g;
  }

  private deviceFor(key: SimApiKey, rawEui: string, write: boolean): SimDeviceRecord {
    const devEui = parseEui(rawEui);
    const d = this.devices.get(devEui);
    this.checkTenant(key, d && this.applications.get(d.applicationId)?.tenantId, write);
    if (!d) throw notFound(devEui);
    return d;
  }

  private multicastImpl(): grpc.UntypedServiceImplementation {
    const empty = () => new emptyPb.Empty();
    const pb = multicastPb;
    return {
      create: this.unary('Create', (req: InstanceType<typeof pb.CreateMulticastGroupRequest>, key) => {
        const g = req.getMulticastGroup();
        if (!g) throw invalidArgument('multicast_group is missing');
        const appId = parseUuid(g.getApplicationId());
        const app = this.applications.get(appId);
        this.checkTenant(key, app?.tenantId, true);
        let mcAddr: number;
        try {
          mcAddr = mcAddrFromHex(g.getMcAddr());
        } catch (err) {
          throw invalidArgument((err as Error).message);
        }
        for (const [field, v] of [['mc_app_s_key', g.getMcAppSKey()], ['mc_nwk_s_key', g.getMcNwkSKey()]] as const) {
          if (!/^[0-9a-fA-F]{32}$/.test(v)) throw invalidArgument(`${field}: expected 32 hex digits`);
        }
        if (!g.getName()) throw validation('name is not set');
        const region = regionFromEnum(g.getRegion());
        if (!isRegion(region)) throw invalidArgument(`region ${region} not simulated`);
        if (!app) throw foreignKey('multicast_group', 'fk_application');
        let id: string;
        try {
          id = this.createMulticastGroup({
            name: g.getName(),
            applicationId: appId,
            region,
            mcAddr,
            mcAppSKey: g.getMcAppSKey().toLowerCase(),
            mcNwkSKey: g.getMcNwkSKey().toLowerCase(),
            fCnt: g.getFCnt(),
            groupType: g.getGroupType() === 1 ? 'CLASS_B' : 'CLASS_C',
            dr: g.getDr(),
            frequencyHz: g.getFrequency(),
            schedulingType: g.getClassCSchedulingType() === 1 ? 'GPS_TIME' : 'DELAY',
            // Field 14 on the wire: periodicity in v4.13+, nb_k before (the npm stubs name it periodicity).
            field14: g.getClassBPingSlotPeriodicity(),
          });
        } catch (err) {
          throw invalidArgument((err as Error).message);
        }
        const res = new pb.CreateMulticastGroupResponse();
        res.setId(id);
        return res;
      }),
      get: this.unary('Get', (req: InstanceType<typeof pb.GetMulticastGroupRequest>, key) => {
        const s = this.groupFor(key, req.getId(), false);
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
      delete: this.unary('Delete', (req: InstanceType<typeof pb.DeleteMulticastGroupRequest>, key) => {
        const g = this.groupFor(key, req.getId(), true);
        this.groups.delete(g.id);
        return empty();
      }),
      addDevice: this.unary('AddDevice', (req: InstanceType<typeof pb.AddDeviceToMulticastGroupRequest>, key) => {
        const gid = parseUuid(req.getMulticastGroupId());
        const devEui = parseEui(req.getDevEui());
        const g = this.groupFor(key, gid, true);
        const d = this.devices.get(devEui);
        if (!d) throw notFound(devEui);
        // Device not in the group's application: NotFound with the DevEUI (storage/multicast.rs add_device).
        if (d.applicationId !== g.applicationId) throw notFound(devEui);
        if (g.devices.has(devEui) && !this.acceptDuplicateMembers) throw duplicateKey('multicast_group_device_pkey');
        g.devices.add(devEui);
        return empty();
      }),
      removeDevice: this.unary('RemoveDevice', (req: InstanceType<typeof pb.RemoveDeviceFromMulticastGroupRequest>, key) => {
        const g = this.groupFor(key, req.getMulticastGroupId(), true);
        const devEui = parseEui(req.getDevEui());
        if (!g.devices.delete(devEui)) throw notFound(`multicast-group: ${g.id}, device: ${devEui}`);
        return empty();
      }),
      addGateway: this.unary('AddGateway', (req: InstanceType<typeof pb.AddGatewayToMulticastGroupRequest>, key) => {
        const gid = parseUuid(req.getMulticastGroupId());
        const gatewayId = parseEui(req.getGatewayId());
        const g = this.groupFor(key, gid, true);
        const gw = this.gateways.get(gatewayId);
        if (!gw) throw notFound(gatewayId);
        // Gateway of another tenant: NotFound with the gateway ID (storage/multicast.rs add_gateway).
        if (gw.tenantId !== this.applications.get(g.applicationId)?.tenantId) throw notFound(gatewayId);
        if (g.gateways.has(gatewayId) && !this.acceptDuplicateMembers) throw duplicateKey('multicast_group_gateway_pkey');
        g.gateways.add(gatewayId);
        return empty();
      }),
      removeGateway: this.unary('RemoveGateway', (req: InstanceType<typeof pb.RemoveGatewayFromMulticastGroupRequest>, key) => {
        const g = this.groupFor(key, req.getMulticastGroupId(), true);
        const gatewayId = parseEui(req.getGatewayId());
        if (!g.gateways.delete(gatewayId)) throw notFound(`multicast-group: ${g.id}, gateway: ${gatewayId}`);
        return empty();
      }),
      enqueue: this.unary('Enqueue', (req: InstanceType<typeof pb.EnqueueMulticastGroupQueueItemRequest>, key) => {
        const qi = req.getQueueItem();
        if (!qi) throw invalidArgument('queue_item is missing');
        const g = this.groupFor(key, qi.getMulticastGroupId(), true);
        const expiresAtMs = qi.hasExpiresAt() ? msFromTimestamp(qi.getExpiresAt()) : undefined;
        // Like ChirpStack: the group's counter decides, the f_cnt in the request is ignored.
        const fCnt = this.enqueueMulticast(g.id, { fPort: qi.getFPort(), data: qi.getData_asU8(), ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) });
        const res = new pb.EnqueueMulticastGroupQueueItemResponse();
        res.setFCnt(fCnt);
        return res;
      }),
      flushQueue: this.unary('FlushQueue', (req: InstanceType<typeof pb.FlushMulticastGroupQueueRequest>, key) => {
        this.groupFor(key, req.getMulticastGroupId(), true).queue.length = 0;
        return empty();
      }),
      listQueue: this.unary('ListQueue', (req: InstanceType<typeof pb.ListMulticastGroupQueueRequest>, key) => {
        const g = this.groupFor(key, req.getMulticastGroupId(), false);
        const res = new pb.ListMulticastGroupQueueResponse();
        // One entry per f_cnt (the rows of the other gateways are folded), in creation order.
        const seen = new Set<number>();
        const rows = [...g.queue].sort((x, y) => x.createdSeq - y.createdSeq).filter((r) => !seen.has(r.fCnt) && seen.add(r.fCnt));
        res.setItemsList(
          rows.map((q) => {
            const item = new pb.MulticastGroupQueueItem();
            item.setMulticastGroupId(g.id);
            item.setFCnt(q.fCnt);
            item.setFPort(q.fPort);
            item.setData(q.data);
            if (q.expiresAtMs !== undefined) item.setExpiresAt(timestampFromMs(q.expiresAtMs));
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
      get: this.unary('Device.Get', (req: InstanceType<typeof pb.GetDeviceRequest>, key) => {
        const d = this.deviceFor(key, req.getDevEui(), false);
        const dev = new pb.Device();
        dev.setDevEui(d.devEui);
        dev.setName(d.name);
        dev.setApplicationId(d.applicationId);
        dev.setDeviceProfileId(d.deviceProfileId);
        const res = new pb.GetDeviceResponse();
        res.setDevice(dev);
        res.setClassEnabled(DEVICE_CLASSES.indexOf(d.classEnabled) as 0);
        if (d.lastSeenAtMs !== undefined) res.setLastSeenAt(timestampFromMs(d.lastSeenAtMs));
        return res;
      }),
      getKeys: this.unary('Device.GetKeys', (req: InstanceType<typeof pb.GetDeviceKeysRequest>, key) => {
        const d = this.deviceFor(key, req.getDevEui(), false);
        const k = new pb.DeviceKeys();
        k.setDevEui(d.devEui);
        k.setNwkKey(d.keys.nwkKey);
        k.setAppKey(d.keys.appKey);
        k.setGenAppKey(d.keys.genAppKey);
        const res = new pb.GetDeviceKeysResponse();
        res.setDeviceKeys(k);
        return res;
      }),
      enqueue: this.unary('Device.Enqueue', (req: InstanceType<typeof pb.EnqueueDeviceQueueItemRequest>, key) => {
        const qi = req.getQueueItem();
        if (!qi) throw invalidArgument('queue_item is missing');
        const d = this.deviceFor(key, qi.getDevEui(), true);
        if (qi.getFPort() === 0) throw validation('FPort must be between 1 - 255');
        if (req.getFlushQueue()) d.queue.length = 0;
        const id = randomUUID();
        d.queue.push({ id, fCnt: d.fCntDown++, fPort: qi.getFPort(), data: qi.getData_asU8(), confirmed: qi.getConfirmed() });
        for (const l of this.onDeviceEnqueue) l(d.devEui);
        const res = new pb.EnqueueDeviceQueueItemResponse();
        res.setId(id);
        return res;
      }),
      flushQueue: this.unary('Device.FlushQueue', (req: InstanceType<typeof pb.FlushDeviceQueueRequest>, key) => {
        this.deviceFor(key, req.getDevEui(), true).queue.length = 0;
        return new emptyPb.Empty();
      }),
      getQueue: this.unary('Device.GetQueue', (req: InstanceType<typeof pb.GetDeviceQueueItemsRequest>, key) => {
        const d = this.deviceFor(key, req.getDevEui(), false);
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
      get: this.unary('DeviceProfile.Get', (req: InstanceType<typeof pb.GetDeviceProfileRequest>, key) => {
        const id = parseUuid(req.getId());
        const p = this.profiles.get(id);
        this.checkTenant(key, p ? DEFAULT_TENANT_ID : undefined, false);
        if (!p) throw notFound(id);
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
