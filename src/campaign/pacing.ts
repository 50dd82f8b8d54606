/**
 * Pacing of the broadcast (pure): one fragment each time one is due on the planner's spacing, never ahead.
 *
 * ChirpStack v4 puts a Class C multicast item after the latest one still queued plus `multicast_class_c_margin`
 * (one more margin per further gateway with DELAY scheduling), applies no duty cycle, and deletes an item on the
 * gateway's TX ack (a refusal for duty cycle included). Fragments enqueued ahead would therefore leave at ChirpStack's
 * margin, not at the planner's duty-cycle spacing, and a gateway would refuse (and ChirpStack drop) those that come
 * too early. Enqueued when due, each fragment finds the queue empty and leaves at the next scheduler run.
 *
 * Each fragment carries `expires_at` = enqueue time + one interval: if it could not leave before the next one is due
 * (gateway offline, queue held up), ChirpStack drops it instead of sending it late into the next one's slot; the
 * FEC treats it as one more lost fragment. A step that runs late does not catch up: the schedule slides to now (the
 * spacing is kept, the time is lost), since a fragment enqueued while the previous one's rows are still queued
 * would be put a margin after them by ChirpStack and could expire there.
 */
export interface BroadcastCursor {
  /** Time of the first fragment of the current burst, and its N. */
  startMs: number;
  startN: number;
  /** Next fragment N to enqueue, and the last N of the burst. */
  nextN: number;
  targetN: number;
}

export interface Pace {
  broadcast: BroadcastCursor;
  /** The fragment to enqueue now, if one is due. */
  fragment?: { n: number; expiresAtMs: number };
  /** Every fragment of the burst was sent and the last one's slot is over. */
  finished: boolean;
  /** When the next fragment is due (or the burst's end, once all are sent). */
  nextDueMs: number;
}

export function dueAt(b: BroadcastCursor, intervalMs: number, n: number): number {
  return b.startMs + (n - b.startN) * intervalMs;
}

/** `expiryAfterMs`: how long ChirpStack may keep the fragment queued (default one interval; Class B needs room for
 *  ChirpStack's Class B margin and the wait for the next ping slot). */
export function pace(cursor: BroadcastCursor, intervalMs: number, now: number, expiryAfterMs = intervalMs): Pace {
  let b = cursor;
  if (b.nextN > b.targetN) {
    const end = dueAt(b, intervalMs, b.targetN + 1);
    return { broadcast: b, finished: now >= end, nextDueMs: end };
  }
  const due = dueAt(b, intervalMs, b.nextN);
  if (now < due) return { broadcast: b, finished: false, nextDueMs: due };
  // Late (the step ran after the fragment was due): the schedule slides to now, so that the next fragment still
  // comes a whole interval after this one and never joins it in ChirpStack's queue.
  if (now > due) b = { ...b, startMs: now, startN: b.nextN };
  return {
    broadcast: b,
    fragment: { n: b.nextN, expiresAtMs: now + expiryAfterMs },
    finished: false,
    nextDueMs: dueAt(b, intervalMs, b.nextN + 1),
  };
}
