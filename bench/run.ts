// `npm run bench [-- --json] [-- --only NAME]`: runs every bench/*.js module's `benches` and prints figures.
// Each module exports `benches: Bench[]` (bench/delta.ts: delta and compressed images on ../shared/firmware); one JSON object a line with --json.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpus, totalmem } from 'node:os';

export interface BenchResult {
  medianMs: number;
  memoryBytes?: number;
  [extra: string]: unknown;
}
export interface Bench {
  name: string;
  run(): Promise<BenchResult> | BenchResult;
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here).filter((f) => f.endsWith('.js') && f !== 'run.js').sort();
if (!json) {
  process.stdout.write(`machine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`);
}
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { benches?: Bench[] };
  for (const b of mod.benches ?? []) {
    if (only && !b.name.includes(only)) continue;
    const r = await b.run();
    if (json) process.stdout.write(JSON.stringify({ name: b.name, ...r }) + '\n');
    else {
      const extra = Object.entries(r)
        .filter(([k]) => k !== 'medianMs' && k !== 'memoryBytes')
        .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(3) : JSON.stringify(v)}`)
        .join(' ');
      process.stdout.write(
        `${b.name.padEnd(28)} median ${r.medianMs.toFixed(3)} ms${r.memoryBytes !== undefined ? `  memory ${r.memoryBytes} B` : ''}${extra ? '  ' + extra : ''}\n`,
      );
    }
  }
}
