/**
 * The per-device half of a pipeline step: fold new answers into device states, expire outstanding requests,
 * and send each device the unicast request its phase needs. Requests are recorded (intent) before they are
 * enqueued and marked landed after, so a worker killed in between re-checks the device queue instead of
 * sending twice.
 */
import type { DeviceState } from '../../src/campaign/model.js';
import {
  nextRequest,
  onAnswer,
  onTimeout,
  phaseAfterSend,
  type Cmd,
  type MachineContext,
  type Request,
} from '../../src/campaign/device-machine.js';
import { decodeCommands, encodeCommands, packageForPort, type AnyCommand, type Versions } from '../../src/codec/frame.js';
import { dataBlockIntKey, encryptMcKey, mcKEKey, mcRootKey } from '../../src/codec/keys.js';
import { dataBlockMic } from '../../src/codec/mic.js';
import { rootKeyFor } from '../../src/chirpstack/keys.js';
import type { CampaignRecord } from '../../src/store/campaign-store.js';
import type { WorkerContext } from '../context.js';
import { pMap } from './pmap.js';

export interface DeviceStep {
  devices: Map<string, DeviceState>;
  changed: Map<string, DeviceState>;
  events: Record<string, unknown>[];
  replies: [string, Request][];
  cursor: string;
}

export function versionsOf(s: DeviceState): Versions {
  return { ts004: s.v?.[1] === 2 ? 2 : 1, ts005: s.v?.[2] === 2 ? 2 : 1 };
}

export function setDevice(step: DeviceStep, eui: string, next: DeviceState, event?: Record<string, unknown>): void {
  step.devices.set(eui, next);
  step.changed.set(eui, next);
  if (event) step.events.push({ ...event, devEui: eui });
}

/** Reads new answers and applies them; expires outstanding requests. */
export async function foldAnswers(ctx: WorkerContext, c: CampaignRecord, mctx: MachineContext, ruleVersion: number): Promise<DeviceStep> {
  const devices = await ctx.store.devices(c.id);
  const step: DeviceStep = { devices, changed: new Map(), events: [], replies: [], cursor: c.data.ansCursor ?? '0' };
  const answers = await ctx.store.readAnswers(c.id, step.cursor);
  for (const a of answers) {
    step.cursor = a.id;
    const st = devices.get(a.devEui);
    const pkg = packageForPort(a.fPort, c.spec.ports);
    if (!st || !pkg || pkg === 'ts003') continue;
    const dec = decodeCommands(pkg, 'uplink', Buffer.from(a.hex, 'hex'), versionsOf(st));
    if (dec.error || dec.unknownCid) {
      step.events.push({
        type: 'badAnswer',
        devEui: a.devEui,
        port: a.fPort,
        hex: a.hex,
        error: dec.error?.message ?? `unknown CID 0x${dec.unknownCid!.cid.toString(16)} at byte ${dec.unknownCid!.offset}`,
      });
    }
    if (dec.commands.length === 0) continue;
    const t = onAnswer(st, pkg, dec.commands as unknown as Cmd[], mctx, a.timeMs);
    if (t.state.fs && dec.commands.some((x) => x.type === 'FragSessionStatusAns')) {
      t.state.fs = [t.state.fs[0], t.state.fs[1], t.state.fs[2], Number(c.data.statusSentN ?? 0)];
    }
    setDevice(step, a.devEui, t.state, t.event);
    for (const r of t.replies ?? []) step.replies.push([a.devEui, r]);
  }
  for (const [eui, st] of devices) {
    // The campaign's multicast stream uses one parity rule: a device of the other TS004 version cannot decode it.
    if (st.p === 'fragSetup' && st.s === 'Pending' && st.v && st.v[1] !== ruleVersion) {
      const { o: _o, ...rest } = st;
      setDevice(step, eui, { ...rest, s: 'PackageNotSupported', r: `TS004 v${st.v[1]} device; this campaign sends the v${ruleVersion} parity code (run a separate campaign)`, p: 'cleanup', t: mctx.nowMs }, { type: 'device', status: 'PackageNotSupported' });
      continue;
    }
    if (st.o && st.o.ok && mctx.nowMs - st.o.at > mctx.answerTimeoutMs) {
      const t = onTimeout(st, mctx);
      setDevice(step, eui, t.state, t.event);
    }
  }
  return step;
}

/** Fetches and caches the multicast root key input of each device that needs key material now. */
async function keysFor(ctx: WorkerContext, c: CampaignRecord, euis: string[]): Promise<void> {
  const need = euis.filter((e) => !ctx.rootKeys.has(e));
  const lw = new Map(c.spec.devices.map((d) => [d.devEui, d.lorawan]));
  await pMap(need, 16, async (eui) => {
    const keys = await ctx.chirpstack.getDeviceKeys(eui);
    const root = rootKeyFor(keys, lw.get(eui) === '1.1' ? '1.1.0' : '1.0.3');
    ctx.rootKeys.set(eui, Buffer.from(root.keyHex, 'hex'));
  });
}

