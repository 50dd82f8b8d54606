// `npm run bench [-- --json | --markdown [--out FILE]] [-- --only NAME[,NAME]] [-- --skip NAME[,NAME]]`: runs every
// bench/*.js module's `benches` and prints figures. A bench runs when its name contains one of the --only words (all
// when absent) and none of the --skip words. One JSON object a line with --json; markdown tables, one per module,
// with the machine on top and the benches not run listed, with --markdown (docs/figures.md is written this way).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
const markdown = args.includes('--markdown');
const listArg = (flag: string): string[] => {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag && args[i + 1]) out.push(...args[i + 1]!.split(',').filter(Boolean));
  });
  return out;
};
const only = listArg('--only');
const skip = listArg('--skip');
const outAt = args.indexOf('--out');
const outFile = outAt >= 0 ? args[outAt + 1] : undefined;
const selected = (name: string) => (only.length === 0 || only.some((w) => name.includes(w))) && !skip.some((w) => name.includes(w));

const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const fmt = (v: unknown): string => (typeof v === 'number' ? String(+v.toFixed(3)) : JSON.stringify(v));

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here).filter((f) => f.endsWith('.js') && f !== 'run.js').sort();
if (!json && !markdown) process.stdout.write(`machine: ${machine}\n`);

const sections: string[] = [];
const notRun: string[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { benches?: Bench[] };
  const rows: string[] = [];
  for (const b of mod.benches ?? []) {
    if (!selected(b.name)) {
      notRun.push(`\`${b.name}\` (${f.replace(/\.js$/, '.ts')})`);
      continue;
    }
    const r = await b.run();
    const extra = Object.entries(r).filter(([k]) => k !== 'medianMs' && k !== 'memoryBytes');
    if (json) process.stdout.write(JSON.stringify({ name: b.name, ...r }) + '\n');
    else if (markdown) {
      rows.push(`| \`${b.name}\` | ${r.medianMs.toFixed(3)} | ${r.memoryBytes ?? ''} | ${extra.map(([k, v]) => `${k} = ${fmt(v)}`).join(', ')} |`);
      process.stderr.write(`${b.name} done\n`);
    } else {
      const ex = extra.map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
      process.stdout.write(
        `${b.name.padEnd(28)} median ${r.medianMs.toFixed(3)} ms${r.memoryBytes !== undefined ? `  memory ${r.memoryBytes} B` : ''}${ex ? '  ' + ex : ''}\n`,
      );
    }
  }
  if (rows.length) {
    sections.push(`## ${f.replace(/\.js$/, '')} (\`bench/${f.replace(/\.js$/, '.ts')}\`)\n\n| Bench | Median (ms) | Memory (B) | Other figures |\n|---|---|---|---|\n${rows.join('\n')}\n`);
  }
}

if (markdown) {
  const cmd = `npm run bench -- ${args.filter((a, i) => a !== '--out' && args[i - 1] !== '--out').join(' ')}`.trim();
  const doc = `<!-- Written by \`${cmd}\`; rerun it to refresh. -->
# Figures

Machine: ${machine}. Measured ${new Date().toISOString().slice(0, 10)} with \`${cmd}\`.
Medians of repeated runs; each bench file says what it measures and with which workload. These figures depend on
the machine and on what else it runs: compare them only with figures from the same machine.

${sections.join('\n')}
${notRun.length ? `## Not run this time\n\nRun them with \`npm run bench -- --only NAME\` (some need Redis or Mosquitto, some take minutes):\n\n${notRun.map((n) => `* ${n}`).join('\n')}\n` : ''}`;
  // Figures measured apart (the long runs) follow this marker in the file and survive a regeneration.
  const MARK = '<!-- Kept across regenerations: figures measured apart. -->';
  const old = outFile && existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
  const kept = old.includes(MARK) ? old.slice(old.indexOf(MARK)) : '';
  if (outFile) writeFileSync(outFile, kept ? `${doc}\n${kept}` : doc);
  else process.stdout.write(doc);
}
