/**
 * One step of a campaign, as a thin shell around the pure `step` (src/campaign/step.ts):
 *   1. load: the state (one hash read), the devices and the new answers when the step looks at devices;
 *      finish the intents of a step cut short, settle a multicast enqueue left in flight;
 *   2. step;
 *   3. one transaction: state changes, stage, device changes, events, and the intents of the effects;
 *   4. carry out the effects with their brackets (see effects.ts), marking each landed.
 * A step cut short by a crash is simply run again by another worker.
 */
import { randomBytes } from 'node:crypto';
import type { Effect } from '../../campaign/effects.js';
import { isSelfBracketed } from '../../campaign/effects.js';
import { settleMulticast, onMulticastIntent } from '../../campaign/landing.js';
import { FINAL_STAGES, type DeviceState } from '../../campaign/model.js';
import type { CampaignState } from '../../campaign/state.js';
import { devicesDue, keysNeeded, needsKeys, profilesNeeded, sessionCntsSent, step, type DeviceAnswer } from '../../campaign/step.js';
import { profilesFor } from './profiles.js';
import { parseCampaignState } from '../../store/campaign-state.js';
import type { WorkerContext } from '../context.js';
import { carryOut, firstPending, save, type Run } from './effects.js';
import { rootKeysFor } from './keys.js';
import { deltaImagesOf } from './delta-images.js';

function randomMcAddr(): number {
  let a = 0;
  while (a === 0) a = randomBytes(4).readUInt32BE(0);
  return a;
}

/** Consecutive failed runs of a step before the campaign is ended `failed` (with its clean-up). */
export const MAX_STEP_ERRORS = 8;

/**
 * Runs one step. Returns the simulated delay until the next step, or null when the campaign has ended.
 * A step that throws is recorded (`lastError` in the campaign, shown by `status`, and a `stepError` event, shown
 * by `watch`) and rethrown for the queue to retry; after MAX_STEP_ERRORS failures in a row the campaign is ended
 * `failed` by the next step, naming the error, so no retry goes on for ever.
 */
export async function advance(ctx: WorkerContext, id: string): Promise<number | null> {
  const seen = { errors: 0 };
  try {
    const delay = await advanceOnce(ctx, id, seen);
    if (seen.errors > 0) await ctx.store.redis.hdel(ctx.store.keys.campaign(id), 'stepErrors', 'lastError');
    return delay;
  } catch (e) {
    const key = ctx.store.keys.campaign(id);
    const error = String((e as Error)?.message ?? e).slice(0, 500);
    const n = await ctx.store.redis.hincrby(key, 'stepErrors', 1);
    await ctx.store.redis.hset(key, 'lastError', error);
    await ctx.store.addEvent(id, { type: 'stepError', error, attempt: n, of: MAX_STEP_ERRORS });
    ctx.log.warn({ campaign: id, err: error, attempt: n }, 'step failed');
    if (n < MAX_STEP_ERRORS) throw e;
    await ctx.store.redis.hset(key, 'abort', `step failed ${n} times in a row: ${error}`);
    return 0;
  }
}

