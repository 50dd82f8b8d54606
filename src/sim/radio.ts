/**
 * Radio loss models for the simulated network. Every decision is a pure function of (seed, devEui, stream,
 * frame sequence), so a run's outcome never depends on wall-clock timing or on the order devices are visited.
 *
 * - uniform: each frame is lost with the device's loss probability, independently.
 * - gilbert-elliott: two-state bursts (Good loses nothing, Bad loses everything) with mean burst length
 *   `burstLength` and the device's loss probability as the stationary loss. To stay pure and O(1), the chain
 *   restarts from a seed-drawn stationary state every EPOCH frames.
 * Per device: a `badFraction` of devices have a much worse link (`badFactor` × loss, at most 0.95), and a
 * `silentFraction` never gets an uplink through (devices that never answer).
 */
export type LossModelName = 'uniform' | 'gilbert-elliott';

export interface RadioConfig {
  seed: number;
  /** Mean multicast/downlink loss probability of a typical device, 0..1. */
  loss: number;
  model?: LossModelName;
  burstLength?: number;
  badFraction?: number;
  badFactor?: number;
  silentFraction?: number;
  /** Uplink loss probability for devices that are not silent (default 0). */
  uplinkLoss?: number;
}

const EPOCH = 64;

function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(seed: number, s: string): number {
  let h = mix32(seed ^ 0x9e3779b9);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix32(h);
}

/** Uniform in [0, 1) from a key hash and a sequence number. */
function unit(keyHash: number, seq: number): number {
  return mix32(keyHash ^ mix32(Math.imul(seq >>> 0, 0x9e3779b1) ^ ((seq / 2 ** 32) >>> 0))) / 2 ** 32;
}

function checkProb(field: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${field}: must be a probability in 0..1, got ${p}`);
}

interface DeviceLink {
  loss: number;
  silent: boolean;
  hash: number;
}

export class Radio {
  readonly model: LossModelName;
  private readonly links = new Map<string, DeviceLink>();
  /** Gilbert-Elliott chain position per device+stream: the last seq evaluated and whether it was Bad. */
  private readonly chains = new Map<string, { seq: number; bad: boolean }>();

  constructor(readonly cfg: RadioConfig) {
    if (!Number.isInteger(cfg.seed)) throw new RangeError(`seed: must be an integer, got ${cfg.seed}`);
    checkProb('loss', cfg.loss);
    checkProb('badFraction', cfg.badFraction ?? 0);
    checkProb('silentFraction', cfg.silentFraction ?? 0);
    checkProb('uplinkLoss', cfg.uplinkLoss ?? 0);
    if ((cfg.burstLength ?? 4) < 1) throw new RangeError(`burstLength: must be >= 1, got ${cfg.burstLength}`);
    if ((cfg.badFactor ?? 4) < 1) throw new RangeError(`badFactor: must be >= 1, got ${cfg.badFactor}`);
    this.model = cfg.model ?? 'uniform';
    if (this.model !== 'uniform' && this.model !== 'gilbert-elliott') throw new RangeError(`model: unknown loss model ${String(cfg.model)}`);
  }

  link(devEui: string): DeviceLink {
    let l = this.links.get(devEui);
    if (!l) {
      const hash = hashString(this.cfg.seed, devEui);
      const bad = unit(hash, 0xbad) < (this.cfg.badFraction ?? 0.1);
      const silent = unit(hash, 0x5e1) < (this.cfg.silentFraction ?? 0);
      const loss = bad ? Math.min(0.95, this.cfg.loss * (this.cfg.badFactor ?? 4)) : this.cfg.loss;
      l = { loss, silent, hash };
      this.links.set(devEui, l);
    }
    return l;
  }

  /** Mean loss probability of this device's downlink. */
  deviceLoss(devEui: string): number {
    return this.link(devEui).loss;
  }

  isSilent(devEui: string): boolean {
    return this.link(devEui).silent;
  }

  /** Is frame `seq` of `stream` (e.g. a multicast group's McAddr) lost at this device? */
  downlinkLost(devEui: string, stream: string, seq: number): boolean {
    const l = this.link(devEui);
    if (l.loss <= 0) return false;
    const key = hashString(l.hash, stream);
    if (this.model === 'uniform') return unit(key, seq) < l.loss;
    return this.geBad(`${devEui}|${stream}`, key, l.loss, seq);
  }

  uplinkLost(devEui: string, fCnt: number): boolean {
    const l = this.link(devEui);
    if (l.silent) return true;
    const p = this.cfg.uplinkLoss ?? 0;
    return p > 0 && unit(hashString(l.hash, 'uplink'), fCnt) < p;
  }

  private geBad(chainKey: string, key: number, loss: number, seq: number): boolean {
    const toGood = 1 / (this.cfg.burstLength ?? 4);
    const toBad = Math.min(1, (loss * toGood) / Math.max(1e-9, 1 - loss));
    const epochStart = seq - (seq % EPOCH);
    let c = this.chains.get(chainKey);
    if (!c || c.seq > seq || c.seq < epochStart) {
      c = { seq: epochStart, bad: unit(key ^ 0x57a7e, epochStart) < loss };
    }
    for (let s = c.seq + 1; s <= seq; s++) {
      const u = unit(key, s);
      c.bad = c.bad ? u >= toGood : u < toBad;
    }
    c.seq = seq;
    this.chains.set(chainKey, c);
    return c.bad;
  }
}
