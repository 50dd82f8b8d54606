/**
 * The campaign pipeline without Redis, gRPC or wall time: the pure `step` driven in virtual time against the
 * in-process simulated ChirpStack and radio network. The harness plays the worker shell: it keeps the state in
 * memory, carries the effects out on the simulated ChirpStack (folding their results back with the landing
 * functions), answers clock-sync requests like the uplink intake, and feeds the devices' answers to the next step.
 */
import { randomUUID } from 'node:crypto';
import { prepareCampaign } from '../../src/service/submit.js';
import { rootKeyFor } from '../../src/chirpstack/keys.js';
import { isAlreadyMember } from '../../src/chirpstack/errors.js';
import { profileWarnings } from '../../src/chirpstack/profile-check.js';
import { silentLossCheck } from '../../src/campaign/group-check.js';
import { duplicateKey } from '../../src/sim/chirpstack-errors.js';
import type { Effect } from '../../src/campaign/effects.js';
import { onDevicesMissing, onGroupCreated, onGroupReady, onMulticastLanded } from '../../src/campaign/landing.js';
import { onLanded } from '../../src/campaign/device-machine.js';
import type { DeviceState, Stage } from '../../src/campaign/model.js';
import type { DeviceSnapshot } from '../../src/device/app-layer.js';
import type { CampaignSpecInput } from '../../src/campaign/schema.js';
import type { CampaignState } from '../../src/campaign/state.js';
import { keysNeeded, profilesNeeded, step, type DeviceAnswer, type StepResult } from '../../src/campaign/step.js';
import { profilesOf } from './sim-profiles.js';
import { ManualClock } from '../../src/codec/clock.js';
import { encodeDataFragment } from '../../src/codec/data-fragment.js';
import { createFecEncoder, type FecEncoder } from '../../src/codec/fec.js';
import { decodeCommands } from '../../src/codec/frame.js';
import { unixMsToGps } from '../../src/codec/gpstime.js';
import { versionToU32 } from '../../src/codec/image-header.js';
import { generateKeyPair, publicKeyOf, formatPublicKeyFile, type SigningKey } from '../../src/image/keys.js';
import { selectImage, serialiseImages } from '../../src/campaign/images.js';
import { signImage } from '../../src/image/sign.js';
import { SimChirpStack } from '../../src/sim/chirpstack-server.js';
import { createSimDevice, makeFleetSpecs, type FleetMix } from '../../src/sim/fleet.js';
import { SimNetwork } from '../../src/sim/network.js';
import { Radio } from '../../src/sim/radio.js';
import { Rng } from '../../src/device/rng.js';
import type { SimulatedDevice } from '../../src/sim/types.js';
import { parseCampaignState } from '../../src/store/campaign-state.js';
import { appTimeAnswer } from '../../src/service/uplinks.js';

export const T0 = Date.parse('2026-01-05T00:00:00Z');
/** The simulated gateways, in order (the first is the simulator's default gateway). */
export const HARNESS_GATEWAYS = ['0016c001f153a14c', '0016c001f153a14d', '0016c001f153a14e'];
export const DEVICE_CLASS = 'harness-sensor-v1';