async function advanceOnce(ctx: WorkerContext, id: string, seen: { errors: number }): Promise<number | null> {
  const c = await ctx.store.get(id);
  if (!c) return null;
  seen.errors = Number(c.data.stepErrors ?? 0);
  let state: CampaignState;
  try {
    state = parseCampaignState(c);
  } catch (e) {
    if (!FINAL_STAGES.includes(c.stage)) await ctx.store.setStage(id, 'failed', { error: (e as Error).message });
    return null;
  }
  const now = ctx.clock.now();
  const run: Run = { ctx, id, now, state, written: state, devices: new Map() };

  // Intents of a step that wrote its result but died before carrying out all of them.
  if (c.intents) {
    await carryOut(run, JSON.parse(c.intents) as Effect[]);
    await save(run, { intents: null });
  }
  if (FINAL_STAGES.includes(state.stage)) return null;

  // A multicast enqueue a dead worker left unfinished: did it land?
  for (const [gi, g] of state.groups.entries()) {
    if (!g.mcPending || !g.groupId) continue;
    const info = await ctx.chirpstack.getMulticastGroup(g.groupId);
    const settled = settleMulticast(run.state, info.fCnt, gi);
    if (settled.landed) ctx.log.info({ campaign: id, group: gi, pending: g.mcPending }, 'multicast frame from an interrupted step had landed');
    run.state = settled.state;
    await save(run);
  }
  state = run.state;

  const lookAtDevices = devicesDue(state, now) || state.cancel || state.abort !== undefined;
  const devices: Map<string, DeviceState> = lookAtDevices ? await ctx.store.devices(id) : new Map();
  const answers: DeviceAnswer[] = lookAtDevices && !state.cancel && !state.abort ? await ctx.store.readAnswers(id, state.ansCursor) : [];
  const need = keysNeeded(state, devices, now);
  const { rootKeys, keyErrors } = need.length ? await rootKeysFor(ctx, state, need) : { rootKeys: new Map<string, Uint8Array>(), keyErrors: new Map<string, string>() };
  const needsImage = need.some((eui) => devices.get(eui)?.p === 'fragSetup' && needsKeys(devices.get(eui)!));
  const image = needsImage ? await ctx.store.image(id) : null;
  const v2Setup = need.filter((eui) => devices.get(eui)?.p === 'fragSetup' && devices.get(eui)?.v?.[1] === 2);
  const sessionCnts = v2Setup.length ? await ctx.store.sessionCnts(v2Setup) : new Map<string, number>();
  const deltaImages = needsImage && state.images ? await deltaImagesOf(ctx, id, state.images) : undefined;

  const profiles = await profilesFor(ctx, profilesNeeded(state, devices, now, answers));

  const res = step({
    profiles,
    state,
    devices,
    answers,
    now,
    ...(state.stage === 'prepare' ? { fresh: { mcAddr: randomMcAddr(), mcKeyHex: randomBytes(16).toString('hex') } } : {}),
    rootKeys,
    keyErrors,
    ...(image ? { image } : {}),
    sessionCnts,
    ...(deltaImages ? { deltaImages } : {}),
  });

  const intents = res.effects.filter((e) => !isSelfBracketed(e));
  if (FINAL_STAGES.includes(res.state.stage)) {
    // The end (done, cancelled, failed): the group is deleted and the devices are told before the final stage is
    // written, so the stage says it is over only when it is; the release comes last.
    const before = res.effects.filter((e) => e.kind !== 'release');
    const after = res.effects.filter((e) => e.kind === 'release');
    const beforeIntents = before.filter((e) => !isSelfBracketed(e));
    if (beforeIntents.length) await save(run, { intents: JSON.stringify(beforeIntents) });
    await carryOut(run, before);
    run.state = res.state;
    await save(run, { devices: res.devices, events: res.events, intents: after.length ? JSON.stringify(after) : null });
    await carryOut(run, after);
    if (after.length) await save(run, { intents: null });
    return null;
  }

  // The step's one write: its state (with the intent of its first multicast frame), devices, events, intents.
  run.state = res.state;
  const first = firstPending(res.effects);
  if (first) run.state = onMulticastIntent(run.state, first.pending, first.group);
  for (const [eui, st] of res.devices) run.devices.set(eui, st);
  for (const [eui, st] of devices) if (!run.devices.has(eui)) run.devices.set(eui, st);
  const scSent = sessionCntsSent(res.effects);
  await save(run, { devices: res.devices, events: res.events, ...(intents.length ? { intents: JSON.stringify(intents) } : {}), ...(scSent.size ? { sessionCnts: scSent } : {}) });

  await carryOut(run, res.effects);
  if (intents.length) await save(run, { intents: null });
  if (res.nextAt === null) return null;
  // The group stage ends when the group is ready (carried out above): go straight on.
  return Math.max(0, res.nextAt - now);
}
