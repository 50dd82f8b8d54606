/**
 * A device's FUOTA application layer: TS003 (port 202), TS005 (200), TS004 (201) and TS006 (203) handlers behind one
 * entry point, answering byte-exactly as the chosen firmware profile does. Deterministic and clock-injected: every
 * call takes `nowMs` (true simulated time) and randomness comes from a seeded PRNG, so thousands of devices replay
 * identically in one process.
 */
import { DEFAULT_PORTS, decodeCommands, encodeCommands, type AnyCommand, type PackageName, type Versions } from '../codec/frame.js';
import type { MulticastFrame, Uplink } from './radio-frames.js';
import { AnswerQueue } from './answer-queue.js';
import { ClockSync, gpsMs } from './clock-sync.js';
import { DeviceClock } from './device-clock.js';
import { FirmwareManagement } from './firmware.js';
import type { FragDecoderLimits } from './frag-decoder.js';
import { FragSessions, listN, type FragStats } from './frag-session.js';
import type { HandlerContext, ReplyOptions } from './handler-context.js';
import type { TrustedKey } from './image-check.js';
import { decodeShared } from './mc-frame-cache.js';
import { MulticastSetup } from './multicast.js';
import { profileByName, type DeviceProfile, type ProfileName } from './profiles.js';
import { Rng } from './rng.js';

export interface PackageVersions {
  ts003: 1 | 2;
  ts004: 1 | 2;
  ts005: 1 | 2;
}

export interface AppLayerOptions {
  profile: ProfileName;
  versions: PackageVersions;
  lorawan: '1.0' | '1.1';
  /** GenAppKey for LoRaWAN 1.0.x, AppKey for 1.1 (TS005-2.0.0 §4.3; docs/protocol.md §6). */
  rootKey: Uint8Array;
  deviceClass: string;
  firmwareVersion: number;
  hwVersion: number;
  /** Hardware revision checked against an image's hwCompat (default: hwVersion); see FirmwareOptions. */
  hwRevision?: number;
  /** Manufacturer id an image must carry (default 0). */
  manufacturer?: number;
  /** Running firmware as a signed image, in the primary slot from power-up (needed for delta images). */
  baseImage?: Uint8Array;
  trustedKeys: TrustedKey[];
  limits: FragDecoderLimits;
  /** Largest uplink FRMPayload, bytes (e.g. 51 at EU868 DR0-2). Default 51. */
  maxPayload?: number;
  /** Device clock minus true time at boot, ms (ignored while an LBM device counts uptime). */
  clockOffsetMs: number;
  driftPpm: number;
  seed: number;
  /** True time of power-up. */
  nowMs: number;
}

export interface GroupSnapshot {
  mcGroupId: number;
  mcAddr: number;
  /** Session keys the device derived, lower-case hex. */
  mcAppSKey: string;
  mcNwkSKey: string;
  minMcFCnt: number;
  maxMcFCnt: number;
  session: { kind: 'C' | 'B'; sessionTime: number; startReadingMs: number; endReadingMs: number } | null;
  accepted: number;
  dropped: { fCnt: number; window: number; mic: number };
}

export interface DeviceSnapshot {
  profile: ProfileName;
  runningVersion: number;
  /** TS006 UpImageStatus of the received slot: 0 none, 1 corrupt/bad signature, 2 not installable, 3 valid. */
  imageStatus: 0 | 1 | 2 | 3;
  imageReason: string | null;
  reboots: number;
  rebootAtMs: number | null;
  clockOffsetMs: number;
  clockSynced: boolean;
  groups: GroupSnapshot[];
  frag: {
    fragIndex: number;
    nbFrag: number;
    fragSize: number;
    status: 'receiving' | 'done' | 'memoryError';
    micError: boolean;
    deleted: boolean;
    stats: FragStats;
    /** Every N received, ascending. */
    receivedN: number[];
  } | null;
  pendingAnswers: number;
  decoderBytes: number;
}

const PACKAGES: PackageName[] = ['ts003', 'ts004', 'ts005', 'ts006'];
const DEFAULT_MAX_PAYLOAD = 51;

export class DeviceAppLayer {
  readonly profile: DeviceProfile;
  private readonly versions: Versions;
  private readonly maxPayload: number;
  private readonly rng: Rng;
  private readonly queue = new AnswerQueue();
  private readonly clock: DeviceClock;
  private readonly clockSync: ClockSync;
  private readonly multicast: MulticastSetup;
  private readonly frag: FragSessions;
  private readonly firmware: FirmwareManagement;
  private lastNowMs: number;
  /** True time of the last boot (power-up or reboot). */
  bootedAtMs: number;