export interface HarnessOptions {
  devices: number;
  loss: number;
  seed: number;
  mix?: FleetMix;
  imageBytes?: number;
  silentFraction?: number;
  /** The devices' periodic uplink interval, also the spec's timing.uplinkIntervalS (default 60 s). */
  uplinkIntervalMs?: number;
  /** Changes to the campaign spec (the fleet's devices and the image are filled in). */
  spec?: (s: CampaignSpecInput) => CampaignSpecInput;
  /** Wraps simulated devices (fault injection: deaf, late). */
  wrap?: (d: SimulatedDevice, i: number) => SimulatedDevice;
  /** Simulated ChirpStack gateways (default 2, all named in the spec's multicast.gatewayIds). */
  gateways?: number;
  /** Name the gateways in the spec (default true); false leaves the choice to ChirpStack (devices' last uplinks). */
  namedGateways?: boolean;
  /** ChirpStack `multicast_class_c_margin` (default 5000 ms, ChirpStack's default), also given to the planner. */
  marginMs?: number;
  /** ChirpStack version modelled (default 4.19). */
  chirpstackVersion?: '4.12' | '4.19';
  /** ChirpStack region config `repeater_compatible` (default false), also given to the planner. */
  repeaterCompatible?: boolean;
  /** Device profile `supports_class_c` (default false: class A between sessions, as the service advises). */
  profileClassC?: boolean;
  /**
   * Signed images instead of a random firmware (delta campaigns): the key that signed them, the full image, delta
   * images (`deltas` in the spec), and the signed image device i runs from power-up (none: 1.0.0, unknown base).
   */
  images?: { key: SigningKey; full: Uint8Array; deltas?: Uint8Array[]; baseImageOf?: (i: number) => Uint8Array | undefined };
  /** Where heard uplinks go instead of the harness's own intake (to drive the real worker shell). */
  uplinks?: (u: { devEui: string; fPort: number; fCnt: number; data: Uint8Array; timeMs: number }) => void;
}

/** A device that hears no unicast downlink before `untilMs` (a set-up straggler). */
export class DeafUntil implements SimulatedDevice {
  constructor(
    readonly inner: SimulatedDevice,
    readonly untilMs: number,
  ) {}
  get devEui(): string {
    return this.inner.devEui;
  }
  receiveUnicast(fPort: number, data: Uint8Array, nowMs: number): void {
    if (nowMs >= this.untilMs) this.inner.receiveUnicast(fPort, data, nowMs);
  }
  receiveMulticast(...a: Parameters<SimulatedDevice['receiveMulticast']>): void {
    this.inner.receiveMulticast(...a);
  }
  nextUplinkAt(nowMs: number): number {
    return this.inner.nextUplinkAt(nowMs);
  }
  transmit(nowMs: number): ReturnType<SimulatedDevice['transmit']> {
    return this.inner.transmit(nowMs);
  }
}

export class PipelineHarness {
  now = T0;
  state: CampaignState;
  devices = new Map<string, DeviceState>();
  readonly events: Record<string, unknown>[] = [];
  readonly effects: { at: number; effect: Effect }[] = [];
  readonly stages: Stage[] = [];
  readonly cs: SimChirpStack;
  readonly net: SimNetwork;
  readonly sim: (SimulatedDevice & { readonly state: DeviceSnapshot })[];
  readonly stacks = new Map<string, string>();
  readonly image: Uint8Array;
  /** Delta images by base version (a delta campaign). */
  readonly deltaImages: ReadonlyMap<number, Uint8Array> | undefined;
  readonly spec: CampaignSpecInput;
  steps = 0;
  /** AddDevice / AddGateway calls answered "already a member". */
  duplicateMembers = 0;
  private answers: DeviceAnswer[] = [];
  private seq = 0;
  private readonly encoders = new Map<number, FecEncoder>();
  private released = false;

