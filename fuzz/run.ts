/**
 * The fuzz runner: `npm run fuzz -- [--count N] [--target NAME] [--seed S]` (build first). For each target it
 * prints the inputs run, how many were refused with the documented error, exceptions of any other type, property
 * mismatches, and the slowest input in ms (an input over 1 ms is re-run three times and its fastest run counts,
 * so a garbage-collection pause is not charged to it). Exit status 1 when a target has an exception or mismatch.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Rng } from './gen.js';
import { makeTarget, Mismatch, TARGET_NAMES, type TargetName } from './targets.js';

export const BUDGET_MS = 10;

export interface FuzzFinding {
  kind: 'exception' | 'mismatch';
  error: string;
  input: string;
}

export interface FuzzResult {
  target: TargetName;
  inputs: number;
  refused: number;
  exceptions: number;
  mismatches: number;
  findings: FuzzFinding[];
  slowestMs: number;
  slowestInput: string;
  overBudget: number;
  /** Slowest single first run, GC pauses and machine load included. */
  rawSlowestMs: number;
}

export function runFuzz(target: TargetName, count: number, seed = 1): FuzzResult {
  const rng = new Rng(seed);
  const t = makeTarget(target, new Rng(seed ^ 0x5eed));
  const res: FuzzResult = { target, inputs: 0, refused: 0, exceptions: 0, mismatches: 0, findings: [], slowestMs: 0, slowestInput: '', overBudget: 0, rawSlowestMs: 0 };
  const once = (input: unknown): { ms: number; err?: unknown } => {
    const t0 = performance.now();
    try {
      t.run(input);
      return { ms: performance.now() - t0 };
    } catch (err) {
      return { ms: performance.now() - t0, err };
    }
  };
  const fixed = t.fixed ?? [];
  for (let i = 0; i < count; i++) {
    const input = i < fixed.length ? fixed[i] : t.gen(rng);
    const r = once(input);
    let ms = r.ms;
    if (ms > res.rawSlowestMs) res.rawSlowestMs = ms;
    if (ms > 1) for (let k = 0; k < 3; k++) ms = Math.min(ms, once(input).ms);
    res.inputs++;
    if (ms > res.slowestMs) {
      res.slowestMs = ms;
      res.slowestInput = t.show(input);
    }
    if (ms > BUDGET_MS) res.overBudget++;
    if (r.err === undefined) continue;
    if (t.isAllowed(r.err)) {
      res.refused++;
      continue;
    }
    const kind = r.err instanceof Mismatch ? 'mismatch' : 'exception';
    if (kind === 'mismatch') res.mismatches++;
    else res.exceptions++;
    if (res.findings.length < 5) {
      const e = r.err as Error;
      res.findings.push({ kind, error: `${e?.name ?? 'throw'}: ${e?.message ?? String(r.err)}`, input: t.show(input) });
    }
  }
  return res;
}

function parseArgs(argv: string[]): { count: number; targets: TargetName[]; seed: number } {
  let count = 10_000;
  let seed = 1;
  let targets: TargetName[] = [...TARGET_NAMES];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--count' && v) (count = Number(v)), i++;
    else if (a === '--seed' && v) (seed = Number(v)), i++;
    else if (a === '--target' && v) {
      const names = v.split(',');
      for (const n of names) if (!(TARGET_NAMES as readonly string[]).includes(n)) throw new Error(`target: unknown "${n}" (one of ${TARGET_NAMES.join(', ')})`);
      targets = names as TargetName[];
      i++;
    } else throw new Error(`usage: fuzz [--count N] [--target ${TARGET_NAMES.join('|')}[,...]] [--seed S]; got "${a}"`);
  }
  if (!Number.isInteger(count) || count < 1) throw new Error(`count: expected a positive integer, got ${count}`);
  if (!Number.isInteger(seed)) throw new Error(`seed: expected an integer, got ${seed}`);
  return { count, targets, seed };
}

function main(): void {
  const { count, targets, seed } = parseArgs(process.argv.slice(2));
  let failed = false;
  for (const name of targets) {
    const t0 = performance.now();
    const r = runFuzz(name, count, seed);
    const wall = ((performance.now() - t0) / 1000).toFixed(1);
    process.stdout.write(
      `${name.padEnd(15)} inputs ${r.inputs}  refused ${r.refused}  exceptions ${r.exceptions}  mismatches ${r.mismatches}  ` +
        `slowest ${r.slowestMs.toFixed(3)} ms (single run ${r.rawSlowestMs.toFixed(1)} ms)  over ${BUDGET_MS} ms ${r.overBudget}  (${wall} s)\n`,
    );
    process.stdout.write(`  slowest input: ${r.slowestInput.slice(0, 300)}\n`);
    for (const f of r.findings) process.stdout.write(`  ${f.kind}: ${f.error}\n    input: ${f.input.slice(0, 400)}\n`);
    if (r.exceptions || r.mismatches) failed = true;
  }
  process.exitCode = failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
