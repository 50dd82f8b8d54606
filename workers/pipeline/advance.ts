/**
 * One step of a campaign: read its state from Redis, do what its stage needs now, write the result back, and say
 * when the next step is due. Steps are idempotent up to the bracketed side effects (see devices.ts and
 * multicast.ts), so a step cut short by a crash is simply run again by another worker.
 *
 * prepare -> group -> setup -> session -> broadcast <-> status -> apply -> cleanup -> done
 */
import { randomBytes } from 'node:crypto';
import { FINAL_STAGES, type DeviceState, type Stage } from '../../src/campaign/model.js';
import { finish, type MachineContext } from '../../src/campaign/device-machine.js';
import type { Plan } from '../../src/campaign/planner.js';
import { lossCap, estimateDeficit, repairCount, type DeficitEstimate } from '../../src/campaign/repair.js';
import { createFecEncoder, type FecEncoder } from '../../src/codec/fec.js';
import { encodeDataFragment } from '../../src/codec/data-fragment.js';
import { encodeCommands } from '../../src/codec/frame.js';
import { gpsToUnixMs, unixMsToGps } from '../../src/codec/gpstime.js';
import type { CampaignRecord } from '../../src/store/campaign-store.js';
import type { WorkerContext } from '../context.js';
import { dispatch, foldAnswers, setDevice, type DeviceStep } from './devices.js';
import { checkProfiles, createGroup, enqueueMulticast, randomMcAddr, settlePending } from './multicast.js';
import { pMap } from './pmap.js';

/** Fragments enqueued ahead of the planner's schedule, so ChirpStack's queue never runs dry between steps. */
const LOOKAHEAD = 8;

const encoders = new Map<string, FecEncoder>();

async function encoderFor(ctx: WorkerContext, c: CampaignRecord, plan: Plan): Promise<FecEncoder> {
  let e = encoders.get(c.id);
  if (!e) {
    const image = await ctx.store.image(c.id);
    if (!image) throw new Error(`image: missing for campaign ${c.id}`);
    e = createFecEncoder(image, { fragSize: plan.fragSize, rule: Number(c.data.ruleVersion ?? 1) as 1 | 2 });
    encoders.set(c.id, e);
  }
  return e;
}

function machineContext(c: CampaignRecord, plan: Plan, now: number): MachineContext {
  const s = c.spec;
  const d = c.data;
  return {
    nowMs: now,
    ports: s.ports,
    fragIndex: s.fragmentation.fragIndex,
    mcGroupId: s.multicast.mcGroupId,
    mcAddr: Number(d.mcAddr),
    groupType: s.multicast.groupType,
    nbFrag: plan.nbFrag,
    fragSize: plan.fragSize,
    padding: plan.padding,
    blockAckDelay: s.fragmentation.blockAckDelay,
    descriptor: parseInt(s.fragmentation.descriptor, 16) >>> 0,
    dr: s.multicast.dr,
    frequencyHz: s.multicast.frequencyHz,
    classBPeriodicity: s.multicast.classBPeriodicity,
    sessionTimeOut: plan.sessionTimeOut,
    ...(d.sessionTimeGps ? { sessionTimeGps: Number(d.sessionTimeGps) } : {}),
    ...(d.sessionEndMs ? { sessionEndGps: unixMsToGps(Number(d.sessionEndMs)) } : {}),
    sessionLeadS: 4 * s.timing.uplinkIntervalS,
    targetVersion: Number(d.targetVersion),
    rebootDelayS: s.timing.rebootDelayS,
    // The request waits for the device's next uplink (one interval plus jitter) and the answer follows at once.
    answerTimeoutMs: 1.25 * s.timing.uplinkIntervalS * 1000 + 10_000,
    retries: s.timing.unicastRetries,
  };
}

function count(step: DeviceStep, pred: (s: DeviceState) => boolean): number {
  let n = 0;
  for (const s of step.devices.values()) if (pred(s)) n++;
  return n;
}