  constructor(o: HarnessOptions) {
    const rng = new Rng(o.seed ^ 0x5eed);
    const key = o.images?.key ?? generateKeyPair('ecdsa-p256');
    const trusted = { algorithm: key.algorithm, publicKey: publicKeyOf(key) };
    const firmware = new Uint8Array(o.images ? 0 : (o.imageBytes ?? 4096));
    for (let i = 0; i < firmware.length; i++) firmware[i] = rng.int(255);
    this.image = o.images?.full ?? signImage(firmware, { key, version: '1.1.0', deviceClass: DEVICE_CLASS });
    // ChirpStack as it is (v4.19 defaults): duplicate members refused, gateways without GPS that enforce their duty
    // cycle, 5 s Class C margin, devices class A between sessions (their profile without supports_class_c).
    const gatewayIds = HARNESS_GATEWAYS.slice(0, o.gateways ?? 2);
    const marginMs = o.marginMs ?? 5000;
    this.cs = new SimChirpStack({
      version: o.chirpstackVersion ?? '4.19',
      repeaterCompatible: o.repeaterCompatible ?? false,
      gateways: gatewayIds.map((gatewayId) => ({ gatewayId, region: 'EU868' as const })),
    });
    const applicationId = this.cs.createApplication('harness');
    const profileId = this.cs.createDeviceProfile({ name: 'fuota', macVersion: '1.0.3', supportsClassC: o.profileClassC ?? false });
    const specs = makeFleetSpecs({
      count: o.devices,
      seed: o.seed,
      deviceClass: DEVICE_CLASS,
      firmwareVersion: versionToU32('1.0.0'),
      trustedKeys: [trusted],
      mix: o.mix ?? { 'loramac-node': 1, 'lbm-v1': 1 },
      silentFraction: o.silentFraction ?? 0,
      maxNbFrag: 320,
      maxFragSize: 242,
      maxLost: 320,
      ...(o.uplinkIntervalMs !== undefined ? { uplinkIntervalMs: o.uplinkIntervalMs } : {}),
    });
    specs.forEach((s, i) => {
      const baseImage = o.images?.baseImageOf?.(i);
      if (baseImage) s.baseImage = baseImage;
    });
    for (const s of specs) {
      this.cs.createDevice({ devEui: s.devEui, applicationId, deviceProfileId: profileId, keys: { nwkKey: '00'.repeat(16), appKey: '', genAppKey: Buffer.from(s.rootKey).toString('hex') } });
      this.stacks.set(s.devEui, s.profile === 'loramac-node' ? 'loramac-node' : `lbm-v${s.versions.ts004}`);
    }
    this.sim = specs.map((s) => createSimDevice(s, o.seed));
    const onAir = this.sim.map((d, i) => (o.wrap ? o.wrap(d, i) : d));
    this.net = new SimNetwork({
      clock: new ManualClock(T0),
      devices: onAir,
      chirpstack: this.cs,
      radio: new Radio({ seed: o.seed, loss: o.loss, model: 'uniform', badFraction: 0.1, badFactor: 2, silentFraction: 0 }),
      out: { emit: (e) => (o.uplinks ? o.uplinks(e) : this.uplink(e.devEui, e.fPort, e.data, e.timeMs)) },
      classCMarginMs: marginMs,
    });
    const base: CampaignSpecInput = {
      name: 'harness',
      applicationId,
      imageBase64: Buffer.from(this.image).toString('base64'),
      publicKeys: [formatPublicKeyFile(trusted)],
      deviceClass: DEVICE_CLASS,
      devices: specs.map((s) => ({ devEui: s.devEui, lorawan: s.lorawan })),
      ...(o.images?.deltas ? { deltas: o.images.deltas.map((d) => ({ imageBase64: Buffer.from(d).toString('base64') })) } : {}),
      multicast: {
        groupType: 'C', region: 'EU868', dr: 5, frequencyHz: 869_525_000, classCMarginMs: marginMs, repeaterCompatible: o.repeaterCompatible ?? false,
        ...(o.namedGateways === false ? { gatewayCount: gatewayIds.length } : { gatewayIds }),
      },
      fragmentation: { ts004Version: 1, initialRedundancyPercent: 10, maxRedundancyPercent: 250, blockAckDelay: 0, maxRepairRounds: 12 },
      timing: { uplinkIntervalS: (o.uplinkIntervalMs ?? 60_000) / 1000, unicastRetries: 8, rebootDelayS: 30 },
    };
    this.spec = o.spec ? o.spec(base) : base;
    const { spec, plan, targetVersion, deltas } = prepareCampaign(this.spec);
    this.deltaImages = deltas?.bytes;
    const { imageBase64: _i, deltas: _d, ...stored } = spec;
    this.state = parseCampaignState({
      id: randomUUID(),
      name: spec.name,
      stage: 'prepare',
      createdAt: T0,
      updatedAt: T0,
      spec: stored,
      data: {
        plan: JSON.stringify(plan),
        targetVersion: String(targetVersion),
        ruleVersion: String(spec.fragmentation.ts004Version),
        ...(deltas ? { images: serialiseImages(deltas.images) } : {}),
      },
    });
    for (const d of spec.devices) this.devices.set(d.devEui, { p: 'discover', s: 'Pending', t: T0, lw: d.lorawan });
  }

