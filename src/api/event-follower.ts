/**
 * Follows one campaign's event stream: replays from a cursor, then blocks for new events until the campaign reaches
 * a final stage. Runs on its own Redis connection because XREAD BLOCK holds the connection.
 */
import type { Redis } from 'ioredis';
import { FINAL_STAGES } from '../campaign/model.js';
import type { Stage } from '../campaign/model.js';
import { CampaignStore } from '../store/campaign-store.js';
import type { CampaignEvent } from '../store/campaign-store.js';

export interface FollowOptions {
  /** A dedicated connection; the caller disconnects it to abort a blocked read. */
  redis: Redis;
  prefix: string;
  id: string;
  /** Last event id already seen ('0' = replay all). */
  fromId: string;
  /** How long one XREAD blocks before the stage is checked again. */
  blockMs: number;
  send(ev: CampaignEvent): Promise<void>;
  stopped(): boolean;
}

/**
 * Sends events until the one that moves the campaign to a final stage. The stage is read before each XREAD: the
 * final stage and its event are written in one transaction, so once the stage is final a non-blocking read returns
 * everything up to that event (and a cursor already past it ends the watch after what is left).
 */
export async function followEvents(o: FollowOptions): Promise<void> {
  const store = new CampaignStore(o.redis, o.prefix);
  const count = 1000;
  let cursor = o.fromId === '' ? '0' : o.fromId;
  while (!o.stopped()) {
    const stage = (await o.redis.hget(store.keys.campaign(o.id), 'stage')) as Stage | null;
    const final = stage === null || FINAL_STAGES.includes(stage);
    const events = await store.readEvents(o.id, cursor, final ? 0 : o.blockMs, count);
    for (const ev of events) {
      if (o.stopped()) return;
      await o.send(ev);
      cursor = ev.id;
      if (ev.type === 'stage' && FINAL_STAGES.includes(ev.stage as Stage)) return;
    }
    if (final && events.length < count) return;
  }
}
