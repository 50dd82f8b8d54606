/**
 * One step of a campaign: read its state from Redis, do what its stage needs now, write the result back, and say
 * when the next step is due. Steps are idempotent up to the bracketed side effects (see devices.ts and
 * multicast.ts), so a step cut short by a crash is simply run again by another worker.
 *
 * prepare -> group -> setup -> session -> broadcast <-> status -> apply -> cleanup -> done
 */
import { randomBytes } from 'node:crypto';
import { FINAL_STAGES, type Stage } from '../../src/campaign/model.js';
import type { MachineContext } from '../../src/campaign/device-machine.js';
import type { Plan } from '../../src/campaign/planner.js';
import { encodeDataFragment } from '../../src/codec/data-fragment.js';
import { encodeCommands } from '../../src/codec/frame.js';
import { gpsToUnixMs, unixMsToGps } from '../../src/codec/gpstime.js';
import type { CampaignRecord } from '../../src/store/campaign-store.js';
import type { WorkerContext } from '../context.js';
import { count, dispatch, foldAnswers } from './devices.js';
import { encoderFor } from './encoders.js';
import { checkApply, evaluateStatus } from './repair-round.js';
import { cancelCampaign, finishCampaign } from './finish.js';
import { checkProfiles, createGroup, enqueueMulticast, randomMcAddr, settlePending } from './multicast.js';

/** Fragments enqueued ahead of the planner's schedule, so ChirpStack's queue never runs dry between steps. */
const LOOKAHEAD = 8;

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