  /** What the uplink intake does: clock sync answered at once, every other answer queued for the campaign. */
  private uplink(devEui: string, fPort: number, data: Uint8Array, timeMs: number): void {
    const ports = this.state.spec.ports;
    if (fPort === ports.ts003) {
      for (const cmd of decodeCommands('ts003', 'uplink', data).commands) {
        if (cmd.type !== 'AppTimeReq') continue;
        const ans = appTimeAnswer(cmd.deviceTime, cmd.ansRequired, cmd.tokenReq, unixMsToGps(timeMs));
        const rec = this.cs.devices.get(devEui)!;
        if (ans && !rec.queue.some((q) => q.fPort === fPort)) this.enqueueUnicast(devEui, fPort, ans);
      }
      return;
    }
    if (fPort === 0 || data.length === 0) return;
    this.answers.push({ id: String(++this.seq), devEui, fPort, hex: Buffer.from(data).toString('hex'), timeMs });
  }

  private enqueueUnicast(devEui: string, fPort: number, data: Uint8Array): void {
    const d = this.cs.devices.get(devEui)!;
    d.queue.push({ id: randomUUID(), fCnt: d.fCntDown++, fPort, data, confirmed: false });
  }

  /** Asks for cancellation, as the API does. */
  requestCancel(): void {
    this.state = { ...this.state, cancel: true };
  }

  get ended(): boolean {
    return ['done', 'failed', 'cancelled'].includes(this.state.stage);
  }

  /** One step at `now`: network up to now, step, effects. Returns the step's result. */
  stepOnce(): StepResult {
    this.net.advanceTo(this.now);
    const cursor = Number(this.state.ansCursor);
    const need = keysNeeded(this.state, this.devices, this.now);
    const rootKeys = new Map<string, Uint8Array>();
    for (const eui of need) {
      const rec = this.cs.devices.get(eui)!;
      rootKeys.set(eui, Buffer.from(rootKeyFor(rec.keys, '1.0.3').keyHex, 'hex'));
    }
    const answers = this.answers.filter((a) => Number(a.id) > cursor);
    const res = step({
      state: this.state,
      devices: this.devices,
      answers,
      now: this.now,
      fresh: { mcAddr: 0x01ab23cd, mcKeyHex: '0123456789abcdef0123456789abcdef' },
      rootKeys,
      image: this.image,
      ...(this.deltaImages ? { deltaImages: this.deltaImages } : {}),
      profiles: profilesOf(this.cs, profilesNeeded(this.state, this.devices, this.now, answers)),
    });
    this.steps++;
    if (res.state.stage !== this.state.stage) this.stages.push(res.state.stage);
    this.state = res.state;
    const done = Number(this.state.ansCursor);
    this.answers = this.answers.filter((a) => Number(a.id) > done);
    for (const [eui, st] of res.devices) this.devices.set(eui, st);
    this.events.push(...res.events);
    for (const e of res.effects) this.carryOut(e);
    return res;
  }

