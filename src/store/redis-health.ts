/**
 * Redis connection health for a process: every ioredis client and BullMQ queue/worker the service creates is
 * attached here, so none is left without an `error` listener (ioredis then prints raw "Unhandled error event"
 * lines) and an outage is reported as two structured log lines, one when the first connection fails and one when
 * every failed connection is back, instead of one line per reconnection attempt.
 */
import type { EventEmitter } from 'node:events';

export interface HealthLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** BullMQ's Queue and Worker: an `error` event and a promise of the ioredis client they reconnect. */
interface BullLike {
  on(event: 'error', listener: (err: Error) => void): unknown;
  readonly client: Promise<{ on(event: 'ready', listener: () => void): unknown }>;
}

export interface OutageInfo {
  /** Connections (by role) that failed during the outage. */
  roles: string[];
  errors: number;
  downMs: number;
}

export class RedisHealth {
  private readonly down = new Map<string, number>();
  private outageStart = 0;
  private errors = 0;
  private rolesHit = new Set<string>();
  private seq = 0;
  /** Completed outages, most recent last (kept small). */
  readonly outages: OutageInfo[] = [];

  constructor(
    private readonly log: HealthLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while at least one attached connection is failing. */
  get isDown(): boolean {
    return this.down.size > 0;
  }

  /** An ioredis client: `error` marks it down, `ready` up again, `end` (closed for good) forgets it. */
  attach(conn: EventEmitter, role: string): EventEmitter {
    const key = `${role}#${++this.seq}`;
    conn.on('error', (err: unknown) => this.failed(key, role, err));
    conn.on('ready', () => this.recovered(key));
    conn.on('end', () => this.recovered(key, true));
    return conn;
  }

  /** A BullMQ Queue or Worker: its `error` event, and `ready` of the client it reconnects. */
  attachBull<T extends BullLike>(q: T, role: string): T {
    const key = `${role}#${++this.seq}`;
    q.on('error', (err: unknown) => this.failed(key, role, err));
    q.client.then(
      (c) => c.on('ready', () => this.recovered(key)),
      () => undefined,
    );
    return q;
  }

  private failed(key: string, role: string, err: unknown): void {
    this.errors++;
    if (this.down.has(key)) return;
    this.down.set(key, this.now());
    this.rolesHit.add(role);
    if (this.down.size > 1) return;
    this.outageStart = this.now();
    this.errors = 1;
    this.rolesHit = new Set([role]);
    const e = err as { code?: unknown; message?: unknown };
    this.log.warn({ redis: 'down', role, code: typeof e?.code === 'string' ? e.code : undefined, error: String(e?.message ?? err) }, 'redis unreachable');
  }

  private recovered(key: string, closed = false): void {
    if (!this.down.delete(key) || this.down.size > 0) return;
    const info: OutageInfo = { roles: [...this.rolesHit].sort(), errors: this.errors, downMs: this.now() - this.outageStart };
    this.outages.push(info);
    if (this.outages.length > 16) this.outages.shift();
    if (!closed) this.log.info({ redis: 'up', ...info }, 'redis reachable again');
  }
}
