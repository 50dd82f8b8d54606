/**
 * The uplink intake: raw integration events (MQTT or HTTP, JSON or protobuf) in, one stream of normalized
 * uplinks out. Duplicates (same deduplicationId) are dropped, malformed events are counted and logged and never
 * throw, and uplinks on the FUOTA ports get their application-layer commands decoded.
 */
import { BoundedSet } from './lru.js';
import { parseUplinkEvent, type NormalizedUplink } from './uplink-event.js';
import type { PortDecoder } from './port-decoder.js';

export interface IntakeLogger {
  warn(obj: object, msg: string): void;
}

export interface IntakeOptions {
  /** Remembered deduplicationIds (default 65536). */
  dedupCapacity?: number;
  decode?: PortDecoder;
  logger?: IntakeLogger;
}

export interface IntakeStats {
  received: number;
  accepted: number;
  duplicates: number;
  malformed: number;
  /** Accepted uplinks whose FUOTA payload did not fully decode (delivered with the commands before the fault and `decodeError`). */
  undecodable: number;
  /** f_port 0 (MAC-only) events, ignored. */
  macOnly: number;
}

export type UplinkListener = (u: NormalizedUplink) => void;
/** Told about every event dropped without reaching the uplink listeners (the reason is the stats field counted). */
export type DropListener = (reason: 'malformed' | 'duplicate' | 'macOnly') => void;

const stderrLogger: IntakeLogger = {
  warn: (obj, msg) => process.stderr.write(`lorafuota intake: ${msg} ${JSON.stringify(obj)}\n`),
};

export class UplinkIntake {
  readonly stats: IntakeStats = { received: 0, accepted: 0, duplicates: 0, malformed: 0, undecodable: 0, macOnly: 0 };
  private readonly seen: BoundedSet;
  private readonly listeners = new Set<UplinkListener>();
  private readonly dropListeners = new Set<DropListener>();
  private readonly logger: IntakeLogger;

  constructor(private readonly opts: IntakeOptions = {}) {
    this.seen = new BoundedSet(opts.dedupCapacity ?? 65536);
    this.logger = opts.logger ?? stderrLogger;
  }

  /** Subscribes; returns the unsubscribe function. */
  onUplink(fn: UplinkListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Subscribes to dropped events; returns the unsubscribe function. */
  onDrop(fn: DropListener): () => void {
    this.dropListeners.add(fn);
    return () => this.dropListeners.delete(fn);
  }

  /** Counts an event refused before parsing (e.g. an oversized HTTP body) as received and malformed. */
  reject(source: string, bytes: number, error: string): void {
    this.stats.received++;
    this.stats.malformed++;
    this.logger.warn({ source, bytes, error }, 'malformed uplink event dropped');
    this.dropped('malformed');
  }

  private dropped(reason: Parameters<DropListener>[0]): void {
    for (const l of this.dropListeners) {
      try {
        l(reason);
      } catch {
        // a counting hook must not break the intake
      }
    }
  }

  /** Feeds one raw event (any encoding). Returns the normalized uplink if it was accepted. Never throws. */
  push(raw: Uint8Array, source = 'unknown'): NormalizedUplink | undefined {
    this.stats.received++;
    let up: NormalizedUplink;
    try {
      up = parseUplinkEvent(raw);
    } catch (err) {
      this.stats.malformed++;
      this.logger.warn({ source, bytes: raw.length, error: err instanceof Error ? err.message : String(err) }, 'malformed uplink event dropped');
      this.dropped('malformed');
      return undefined;
    }
    if (!this.seen.add(up.deduplicationId)) {
      this.stats.duplicates++;
      this.dropped('duplicate');
      return undefined;
    }
    if (up.fPort === 0) {
      this.stats.macOnly++;
      this.dropped('macOnly');
      return undefined;
    }
    if (this.opts.decode) {
      const r = this.opts.decode(up.fPort, up.data, up.devEui);
      if (r) {
        up.commands = r.commands;
        if (r.error) {
          up.decodeError = r.error;
          this.stats.undecodable++;
          this.logger.warn({ source, devEui: up.devEui, fPort: up.fPort, error: r.error }, 'uplink payload did not fully decode');
        }
      }
    }
    this.stats.accepted++;
    for (const l of this.listeners) {
      try {
        l(up);
      } catch (err) {
        this.logger.warn({ devEui: up.devEui, error: err instanceof Error ? err.message : String(err) }, 'uplink listener threw');
      }
    }
    return up;
  }
}
