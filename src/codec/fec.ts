// TS004 forward-error-correction encoder (TS004-2.0.0 §5; docs/protocol.md §4). Rows and XOR work run in a WebAssembly SIMD kernel
// (its row generator is checked against parityRow in fec-row.ts, the reference the device decoder uses): single
// fragments on demand XOR their ~M/2 sources directly; whole batches use the method of four Russians.
import { createXorKernel, type XorKernel } from './fec-wasm.js';
import { checkRule, FecError, MAX_N, parityRow, rowWords, type FecRule } from './fec-row.js';

export { prbs23, parityRow, parityRowInto, FecError, MAX_N, type FecRule } from './fec-row.js';

export interface FecEncoder {
  readonly nbFrag: number;
  readonly fragSize: number;
  readonly padding: number;
  readonly rule: FecRule;
  /** Degenerate blocks (M = 1, M <= 5) and, from fecEncode, fragments no coded fragment covers. */
  readonly warnings: string[];
  /** Bytes of the kernel memory this encoder holds. */
  readonly memoryBytes: number;
  /** Payload of DataFragment N (1..16383): N <= M uncoded, N > M coded. A fresh copy. */
  fragment(n: number): Uint8Array;
}

const GROUP = 8; // four-Russians group: one 256-entry table of subset XORs per 8 uncoded fragments

function checkInput(data: Uint8Array, fragSize: number): number {
  if (!Number.isInteger(fragSize) || fragSize < 1 || fragSize > 255) {
    throw new FecError('fragSize', `must be an integer 1..255, got ${fragSize}`);
  }
  if (data.length === 0) throw new FecError('data', 'is empty');
  const nbFrag = Math.ceil(data.length / fragSize);
  if (nbFrag > MAX_N) throw new FecError('data', `needs ${nbFrag} fragments of ${fragSize} B; N is limited to ${MAX_N}`);
  return nbFrag;
}

function degenerateWarnings(m: number, rule: FecRule): string[] {
  if (m === 1) return ['nbFrag = 1: every coded fragment is all zeros (floor(M/2) = 0 draws); repeat N = 1 instead'];
  if (m > 5) return [];
  const firstK = new Array<number>(m).fill(0);
  for (let k = 1; k <= MAX_N - m && firstK.includes(0); k++) {
    const row = parityRow(k, m, rule)[0]!;
    for (let i = 0; i < m; i++) if (firstK[i] === 0 && (row >>> i) & 1) firstK[i] = k;
  }
  const list = firstK.map((k, i) => `F${i + 1}@k=${k || 'never'}`).join(', ');
  return [`nbFrag = ${m} <= 5: degenerate parity rows, some fragments are only covered late (first k covering each: ${list}); send more redundancy or repeat uncoded fragments`];
}

class Encoder implements FecEncoder {
  readonly nbFrag: number;
  readonly padding: number;
  readonly warnings: string[];
  readonly memoryBytes: number;
  private readonly kernel: XorKernel;
  private readonly stride: number; // bytes per row in kernel memory, a multiple of 16
  private readonly rowBytes: number;
  private readonly tableAt: number;
  private readonly rowsAt: number;
  private readonly outAt: number;

  /** `batch`: how many coded rows one call of codedBatch can produce (0 = on demand only: no table). */
  constructor(
    data: Uint8Array,
    readonly fragSize: number,
    readonly rule: FecRule,
    batch: number,
  ) {
    const m = checkInput(data, fragSize);
    this.nbFrag = m;
    this.padding = m * fragSize - data.length;
    this.warnings = degenerateWarnings(m, rule);
    this.stride = Math.ceil(fragSize / 16) * 16;
    this.rowBytes = rowWords(m) * 4;
    this.tableAt = Math.ceil(m / GROUP) * GROUP * this.stride;
    this.rowsAt = this.tableAt + (batch > 0 ? 256 * this.stride : 0);
    this.outAt = this.rowsAt + Math.max(1, batch) * this.rowBytes;
    this.kernel = createXorKernel(this.outAt + Math.max(1, batch) * this.stride);
    this.memoryBytes = this.kernel.memory.buffer.byteLength;
    const mem = new Uint8Array(this.kernel.memory.buffer);
    for (let i = 0; i < m; i++) mem.set(data.subarray(i * fragSize, (i + 1) * fragSize), i * this.stride);
  }

