// FEC benchmarks: W1 (100 KiB, FragSize 200, 50 %), W2 (1 MiB, FragSize 200, 50 %), W3 (64 KiB, FragSize 50, 30 %).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fecEncode } from '../src/codec/fec.js';
import { FragDecoder } from '../src/device/frag-decoder.js';
import { Rng } from '../src/device/rng.js';
import type { Bench, BenchResult } from './run.js';
import { medianMs as timeMedian } from './timing.js';

interface Workload { size: number; fragSize: number; redundancyPct: number; lossPct: number }
const W1: Workload = { size: 100 * 1024, fragSize: 200, redundancyPct: 50, lossPct: 10 };
const W2: Workload = { size: 1024 * 1024, fragSize: 200, redundancyPct: 50, lossPct: 0 };
const W3: Workload = { size: 64 * 1024, fragSize: 50, redundancyPct: 30, lossPct: 20 };

function block(size: number): Uint8Array {
  const rng = new Rng(size);
  return Uint8Array.from({ length: size }, () => rng.int(255));
}
const redundancyOf = (w: Workload): number => Math.ceil((Math.ceil(w.size / w.fragSize) * w.redundancyPct) / 100);


function encodeBench(w: Workload, runs: number): BenchResult {
  const data = block(w.size);
  const redundancy = redundancyOf(w);
  let r = fecEncode(data, { fragSize: w.fragSize, redundancy });
  const medianMs = timeMedian(runs, () => (r = fecEncode(data, { fragSize: w.fragSize, redundancy })));
  // Kernel memory (data, one 256-entry table, all rows and coded payloads) plus the output fragments.
  return { medianMs, memoryBytes: r.memoryBytes, nbFrag: r.nbFrag, redundancy };
}

function decodeBench(w: Workload, runs: number): BenchResult {
  const data = block(w.size);
  const redundancy = redundancyOf(w);
  const { nbFrag, padding, fragments } = fecEncode(data, { fragSize: w.fragSize, redundancy });
  const rng = new Rng(7);
  const arrived = fragments.map((_, i) => i + 1).filter(() => rng.next() * 100 >= w.lossPct);
  const limits = { maxNbFrag: nbFrag, maxFragSize: w.fragSize, maxLost: redundancy };
  const d = new FragDecoder(limits);
  let consumed = 0;
  const medianMs = timeMedian(runs, () => {
    d.begin({ fragIndex: 0, nbFrag, fragSize: w.fragSize, padding, rule: 1 });
    for (const n of arrived) if (d.push(n, fragments[n - 1]!) === 'done') break;
    consumed = d.stats.consumed;
  });
  if (d.status !== 'done' || !Buffer.from(d.block()).equals(Buffer.from(data))) throw new Error(`${w.size} B decode failed`);
  return { medianMs, memoryBytes: d.memoryBytes, nbFrag, maxLost: redundancy, lossPct: w.lossPct, lostUncoded: d.stats.lostUncoded, consumed };
}

function cliBench(w: Workload, runs: number): BenchResult {
  const file = join(mkdtempSync(join(tmpdir(), 'lorafuota-bench-')), 'w2.bin');
  writeFileSync(file, block(w.size));
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
  const args = [main, 'fec', 'encode', file, '--frag-size', String(w.fragSize), '--redundancy', `${w.redundancyPct}%`];
  const medianMs = timeMedian(runs, () => {
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`fec encode exited ${r.status}`);
  });
  return { medianMs, wholeProcess: true };
}

export const benches: Bench[] = [
  { name: 'W1-encode', run: () => encodeBench(W1, 21) },
  { name: 'W1-decode', run: () => decodeBench(W1, 51) },
  { name: 'W2-encode', run: () => encodeBench(W2, 11) },
  { name: 'W3-decode', run: () => decodeBench(W3, 21) },
  { name: 'W2-encode-cli', run: () => cliBench(W2, 11) },
];
