import type { AnyCommand } from '../codec/frame.js';

/** How a package handler answers: the command is built when the uplink carrying it leaves (`txMs`). */
export interface ReplyOptions {
  /** Delay before the answer may leave, ms (BlockAckDelay window, FMP jitter). */
  delayMs?: number;
  /** Label for cancelling answers not sent yet. */
  tag?: string;
  /** Called once the answer has left in an uplink. */
  onSent?: (txMs: number) => void;
}

/** What a package handler sees for one received frame. */
export interface HandlerContext {
  readonly nowMs: number;
  /** McGroupID when the frame arrived on a multicast address, null for unicast. */
  readonly mcGroupId: number | null;
  reply(make: (txMs: number) => AnyCommand, opts?: ReplyOptions): void;
  /** Drops this package's answers with `tag` that are not ready yet. */
  cancel(tag: string): void;
}
