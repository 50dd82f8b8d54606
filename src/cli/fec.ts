import type { Command } from 'commander';

// `lorafuota fec encode | decode | vectors`. Heavy modules are imported inside the actions so that the CLI
// starts fast and `fec` never loads gRPC or BullMQ.

class CliError extends Error {
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
  }
}

function int(field: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new CliError(field, `must be an integer ${min}..${max}, got "${value}"`);
  return n;
}

function rule(value: string): 1 | 2 {
  if (value !== '1' && value !== '2') throw new CliError('ts004', `must be 1 or 2, got "${value}"`);
  return value === '1' ? 1 : 2;
}

/** A reader that stops early (`| head`) is not an error. */
function stdoutError(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE') process.stderr.write(`lorafuota: stdout: ${e.message}\n`);
  process.exit(e.code === 'EPIPE' ? 0 : 1);
}

/** A count, or a percentage of M rounded up ("25%"). */
function redundancy(value: string, m: number): number {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (pct) return Math.ceil((m * Number(pct[1])) / 100 - 1e-9);
  return int('redundancy', value, 0, 16383);
}

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

interface EncodeOpts { fragSize: string; redundancy: string; ts004: string; fragIndex: string }
interface DecodeOpts { nbFrag: string; fragSize: string; padding: string; ts004: string; maxLost?: string; fragIndex?: string; out?: string }

async function encode(file: string, o: EncodeOpts): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const { fecEncode, FecError } = await import('../codec/fec.js');
  const fragSize = int('frag-size', o.fragSize, 1, 255);
  const fragIndex = int('frag-index', o.fragIndex, 0, 3);
  let data: Uint8Array;
  try {
    data = readFileSync(file);
  } catch (e) {
    throw new CliError('FILE', `cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const r = fecEncode(data, { fragSize, redundancy: redundancy(o.redundancy, Math.ceil(data.length / fragSize)), rule: rule(o.ts004) });
    for (const w of r.warnings) process.stderr.write(`lorafuota: warning: ${w}\n`);
    // Hex-encode every command straight into one output buffer, written once.
    const out = Buffer.allocUnsafe(r.fragments.length * (2 * (fragSize + 3) + 1));
    let at = 0;
    const put = (byte: number): void => {
      out[at++] = HEX[byte >>> 4]!;
      out[at++] = HEX[byte & 15]!;
    };
    r.fragments.forEach((p, i) => {
      const indexAndN = (fragIndex << 14) | (i + 1);
      put(0x08);
      put(indexAndN & 0xff);
      put(indexAndN >>> 8);
      for (let j = 0; j < p.length; j++) put(p[j]!);
      out[at++] = 0x0a;
    });
    process.stdout.on('error', stdoutError);
    process.stdout.write(out);
  } catch (e) {
    if (e instanceof FecError && e.field === 'data') throw new CliError('FILE', e.reason);
    if (e instanceof FecError && e.field === 'fragSize') throw new CliError('frag-size', e.reason);
    throw e;
  }
}

async function decode(o: DecodeOpts): Promise<void> {
  const { createInterface } = await import('node:readline');
  const { writeFileSync } = await import('node:fs');
  const { FragDecoder, FragDecoderError } = await import('../device/frag-decoder.js');
  const nbFrag = int('nb-frag', o.nbFrag, 1, 16383);
  const fragSize = int('frag-size', o.fragSize, 1, 255);
  const padding = int('padding', o.padding, 0, fragSize - 1);
  const maxLost = o.maxLost === undefined ? nbFrag : int('max-lost', o.maxLost, 0, nbFrag);
  const fixedIndex = o.fragIndex === undefined ? undefined : int('frag-index', o.fragIndex, 0, 3);
  const ts004 = rule(o.ts004);
  const d = new FragDecoder({ maxNbFrag: nbFrag, maxFragSize: fragSize, maxLost });
  let lineNo = 0;
  let consumed = 0;
  for await (const raw of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    lineNo++;
    const line = raw.trim();
    if (line === '' || d.status === 'done' || d.status === 'memoryError') continue; // drain the rest
    if (!/^([0-9a-fA-F]{2})+$/.test(line)) throw new CliError(`line ${lineNo}`, 'not an even-length hex string');
    const cmd = Buffer.from(line, 'hex');
    if (d.status === 'idle') {
      // Without --frag-index the session is the first fragment's.
      d.begin({ fragIndex: fixedIndex ?? (cmd.length >= 3 ? cmd[2]! >>> 6 : 0), nbFrag, fragSize, padding, rule: ts004 });
    }
    consumed++;
    try {
      d.pushDataFragment(cmd);
    } catch (e) {
      if (e instanceof FragDecoderError) throw new CliError(`line ${lineNo}: ${e.field}`, e.reason);
      throw e;
    }
  }
  const recovered = d.status === 'done';
  const s = d.stats;
  if (d.status === 'memoryError') process.stderr.write(`lorafuota: max-lost: more than ${maxLost} uncoded fragments lost at once (memory error)\n`);
  if (recovered) {
    if (o.out) writeFileSync(o.out, d.block());
    else process.stdout.on('error', stdoutError).write(d.block());
  }
  const summary = { recovered, consumedFragments: recovered ? s.consumed : consumed, doneAtN: s.doneAtN, rank: s.rank, memoryBytes: d.memoryBytes };
  process.stderr.write(JSON.stringify(summary) + '\n');
  if (!recovered) process.exitCode = 2;
}

async function vectors(o: { out: string }): Promise<void> {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { buildVectorSet } = await import('../device/frag-vectors.js');
  mkdirSync(o.out, { recursive: true });
  for (const [name, text] of buildVectorSet()) {
    writeFileSync(join(o.out, name), text);
    process.stdout.write(join(o.out, name) + '\n');
  }
}

/** Registers the `fec` command group. */
export function register(program: Command): void {
  const fec = program.command('fec').description('TS004 fragmentation with FEC: encode a file, decode a stream, write test vectors');
  fec
    .command('encode <FILE>')
    .description('print every DataFragment (N = 1..M+R) as a lowercase hex line')
    .requiredOption('--frag-size <F>', 'payload bytes per fragment (1..255)')
    .requiredOption('--redundancy <R>', 'coded fragments: a count, or a percentage of M rounded up (25%)')
    .option('--ts004 <1|2>', 'parity rule: TS004 v1.0.0 or v2.0.0', '1')
    .option('--frag-index <I>', 'FragIndex 0..3', '0')
    .action((file: string, o: EncodeOpts) => encode(file, o));
  fec
    .command('decode')
    .description('read DataFragment hex lines from stdin, write the block; JSON summary on stderr (exit 0 recovered, 2 not, 1 bad input)')
    .requiredOption('--nb-frag <M>', 'uncoded fragments')
    .requiredOption('--frag-size <F>', 'payload bytes per fragment')
    .requiredOption('--padding <P>', 'padding bytes in fragment M')
    .option('--ts004 <1|2>', 'parity rule', '1')
    .option('--max-lost <L>', 'decoder memory: lost uncoded fragments it can hold (default M)')
    .option('--frag-index <I>', 'session FragIndex (default: the first fragment\'s)')
    .option('-o, --out <OUT>', 'output file (default stdout)')
    .action((o: DecodeOpts) => decode(o));
  fec
    .command('vectors')
    .description('write a JSON TS004 vector set (v1 and v2, loss patterns with our decoder\'s outcome) and a README.md')
    .requiredOption('--out <DIR>', 'output directory')
    .action((o: { out: string }) => vectors(o));
}
