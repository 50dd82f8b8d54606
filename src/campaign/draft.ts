/** The device side of a step being built: every device's current state, those changed, and the events. */
import type { Request, Transition } from './device-machine.js';
import type { DeviceState } from './model.js';

export interface Draft {
  devices: Map<string, DeviceState>;
  changed: Map<string, DeviceState>;
  events: Record<string, unknown>[];
  /** Fire-and-forget replies the answers call for. */
  replies: [string, Request][];
}

export function newDraft(devices: ReadonlyMap<string, DeviceState>): Draft {
  return { devices: new Map(devices), changed: new Map(), events: [], replies: [] };
}

/** Applies one device-machine transition (and its event). */
export function apply(d: Draft, eui: string, t: Transition): void {
  d.devices.set(eui, t.state);
  d.changed.set(eui, t.state);
  if (t.event) d.events.push({ ...t.event, devEui: eui });
  for (const r of t.replies ?? []) d.replies.push([eui, r]);
}

/** How many devices satisfy `pred`. */
export function count(d: Draft, pred: (s: DeviceState) => boolean): number {
  let n = 0;
  for (const s of d.devices.values()) if (pred(s)) n++;
  return n;
}