  constructor(o: AppLayerOptions) {
    this.profile = profileByName(o.profile);
    for (const p of ['ts003', 'ts004', 'ts005'] as const) {
      const v = o.versions[p];
      if (v !== 1 && v !== 2) throw new RangeError(`versions.${p}: must be 1 or 2, got ${String(v)}`);
      if (v > this.profile.maxPackageVersion) throw new RangeError(`versions.${p}: ${o.profile} implements v1 only, got v${v}`);
    }
    if (!(o.rootKey instanceof Uint8Array) || o.rootKey.length !== 16) throw new RangeError('rootKey: must be 16 bytes');
    const maxPayload = o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(maxPayload) || maxPayload < 9 || maxPayload > 242) {
      throw new RangeError(`maxPayload: must be an integer in 9..242, got ${maxPayload}`);
    }
    this.versions = { ...o.versions };
    this.maxPayload = maxPayload;
    this.rng = new Rng(o.seed);
    this.lastNowMs = o.nowMs;
    this.bootedAtMs = o.nowMs;
    this.clock = new DeviceClock(o.nowMs, this.bootReading(o.nowMs, o.clockOffsetMs), o.driftPpm);
    const enqueue = (pkg: PackageName) => (nowMs: number, make: (txMs: number) => AnyCommand, opts?: ReplyOptions) =>
      this.enqueue(pkg, nowMs, make, opts);
    this.clockSync = new ClockSync(this.profile, o.versions.ts003, this.clock, enqueue('ts003'), (tag) =>
      this.queue.cancel(`ts003:${tag}`, -Infinity),
    );
    this.multicast = new MulticastSetup(this.profile, o.versions.ts005, o.rootKey, o.lorawan, this.clockSync);
    this.firmware = new FirmwareManagement(this.profile, this.rng, this.clockSync, o);
    this.frag = new FragSessions(this.profile, o.versions.ts004, o.limits, o.rootKey, this.rng, (block) => this.firmware.receiveImage(block));
    this.clockSync.boot(o.nowMs);
  }

  /** A Class A downlink (decrypted FRMPayload) on `fPort`. */
  receiveUnicast(fPort: number, data: Uint8Array, nowMs: number): void {
    this.advance(nowMs);
    this.dispatch(fPort, data, nowMs, null);
  }

  /** A multicast frame heard on air; dropped unless a group, its FCnt window, session window and MIC all accept it. */
  receiveMulticast(frame: MulticastFrame, nowMs: number): void {
    this.advance(nowMs);
    const accepted = this.multicast.accept(frame, nowMs);
    if (!accepted) return;
    if (accepted.fPort !== DEFAULT_PORTS.ts004 && !this.profile.executesMulticastCommands) return;
    this.dispatch(accepted.fPort, accepted.payload, nowMs, accepted.mcGroupId);
  }

  /** Runs timers due by `nowMs`: a programmed reboot, the periodic clock resync. */
  advance(nowMs: number): void {
    const rebootAt = this.firmware.rebootAtMs;
    if (rebootAt !== null && rebootAt <= nowMs) this.reboot(rebootAt);
    this.clockSync.poll(nowMs);
    this.lastNowMs = Math.max(this.lastNowMs, nowMs);
  }

  /** True time of the programmed reboot, or null. */
  get rebootAtMs(): number | null {
    return this.firmware.rebootAtMs;
  }

  /** Answers lost to the queue bounds (per frame, per device) or to an encoding fault. */
  get droppedAnswers(): number {
    return this.queue.dropped;
  }

  /** The earliest time a queued answer may leave, or Infinity. */
  nextAnswerAt(): number {
    return this.queue.nextReadyAt();
  }

  /** The uplink for a transmission at `nowMs`: queued answers of one port that fit, or null when none is ready. */
  takeUplink(nowMs: number): Uplink | null {
    this.advance(nowMs);
    return this.queue.takeFrame(nowMs, (fPort) => this.capFor(fPort));
  }

  snapshot(nowMs: number = this.lastNowMs): DeviceSnapshot {
    const r = this.firmware.received;
    const s = this.frag.current;
    return {
      profile: this.profile.name,
      runningVersion: this.firmware.runningVersion,
      imageStatus: r?.upImageStatus ?? 0,
      imageReason: r && !r.ok ? `${r.reason}: ${r.detail}` : null,
      reboots: this.firmware.reboots,
      rebootAtMs: this.firmware.rebootAtMs,
      clockOffsetMs: this.clockSync.offsetMs(nowMs),
      clockSynced: this.clock.synced,
      groups: this.multicast.list().map((g) => ({
        mcGroupId: g.mcGroupId,
        mcAddr: g.mcAddr,
        mcAppSKey: Buffer.from(g.mcAppSKey).toString('hex'),
        mcNwkSKey: Buffer.from(g.mcNwkSKey).toString('hex'),
        minMcFCnt: g.minMcFCnt,
        maxMcFCnt: g.maxMcFCnt,
        session: g.session && { kind: g.session.kind, sessionTime: g.session.sessionTime, startReadingMs: g.session.startReadingMs, endReadingMs: g.session.endReadingMs },
        accepted: g.accepted,
        dropped: { ...g.dropped },
      })),
      frag: s && {
        fragIndex: s.params.fragIndex,
        nbFrag: s.params.nbFrag,
        fragSize: s.params.fragSize,
        status: s.status,
        micError: s.micError,
        deleted: s.deleted,
        stats: { ...this.frag.stats() },
        receivedN: listN(s.receivedN),
      },
      pendingAnswers: this.queue.length,
      decoderBytes: this.frag.decoderBytes,
    };
  }

  private dispatch(fPort: number, data: Uint8Array, nowMs: number, mcGroupId: number | null): void {
    const pkg = PACKAGES.find((p) => DEFAULT_PORTS[p] === fPort);
    if (!pkg) return;
    const ctx: HandlerContext = {
      nowMs,
      mcGroupId,
      reply: (make, opts) => this.enqueue(pkg, nowMs, make, opts),
      cancel: (tag) => this.queue.cancel(`${pkg}:${tag}`, nowMs),
    };
    const commands = mcGroupId === null ? this.decode(pkg, data) : decodeShared(pkg, data, this.versions);
    this.queue.forFrame(() => {
      for (const cmd of commands) {
        if (pkg === 'ts003') this.clockSync.handle(cmd, ctx);
        else if (pkg === 'ts004') this.frag.handle(cmd, ctx);
        else if (pkg === 'ts005') this.multicast.handle(cmd, ctx);
        else this.firmware.handle(cmd, ctx);
      }
    });
  }

  /**
   * The commands the device executes, in order, up to a malformed command or an unknown CID. LoRaMac-node does not
   * implement McGroupStatusReq and executes its mask byte as the next CID; that is reproduced here.
   */
  private decode(pkg: PackageName, data: Uint8Array): AnyCommand[] {
    const { commands } = decodeCommands(pkg, 'downlink', data, this.versions);
    if (pkg !== 'ts005' || this.profile.groupStatus !== 'unimplemented') return commands;
    const at = commands.findIndex((c) => c.type === 'McGroupStatusReq');
    if (at < 0) return commands;
    const skipped = encodeCommands(pkg, 'downlink', commands.slice(0, at), this.versions).length + 1;
    return [...commands.slice(0, at), ...this.decode(pkg, data.subarray(skipped))];
  }

  private enqueue(pkg: PackageName, nowMs: number, make: (txMs: number) => AnyCommand, opts: ReplyOptions = {}): boolean {
    const versions = this.versions;
    return this.queue.push({
      fPort: DEFAULT_PORTS[pkg],
      readyAt: nowMs + (opts.delayMs ?? 0),
      ...(opts.tag !== undefined ? { tag: `${pkg}:${opts.tag}` } : {}),
      ...(opts.onSent ? { onSent: opts.onSent } : {}),
      build: (txMs) => encodeCommands(pkg, 'uplink', [make(txMs)], versions),
    });
  }

  private capFor(fPort: number): number {
    const pkg = PACKAGES.find((p) => DEFAULT_PORTS[p] === fPort);
    return pkg ? Math.min(this.maxPayload, this.profile.answerBuffer[pkg]) : this.maxPayload;
  }

  /** LBM counts uptime (GPS second 0 at boot) until its first sync; others start from their offset true time. */
  private bootReading(nowMs: number, clockOffsetMs: number): number {
    return this.profile.uptimeClockUntilSynced ? 0 : gpsMs(nowMs) + clockOffsetMs;
  }

  /** Reset: answers in RAM, multicast groups and fragmentation state are lost; the bootloader runs; time is asked again. */
  private reboot(atMs: number): void {
    this.queue.clear();
    this.multicast.reset();
    this.frag.reset();
    this.firmware.reboot();
    if (this.profile.uptimeClockUntilSynced) this.clock.set(atMs, 0, false);
    this.bootedAtMs = atMs;
    this.clockSync.boot(atMs);
  }
}