  private carryOut(e: Effect): void {
    this.effects.push({ at: this.now, effect: e });
    const cs = this.cs;
    switch (e.kind) {
      case 'checkProfiles': {
        // As the shell: a device ChirpStack does not know fails alone, before anything is sent to it.
        const missing = new Map<string, string>();
        for (const eui of e.devEuis) if (!cs.devices.has(eui)) missing.set(eui, `ChirpStack DeviceService.Get: NOT_FOUND: Object does not exist (id: ${eui})`);
        this.failDevices(missing);
        for (const eui of e.devEuis.filter((x) => cs.devices.has(x)).slice(0, 1)) {
          const rec = cs.devices.get(eui)!;
          for (const warning of profileWarnings(cs.profiles.get(rec.deviceProfileId)! as never, e.groupType)) this.events.push({ type: 'warning', warning });
        }
        return;
      }
      case 'createGroup': {
        if (this.state.groups[e.group]?.groupId) return;
        const p = e.params;
        const id = cs.createMulticastGroup({
          name: p.name, applicationId: p.applicationId, region: p.region, mcAddr: p.mcAddr,
          mcAppSKey: Buffer.from(p.mcAppSKey).toString('hex'), mcNwkSKey: Buffer.from(p.mcNwkSKey).toString('hex'),
          groupType: p.groupType, dr: p.dr, frequencyHz: p.frequencyHz, pingSlotPeriodicity: p.pingSlotPeriodicity ?? 0,
        });
        this.state = onGroupCreated(this.state, id, e.group);
        return;
      }
      case 'fillGroup': {
        const g = cs.groups.get(this.state.groups[e.group]!.groupId!)!;
        // As AddDevice / AddGateway answer: a member already in is ChirpStack's INTERNAL "duplicate key", which the
        // service recognises as success (src/chirpstack/errors.ts).
        const add = (set: Set<string>, id: string, constraint: string) => {
          try {
            if (set.has(id) && !cs.acceptDuplicateMembers) throw duplicateKey(constraint);
            set.add(id);
          } catch (err) {
            if (!isAlreadyMember(err)) throw err;
            this.duplicateMembers++;
          }
        };
        // As ChirpStack: a device it does not know is refused (NOT_FOUND); that device fails alone.
        const missing = new Map<string, string>();
        for (const eui of e.devEuis) {
          if (cs.devices.has(eui)) add(g.devices, eui, 'multicast_group_device_pkey');
          else missing.set(eui, `ChirpStack MulticastGroupService.AddDevice: NOT_FOUND: Object does not exist (id: ${eui})`);
        }
        this.failDevices(missing);
        for (const gw of e.gatewayIds) add(g.gateways, gw, 'multicast_group_gateway_pkey');
        const check = silentLossCheck(e.gatewayIds, e.devEuis.map((eui) => ({ devEui: eui, lastSeenAtMs: cs.devices.get(eui)?.lastSeenAtMs })));
        if (check.warning) this.events.push({ type: 'warning', warning: check.warning });
        if (check.refuse) {
          cs.groups.delete(g.id);
          this.state = { ...this.state, stage: 'failed', error: check.refuse };
          this.stages.push('failed');
          this.released = true;
          return;
        }
        this.state = onGroupReady(this.state, g.fCnt, this.now, e.group);
        return;
      }
      case 'unicast': {
        const rec = cs.devices.get(e.devEui);
        if (!rec) return this.failDevices(new Map([[e.devEui, `ChirpStack DeviceService.Enqueue: NOT_FOUND (id: ${e.devEui})`]]));
        const data = Buffer.from(e.hex, 'hex');
        if (!e.retry || !rec.queue.some((q) => q.fPort === e.port && Buffer.from(q.data).equals(data))) this.enqueueUnicast(e.devEui, e.port, data);
        const st = this.devices.get(e.devEui);
        if (st) this.devices.set(e.devEui, onLanded(st));
        return;
      }
      case 'reply':
        if (cs.devices.has(e.devEui)) this.enqueueUnicast(e.devEui, e.port, Buffer.from(e.hex, 'hex'));
        return;
      case 'fragment':
      case 'statusRequest': {
        const grp = this.state.groups[e.group]!;
        const g = cs.groups.get(grp.groupId!)!;
        if (g.fCnt !== grp.mcFCnt) throw new Error(`fCnt: group at ${g.fCnt}, expected ${grp.mcFCnt}`);
        let data: Uint8Array;
        if (e.kind === 'fragment') {
          let enc = this.encoders.get(e.group);
          if (!enc) this.encoders.set(e.group, (enc = createFecEncoder(selectImage(grp.key, this.image, this.deltaImages), { fragSize: grp.plan.fragSize, rule: grp.ruleVersion })));
          data = encodeDataFragment(this.state.spec.fragmentation.fragIndex, e.n, enc.fragment(e.n));
        } else data = Buffer.from(e.hex, 'hex');
        const expiresAtMs = e.kind === 'fragment' ? e.expiresAtMs : undefined;
        const fCnt = cs.enqueueMulticast(g.id, { fPort: this.state.spec.ports.ts004, data, ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) });
        this.state = onMulticastLanded(this.state, e.kind === 'fragment' ? { kind: 'frag', n: e.n } : { kind: 'status', at: e.at }, fCnt, e.group);
        return;
      }
      case 'flushDeviceQueue':
        if (cs.devices.has(e.devEui)) cs.devices.get(e.devEui)!.queue.length = 0;
        return;
      case 'deleteGroup': {
        const g = cs.groups.get(e.groupId);
        if (g) g.queue.length = 0;
        cs.groups.delete(e.groupId);
        return;
      }
      case 'release':
        this.released = true;
        return;
    }
  }

  private failDevices(missing: ReadonlyMap<string, string>): void {
    const res = onDevicesMissing(this.devices, missing, this.now);
    for (const [eui, st] of res.devices) this.devices.set(eui, st);
    this.events.push(...res.events);
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Steps until the campaign ends, `until` holds, or `maxMs` of virtual time passed. */
  run(o: { until?: (h: PipelineHarness) => boolean; maxMs?: number; maxSteps?: number } = {}): void {
    const end = T0 + (o.maxMs ?? 6 * 3600_000);
    const maxSteps = o.maxSteps ?? 20_000;
    while (!this.ended && this.now <= end && this.steps < maxSteps) {
      if (o.until?.(this)) return;
      const res = this.stepOnce();
      if (res.nextAt === null) break;
      this.now = Math.max(res.nextAt, this.now);
    }
  }

  /** Device statuses, counted. */
  byStatus(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const d of this.devices.values()) out[d.s] = (out[d.s] ?? 0) + 1;
    return out;
  }

  /** Effects of one kind carried out for one device. */
  unicastsTo(devEui: string): Extract<Effect, { kind: 'unicast' }>[] {
    const out: Extract<Effect, { kind: 'unicast' }>[] = [];
    for (const { effect } of this.effects) if (effect.kind === 'unicast' && effect.devEui === devEui) out.push(effect);
    return out;
  }

  /** Lets the network (devices' uplinks, queued downlinks) run on to `ms` without stepping the campaign. */
  idle(ms: number): void {
    this.now += ms;
    this.net.advanceTo(this.now);
  }

  /** Fragment numbers that went on air, in order, each f_cnt once (however many gateways sent it). */
  fragmentsOnAir(): number[] {
    const seen = new Set<number>();
    return this.fragmentSends().filter((f) => !seen.has(f.fCnt) && seen.add(f.fCnt)).map((f) => f.fragN!);
  }

  /** Every gateway transmission of a DataFragment: { fCnt, fragN, atMs, gatewayId }. */
  fragmentSends(gatewayId?: string): { fCnt: number; fragN?: number; atMs: number; gatewayId: string }[] {
    const rec = this.net.lossRecord().find((g) => g.sent.some((f) => f.fragN !== undefined));
    return rec ? rec.sent.filter((f) => f.fragN !== undefined && (gatewayId === undefined || f.gatewayId === gatewayId)) : [];
  }

  /** The multicast group's loss record (sent, discarded, expired, rejected frames). */
  groupRecord(): ReturnType<SimNetwork['lossRecord']>[number] | undefined {
    return this.net.lossRecord().find((g) => g.sent.some((f) => f.fragN !== undefined)) ?? this.net.lossRecord()[0];
  }
}