/** Runs one step. Returns the simulated delay until the next step, or null when the campaign has ended. */
export async function advance(ctx: WorkerContext, id: string): Promise<number | null> {
  const c = await ctx.store.get(id);
  if (!c || FINAL_STAGES.includes(c.stage)) return null;
  const now = ctx.clock.now();
  if (c.data.cancel === '1') {
    await cancelCampaign(ctx, c, now);
    return null;
  }
  const plan = JSON.parse(c.data.plan ?? 'null') as Plan | null;
  if (!plan) {
    await ctx.store.setStage(id, 'failed', { error: 'plan: missing (campaign was not submitted through submitCampaign)' });
    return null;
  }
  const pending = await settlePending(ctx, c);
  if (Object.keys(pending).length) {
    await ctx.store.setData(id, pending);
    for (const [k, v] of Object.entries(pending)) c.data[k] = String(v);
  }
  const uplinkMs = c.spec.timing.uplinkIntervalS * 1000;

  if (c.stage === 'prepare') {
    if (!c.data.mcKey) {
      await ctx.store.setData(id, {
        mcAddr: c.spec.multicast.mcAddr ? parseInt(c.spec.multicast.mcAddr, 16) : randomMcAddr(),
        mcKey: randomBytes(16).toString('hex'),
        startedAtMs: now,
        nextN: 1,
        fragmentsSent: 0,
        airtimeMs: 0,
        rounds: 0,
      });
    }
    await ctx.store.setStage(id, 'group');
    return 0;
  }
  if (c.stage === 'group') {
    for (const warning of await checkProfiles(ctx, c)) await ctx.store.addEvent(id, { type: 'warning', warning });
    const fields = await createGroup(ctx, c, plan);
    await ctx.store.setData(id, { ...fields, setupStartedMs: now });
    await ctx.store.setStage(id, 'setup', { groupId: fields.groupId });
    return 0;
  }

  // During the broadcast only the multicast pacing runs often; devices are looked at every half uplink interval.
  const devicesDue = c.stage !== 'broadcast' || now - Number(c.data.lastDeviceStepMs ?? 0) >= uplinkMs / 2;
  const mctx = machineContext(c, plan, now);
  let nextStage: Stage | undefined;
  const extra: Record<string, string | number> = {};
  let delay = uplinkMs / 4;

  if (devicesDue) {
    const step = await foldAnswers(ctx, c, mctx, Number(c.data.ruleVersion ?? 1));
    extra.lastDeviceStepMs = now;
    switch (c.stage) {
      case 'setup': {
        const waiting = count(step, (s) => s.s === 'Pending' && (s.p === 'discover' || s.p === 'fragSetup'));
        // Stragglers do not hold the fleet back for ever: once nine devices in ten are ready and every device had
        // time for its four exchanges twice over, the session is set; late devices get a later start of it.
        const ready = count(step, (s) => s.p === 'ready');
        const overdue = now >= Number(c.data.setupStartedMs ?? now) + 8 * mctx.answerTimeoutMs && ready >= 0.9 * step.devices.size;
        if (waiting === 0 || overdue) {
          if (ready === 0) {
            await ctx.store.commit(id, step.changed, step.events, { ansCursor: step.cursor });
            await ctx.store.setStage(id, 'failed', { error: 'no device completed the set-up' });
            return 0;
          }
          // The session request reaches each device on its next uplink; leave room for its retries (up to five
          // lost downlinks), so that hardly any device opens its window late: a late device needs more fragments
          // than its radio losses alone, and the whole fleet would pay for them.
          const attempts = Math.min(c.spec.timing.unicastRetries + 1, 6);
          const sessionTimeGps = unixMsToGps(now + attempts * mctx.answerTimeoutMs + uplinkMs);
          const startMs = gpsToUnixMs(sessionTimeGps);
          const lengthS = c.spec.multicast.groupType === 'C' ? 2 ** plan.sessionTimeOut : 128 * 2 ** plan.sessionTimeOut;
          Object.assign(extra, { sessionTimeGps, sessionStartMs: startMs, sessionEndMs: startMs + lengthS * 1000 });
          mctx.sessionTimeGps = sessionTimeGps;
          mctx.sessionEndGps = unixMsToGps(startMs + lengthS * 1000);
          nextStage = 'session';
        }
        break;
      }
      case 'session': {
        // Broadcast once every device that is still being offered the session has its window open: a device whose
        // request was lost and re-sent opens later, and would otherwise need many more fragments than its losses.
        const start = Number(c.data.sessionStartMs);
        const waitLimit = start + 3 * mctx.answerTimeoutMs;
        const pending = count(step, (s) => s.s === 'Pending' && (s.p === 'ready' || s.p === 'session'));
        let opens = start;
        for (const s of step.devices.values()) {
          if (s.p === 'listening' && s.tts && s.tts[0] !== 0xffffff) opens = Math.max(opens, s.tts[1] + s.tts[0] * 1000);
        }
        const bStart = Math.min(opens, waitLimit);
        if (now >= bStart && (pending === 0 || now >= waitLimit)) {
          Object.assign(extra, {
            bStartMs: bStart + 1000,
            bStartN: 1,
            nextN: 1,
            targetN: plan.nbFrag + plan.initialCoded,
          });
          nextStage = 'broadcast';
        }
        break;
      }
      case 'status':
        nextStage = evaluateStatus(c, plan, step, now, extra);
        break;
      case 'apply':
        nextStage = checkApply(c, plan, step, now, extra);
        break;
      case 'cleanup':
        if (count(step, (s) => s.p !== 'final') === 0) nextStage = 'done';
        break;
      default:
        break;
    }
    const mcKey = Buffer.from(c.data.mcKey!, 'hex');
    const image = (await ctx.store.image(id))!;
    await dispatch(ctx, c, mctx, step, mcKey, image, extra);
    for (const [k, v] of Object.entries(extra)) c.data[k] = String(v);
  } else {
    await ctx.store.setData(id, extra);
  }

  if (c.stage === 'broadcast') {
    const interval = plan.fragmentIntervalMs;
    const bStart = Number(c.data.bStartMs);
    const bStartN = Number(c.data.bStartN);
    const targetN = Number(c.data.targetN);
    const dueN = bStartN + Math.floor(Math.max(0, now - bStart) / interval) + LOOKAHEAD;
    if (Number(c.data.nextN) <= Math.min(targetN, dueN)) {
      const enc = await encoderFor(ctx, c, plan);
      const fragIndex = c.spec.fragmentation.fragIndex;
      for (let n = Number(c.data.nextN); n <= Math.min(targetN, dueN); n++) {
        await enqueueMulticast(ctx, c, `frag:${n}`, encodeDataFragment(fragIndex, n, enc.fragment(n)));
      }
    }
    const lastDue = bStart + (targetN - bStartN) * interval;
    if (Number(c.data.nextN) > targetN && now >= lastDue + interval) {
      nextStage = 'status';
      await ctx.store.setData(id, { statusAskedAt: '' });
      c.data.statusAskedAt = '';
    }
    delay = Math.min(uplinkMs / 2, (LOOKAHEAD / 2) * interval);
  }
  if (c.stage === 'status' && !c.data.statusAskedAt && !nextStage) {
    // Every receiver answers (Participants = 1): the answers are the repair planner's input.
    const req = encodeCommands('ts004', 'downlink', [{ type: 'FragSessionStatusReq', fragIndex: c.spec.fragmentation.fragIndex, participants: true }]);
    await enqueueMulticast(ctx, c, `status:${now}`, req);
    await ctx.store.setData(id, { statusSentN: Number(c.data.nextN) - 1 });
    delay = plan.statusWindowMs + 1.5 * uplinkMs;
  }
  if (c.stage === 'cleanup' && nextStage === 'done') {
    await finishCampaign(ctx, c, now);
    return null;
  }
  if (nextStage) {
    await ctx.store.setStage(id, nextStage);
    return 0;
  }
  return delay;
}