  fragment(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 1 || n > MAX_N) throw new FecError('n', `must be an integer 1..${MAX_N}, got ${n}`);
    const mem = new Uint8Array(this.kernel.memory.buffer);
    if (n <= this.nbFrag) return mem.slice((n - 1) * this.stride, (n - 1) * this.stride + this.fragSize);
    this.kernel.row(n - this.nbFrag, this.nbFrag, this.rule, this.rowsAt);
    mem.fill(0, this.outAt, this.outAt + this.stride);
    this.kernel.gather(0, this.rowsAt, this.nbFrag, this.outAt, this.stride);
    return mem.slice(this.outAt, this.outAt + this.fragSize);
  }

  /** Coded payloads k = 1..count (1 <= count <= batch) written to `dst` at `dstAt`, fragSize bytes each; returns
   *  the OR of their rows (which uncoded fragments they cover). */
  codedBatch(count: number, dst: Uint8Array, dstAt: number): Uint32Array {
    const { kernel, stride, rowBytes, nbFrag: m } = this;
    const words = rowBytes / 4;
    for (let k = 1; k <= count; k++) kernel.row(k, m, this.rule, this.rowsAt + (k - 1) * rowBytes);
    const rows = new Uint32Array(kernel.memory.buffer, this.rowsAt, count * words);
    const covered = new Uint32Array(words);
    for (let i = 0; i < rows.length; i++) covered[i % words]! |= rows[i]!;
    const mem = new Uint8Array(kernel.memory.buffer);
    mem.fill(0, this.outAt, this.outAt + count * stride);
    for (let g = 0; g * GROUP < m; g++) {
      kernel.build(this.tableAt, g * GROUP * stride, stride);
      kernel.apply(this.tableAt, this.rowsAt + g, rowBytes, count, this.outAt, stride);
    }
    for (let k = 0; k < count; k++) {
      dst.set(mem.subarray(this.outAt + k * stride, this.outAt + k * stride + this.fragSize), dstAt + k * this.fragSize);
    }
    return covered;
  }

  /** All uncoded payloads, written to `dst` from offset 0. */
  uncoded(dst: Uint8Array): void {
    const mem = new Uint8Array(this.kernel.memory.buffer);
    for (let i = 0; i < this.nbFrag; i++) dst.set(mem.subarray(i * this.stride, i * this.stride + this.fragSize), i * this.fragSize);
  }
}

export function createFecEncoder(data: Uint8Array, opts: { fragSize: number; rule?: FecRule }): FecEncoder {
  return new Encoder(data, opts.fragSize, checkRule(opts.rule ?? 1), 0);
}

function uncoveredWarning(covered: Uint32Array, m: number, lastN: number): string[] {
  const missing: number[] = [];
  for (let i = 0; i < m; i++) if (!((covered[i >>> 5]! >>> (i & 31)) & 1)) missing.push(i + 1);
  if (missing.length === 0) return [];
  const shown = missing.slice(0, 8).map((i) => `F${i}`).join(', ') + (missing.length > 8 ? ', ...' : '');
  return [`${missing.length} of ${m} uncoded fragments (${shown}) appear in no coded fragment N <= ${lastN}: losing one cannot be repaired`];
}

/** All M + redundancy payloads, N = 1..M+R (views into one buffer). memoryBytes: kernel memory + that buffer. */
export function fecEncode(
  data: Uint8Array,
  opts: { fragSize: number; redundancy: number; rule?: FecRule },
): { nbFrag: number; padding: number; fragments: Uint8Array[]; warnings: string[]; memoryBytes: number } {
  const { fragSize, redundancy } = opts;
  const rule = checkRule(opts.rule ?? 1);
  const m = checkInput(data, fragSize);
  if (!Number.isInteger(redundancy) || redundancy < 0) {
    throw new FecError('redundancy', `must be an integer >= 0, got ${redundancy}`);
  }
  if (m + redundancy > MAX_N) {
    throw new FecError('redundancy', `M + R = ${m} + ${redundancy} exceeds ${MAX_N} (N has 14 bits)`);
  }
  const enc = new Encoder(data, fragSize, rule, redundancy);
  const all = new Uint8Array((m + redundancy) * fragSize);
  enc.uncoded(all);
  const warnings = [...enc.warnings];
  if (redundancy > 0) warnings.push(...uncoveredWarning(enc.codedBatch(redundancy, all, m * fragSize), m, m + redundancy));
  const fragments = Array.from({ length: m + redundancy }, (_, i) => all.subarray(i * fragSize, (i + 1) * fragSize));
  return { nbFrag: m, padding: enc.padding, fragments, warnings, memoryBytes: enc.memoryBytes + all.byteLength };
}
