/**
 * LoRa and FSK time on air (Semtech AN1200.13 / SX1276 datasheet §4.1.1.7). Pure arithmetic, no I/O.
 */
export interface LoraAirtimeParams {
  /** Spreading factor 6..12. */
  sf: number;
  /** Bandwidth in Hz (125000, 250000, 500000). */
  bwHz: number;
  /** PHYPayload length in bytes (MHDR..MIC). */
  payloadBytes: number;
  /** Coding rate 4/(4+codingRate): 1 = 4/5 (LoRaWAN) .. 4 = 4/8. */
  codingRate?: number;
  preambleSymbols?: number;
  explicitHeader?: boolean;
  /** LoRaWAN uplinks carry a payload CRC, downlinks do not. */
  crc?: boolean;
  /** Low-data-rate optimisation; defaults to on when a symbol lasts ≥ 16 ms (SF11/SF12 at 125 kHz). */
  lowDataRateOptimize?: boolean;
}

export interface LoraAirtime {
  symbolMs: number;
  preambleSymbols: number;
  payloadSymbols: number;
  totalSymbols: number;
  ms: number;
}

function checkInt(field: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${field}: must be an integer in ${lo}..${hi}, got ${v}`);
}

export function loraAirtime(p: LoraAirtimeParams): LoraAirtime {
  const cr = p.codingRate ?? 1;
  const nPreamble = p.preambleSymbols ?? 8;
  checkInt('sf', p.sf, 6, 12);
  checkInt('payloadBytes', p.payloadBytes, 0, 255);
  checkInt('codingRate', cr, 1, 4);
  checkInt('preambleSymbols', nPreamble, 0, 65535);
  if (![7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000, 812500].includes(p.bwHz)) {
    throw new RangeError(`bwHz: unsupported LoRa bandwidth ${p.bwHz}`);
  }
  const symbolMs = (2 ** p.sf / p.bwHz) * 1000;
  const ldro = p.lowDataRateOptimize ?? symbolMs >= 16;
  const ih = p.explicitHeader === false ? 1 : 0;
  const crc = p.crc === false ? 0 : 1;
  const de = ldro ? 1 : 0;
  const num = 8 * p.payloadBytes - 4 * p.sf + 28 + 16 * crc - 20 * ih;
  const payloadSymbols = 8 + Math.max(Math.ceil(num / (4 * (p.sf - 2 * de))) * (cr + 4), 0);
  const preambleSymbols = nPreamble + 4.25;
  const totalSymbols = preambleSymbols + payloadSymbols;
  return { symbolMs, preambleSymbols, payloadSymbols, totalSymbols, ms: totalSymbols * symbolMs };
}

/** GFSK time on air as LoRaWAN uses it: 5 B preamble, 3 B sync word, 1 B length, payload, 2 B CRC. */
export function fskAirtimeMs(payloadBytes: number, bitRate: number): number {
  checkInt('payloadBytes', payloadBytes, 0, 255);
  if (!(bitRate > 0)) throw new RangeError(`bitRate: must be > 0, got ${bitRate}`);
  return ((5 + 3 + 1 + payloadBytes + 2) * 8 * 1000) / bitRate;
}