/** After a status round: devices that decoded go on to the upgrade; the rest get just enough repair fragments. */
function evaluateStatus(c: CampaignRecord, plan: Plan, step: DeviceStep, now: number, extra: Record<string, string | number>): Stage | undefined {
  const asked = Number(c.data.statusAskedAt || 0);
  if (!asked) return undefined;
  const sentN = Number(c.data.statusSentN ?? 0);
  const listening = [...step.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  const answered = listening.filter(([, s]) => s.fs && s.fs[3] === sentN);
  // Evaluate once every listening device has answered, or when the answer window (plus one uplink) is over.
  const windowOver = now >= asked + plan.statusWindowMs + 1.5 * c.spec.timing.uplinkIntervalS * 1000;
  if (!windowOver && answered.length < listening.length) return undefined;
  const reports = answered.map(([, s]) => ({ ts004: (s.v?.[1] === 2 ? 2 : 1) as 1 | 2, nbFragReceived: s.fs![0], missingFrag: s.fs![1], sentN }));
  // The loss cap comes from the first round, when every device had heard the same stream from the start; later
  // rounds hear mostly from stragglers and from devices whose counters froze when they decoded.
  const cap = c.data.lossCap ? Number(c.data.lossCap) : lossCap(reports, plan.nbFrag);
  if (!c.data.lossCap) extra.lossCap = cap;
  const estimates: DeficitEstimate[] = [];
  let worst: Record<string, unknown> | undefined;
  answered.forEach(([eui, s], i) => {
    const est = estimateDeficit(reports[i]!, plan.nbFrag, cap);
    // A "no image" answer to DevUpgradeImageReq proves the optimistic reading wrong: size by the pessimistic one,
    // and at least 2^(answers) so that a device whose counters say little converges in a few rounds.
    const deficit = s.np ? Math.max(2 ** s.np, est.upper) : est.deficit;
    // LoRaMac-node stops counting once it has decoded: counters frozen while fragments kept coming mean
    // "decoded" (or "deaf"); ask the device itself (at most twice).
    const stalled = s.v?.[1] !== 2 && s.pf && s.pf[0] === s.fs![0] && s.pf[1] === s.fs![1] && sentN - s.pf[2] >= 3 && (s.np ?? 0) < 2;
    // LBM leaves MissingFrag at 1 after a loss-free reception (NbFragReceived = M then): ask rather than send.
    const lbmLossless = s.fs![1] === 1 && s.fs![0] === plan.nbFrag && !s.np;
    if (deficit === 0 || stalled || lbmLossless) {
      setDevice(step, eui, { ...s, p: 'complete', t: now }, { type: 'device', phase: 'complete', status: s.s });
      return;
    }
    estimates.push({ ...est, deficit });
    const need = repairCount([{ ...est, deficit }], Infinity);
    if (!worst || need > (worst.need as number)) worst = { devEui: eui, need, deficit, loss: +est.loss.toFixed(3), status: s.fs };
  });
  const silent = listening.length - answered.length;
  const rounds = Number(c.data.rounds ?? 0);
  const targetN = Number(c.data.targetN);
  const budget = plan.nbFrag + plan.maxCoded - targetN;
  const sessionLeftMs = Number(c.data.sessionEndMs) - now - plan.statusWindowMs;
  const capacity = Math.max(0, Math.floor(sessionLeftMs / plan.fragmentIntervalMs));
  const need = Math.min(repairCount(estimates, budget), capacity);
  const canRepair = rounds < c.spec.fragmentation.maxRepairRounds && sessionLeftMs > 0;
  if (canRepair && (need > 0 || (silent > 0 && estimates.length === 0))) {
    extra.rounds = rounds + 1;
    extra.statusAskedAt = '';
    if (need > 0) {
      Object.assign(extra, { targetN: targetN + need, bStartN: Number(c.data.nextN), bStartMs: now });
      step.events.push({ type: 'repair', round: rounds + 1, fragments: need, devices: estimates.length, worst });
      return 'broadcast';
    }
    return 'status'; // only silent devices: ask again
  }
  // No more rounds: every device still listening is asked directly whether it has the image.
  for (const [eui, s] of listening) {
    if (step.devices.get(eui)!.p === 'listening') setDevice(step, eui, { ...s, p: 'complete', t: now }, { type: 'device', phase: 'complete', status: s.s });
  }
  return 'apply';
}

/** During apply: devices that turned out not to have the image either get another repair round or fail. */
function checkApply(c: CampaignRecord, plan: Plan, step: DeviceStep, now: number, extra: Record<string, string | number>): Stage | undefined {
  const lacking = [...step.devices].filter(([, s]) => s.p === 'listening' && s.s === 'Pending');
  if (lacking.length) {
    const rounds = Number(c.data.rounds ?? 0);
    const budget = plan.nbFrag + plan.maxCoded - Number(c.data.targetN);
    const sessionLeftMs = Number(c.data.sessionEndMs) - now - plan.statusWindowMs;
    if (rounds < c.spec.fragmentation.maxRepairRounds && budget > 0 && sessionLeftMs > 0) {
      extra.statusAskedAt = '';
      return 'status';
    }
    for (const [eui, s] of lacking) {
      const st = finish(s, 'MissingFragments', `block not reassembled after ${Number(c.data.fragmentsSent ?? 0)} fragments`, now);
      setDevice(step, eui, st, { type: 'device', phase: st.p, status: st.s, reason: st.r });
    }
  }
  return count(step, (s) => s.s === 'Pending') === 0 ? 'cleanup' : undefined;
}

async function deleteGroup(ctx: WorkerContext, c: CampaignRecord, now: number): Promise<void> {
  const groupId = c.data.groupId;
  if (!groupId) return;
  const queued = await ctx.chirpstack.listMulticastQueue(groupId);
  // A group is never deleted with fragments still queued: flush first (they could not be sent after the session).
  if (queued.length) {
    ctx.log.info({ campaign: c.id, queued: queued.length, sessionOver: now > Number(c.data.sessionEndMs) }, 'flushing multicast queue before delete');
    await ctx.chirpstack.flushMulticastQueue(groupId);
  }
  try {
    await ctx.chirpstack.deleteMulticastGroup(groupId);
  } catch (e) {
    if ((e as { code?: number }).code !== 5) throw e; // NOT_FOUND: already gone
  }
}

export function report(c: CampaignRecord, devices: Map<string, DeviceState>, now: number): Record<string, unknown> {
  const byStatus: Record<string, number> = {};
  for (const s of devices.values()) byStatus[s.s] = (byStatus[s.s] ?? 0) + 1;
  const updated = byStatus.Updated ?? 0;
  return {
    type: 'report',
    devices: devices.size,
    updated,
    failed: devices.size - updated,
    byStatus,
    fragmentsSent: Number(c.data.fragmentsSent ?? 0),
    repairRounds: Number(c.data.rounds ?? 0),
    airtimeSeconds: Number(c.data.airtimeMs ?? 0) / 1000,
    simulatedSeconds: (now - Number(c.data.startedAtMs ?? now)) / 1000,
  };
}

async function finishCampaign(ctx: WorkerContext, c: CampaignRecord, now: number): Promise<void> {
  await deleteGroup(ctx, c, now);
  const devices = await ctx.store.devices(c.id);
  await ctx.store.addEvent(c.id, report(c, devices, now));
  await ctx.store.setStage(c.id, 'done');
  await ctx.store.release(c.id);
  encoders.delete(c.id);
}

async function cancelCampaign(ctx: WorkerContext, c: CampaignRecord, now: number): Promise<void> {
  await deleteGroup(ctx, c, now);
  const devices = await ctx.store.devices(c.id);
  const changed = new Map<string, DeviceState>();
  const setUp: string[] = [];
  for (const [eui, s] of devices) {
    if (s.p !== 'discover' && s.p !== 'final') setUp.push(eui);
    if (s.s === 'Pending') {
      const { o: _o, ...rest } = s;
      changed.set(eui, { ...rest, s: 'Cancelled', r: 'campaign cancelled', p: 'final', t: now });
    }
  }
  // Stop what is queued for the devices, then ask those that were set up to drop the session and the group.
  await pMap([...devices.keys()], 16, (eui) => ctx.chirpstack.flushDeviceQueue(eui));
  const s = c.spec;
  const fragDelete = encodeCommands('ts004', 'downlink', [{ type: 'FragSessionDeleteReq', fragIndex: s.fragmentation.fragIndex }]);
  const groupDelete = encodeCommands('ts005', 'downlink', [{ type: 'McGroupDeleteReq', mcGroupId: s.multicast.mcGroupId }]);
  await pMap(setUp, 16, async (eui) => {
    await ctx.chirpstack.enqueueDownlink(eui, { fPort: s.ports.ts004, data: fragDelete });
    await ctx.chirpstack.enqueueDownlink(eui, { fPort: s.ports.ts005, data: groupDelete });
  });
  await ctx.store.commit(c.id, changed, [{ type: 'cancelled', devices: changed.size }]);
  await ctx.store.addEvent(c.id, report(c, new Map([...devices, ...changed]), now));
  await ctx.store.setStage(c.id, 'cancelled');
  await ctx.store.release(c.id);
  encoders.delete(c.id);
}