/**
 * Chooses each device's next request, records the intents, then enqueues them (and fire-and-forget replies).
 * `extra` are campaign fields to commit with the intents (e.g. the answer cursor).
 */
export async function dispatch(
  ctx: WorkerContext,
  c: CampaignRecord,
  mctx: MachineContext,
  step: DeviceStep,
  mcKey: Uint8Array,
  image: Uint8Array,
  extra: Record<string, string | number>,
): Promise<void> {
  // Key material is needed only for McGroupSetupReq and a v2 FragSessionSetupReq (its MIC).
  const needsKeys = (st: DeviceState) => !st.o && ((st.p === 'discover' && !st.v?.[2]) || (st.p === 'fragSetup' && st.v?.[1] === 2));
  const needKeys = [...step.devices].filter(([, st]) => needsKeys(st)).map(([eui]) => eui);
  const keyErrors = new Map<string, string>();
  try {
    await keysFor(ctx, c, needKeys);
  } catch (e) {
    // One device's missing key must not stop the others: retry per device to find which.
    for (const eui of needKeys) {
      try {
        await keysFor(ctx, c, [eui]);
      } catch (err) {
        keyErrors.set(eui, (err as Error).message);
      }
    }
    ctx.log.warn({ err: (e as Error).message }, 'device keys');
  }
  const lw = new Map(c.spec.devices.map((d) => [d.devEui, d.lorawan]));
  const sends: { eui: string; port: number; bytes: Uint8Array; retry: boolean }[] = [];
  for (const [eui, st] of step.devices) {
    if (keyErrors.has(eui) && st.s === 'Pending') {
      const { o: _o, ...rest } = st;
      setDevice(step, eui, { ...rest, s: 'McGroupError', r: keyErrors.get(eui)!, p: 'final', t: mctx.nowMs }, { type: 'device', status: 'McGroupError' });
      continue;
    }
    if (st.o && !st.o.ok) {
      sends.push({ eui, port: st.o.port, bytes: Buffer.from(st.o.hex, 'hex'), retry: true });
      continue;
    }
    const root = needsKeys(st) ? ctx.rootKeys.get(eui) : undefined;
    const keys = root
      ? {
          mcKeyEncrypted: encryptMcKey(mcKEKey(mcRootKey(root, lw.get(eui) ?? '1.0')), mcKey),
          fragSetupMic: (sessionCnt: number) =>
            dataBlockMic(dataBlockIntKey(root), {
              sessionCnt,
              fragIndex: mctx.fragIndex,
              descriptor: mctx.descriptor,
              data: image,
            }),
        }
      : undefined;
    const req = nextRequest(st, { ...mctx, keys });
    if (!req) continue;
    const bytes = encodeCommands(req.pkg, 'downlink', req.commands as unknown as AnyCommand[], versionsOf(st));
    const port = c.spec.ports[req.pkg];
    const next: DeviceState = {
      ...st,
      p: phaseAfterSend(st.p),
      o: { port, hex: Buffer.from(bytes).toString('hex'), at: mctx.nowMs, n: 1, ok: false },
    };
    if (next.p !== st.p) next.t = mctx.nowMs;
    setDevice(step, eui, next, next.p !== st.p ? { type: 'device', phase: next.p, status: next.s } : undefined);
    sends.push({ eui, port, bytes, retry: false });
  }
  await ctx.store.commit(c.id, step.changed, step.events, { ...extra, ansCursor: step.cursor });
  step.changed.clear();
  step.events.length = 0;

  const landed = new Map<string, DeviceState>();
  await pMap(sends, 32, async (s) => {
    if (s.retry) {
      // Still queued from an earlier attempt (or an attempt cut short by a crash): do not send it twice.
      const q = await ctx.chirpstack.getDeviceQueue(s.eui);
      const hex = Buffer.from(s.bytes).toString('hex');
      if (!q.some((i) => i.fPort === s.port && Buffer.from(i.data).toString('hex') === hex)) {
        await ctx.chirpstack.enqueueDownlink(s.eui, { fPort: s.port, data: s.bytes });
      }
    } else {
      await ctx.chirpstack.enqueueDownlink(s.eui, { fPort: s.port, data: s.bytes });
    }
    const st = step.devices.get(s.eui)!;
    if (st.o) landed.set(s.eui, { ...st, o: { ...st.o, ok: true } });
  });
  await pMap(step.replies, 32, async ([eui, r]) => {
    const st = step.devices.get(eui);
    const bytes = encodeCommands(r.pkg, 'downlink', r.commands as unknown as AnyCommand[], st ? versionsOf(st) : {});
    await ctx.chirpstack.enqueueDownlink(eui, { fPort: c.spec.ports[r.pkg], data: bytes });
  });
  step.replies.length = 0;
  if (landed.size) {
    for (const [eui, st] of landed) step.devices.set(eui, st);
    await ctx.store.commit(c.id, landed, []);
  }
}

/** How many devices of the step satisfy `pred`. */
export function count(step: DeviceStep, pred: (s: DeviceState) => boolean): number {
  let n = 0;
  for (const s of step.devices.values()) if (pred(s)) n++;
  return n;
}
