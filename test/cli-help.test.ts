// The CLI explains itself: examples and required marks in every help, commander's errors as `lorafuota: <what>: <why>`.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatCommanderError, walk } from '../src/cli/help.js';
import { buildProgram } from '../src/cli/program.js';

const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });

describe('commander errors', () => {
  it('are rewritten field first', () => {
    expect(formatCommanderError("error: unknown option '--bogus'\n")).toBe('lorafuota: --bogus: unknown option\n');
    expect(formatCommanderError("error: unknown option '--frag-siz'\n(Did you mean --frag-size?)\n")).toBe('lorafuota: --frag-siz: unknown option\n(Did you mean --frag-size?)\n');
    expect(formatCommanderError("error: required option '--frag-size <F>' not specified\n")).toBe('lorafuota: --frag-size: required option not specified\n');
    expect(formatCommanderError("error: option '--port <port>' argument missing\n")).toBe('lorafuota: --port: argument missing\n');
    expect(formatCommanderError("error: missing required argument 'spec'\n")).toBe('lorafuota: spec: missing required argument\n');
    expect(formatCommanderError("error: unknown command 'nope'\n")).toBe('lorafuota: nope: unknown command\n');
    expect(formatCommanderError('error: something new\n')).toBe('lorafuota: something new\n');
  });

  it('reach stderr with exit status 1 from the real binary', () => {
    const a = cli('fec', 'encode', 'x.bin', '--frag-size', '48', '--redundancy', '1', '--bogus');
    expect(a.status).toBe(1);
    expect(a.stderr).toBe('lorafuota: --bogus: unknown option\n');
    const b = cli('image', 'sign', 'app.bin');
    expect(b.status).toBe(1);
    expect(b.stderr).toBe('lorafuota: --key: required option not specified\n');
    const c = cli('campaign', 'submit');
    expect(c.stderr).toBe('lorafuota: spec: missing required argument\n');
    expect(cli('frobnicate').stderr).toBe('lorafuota: frobnicate: unknown command\n');
  });
});

describe('help texts', () => {
  const program = buildProgram();
  const leaves = walk(program).filter(({ cmd }) => cmd.name() !== 'help');

  it('every command has examples', () => {
    const without = leaves.filter(({ cmd }) => !helpWithHooks(cmd).includes('Examples:')).map((l) => l.path || '(root)');
    expect(without).toEqual([]);
  });

  it('required options say so', () => {
    const bad = leaves.flatMap(({ path, cmd }) => cmd.options.filter((o) => o.mandatory && !o.description.startsWith('(required)')).map((o) => `${path} ${o.long}`));
    expect(bad).toEqual([]);
    const sign = leaves.find((l) => l.path === 'image sign')!.cmd;
    expect(sign.options.find((o) => o.long === '--key')!.description).toMatch(/^\(required\) /);
    const worker = leaves.find((l) => l.path === 'worker')!.cmd;
    expect(worker.options.find((o) => o.long === '--chirpstack-token')!.description).toMatch(/^\(required.*CHIRPSTACK_API_TOKEN/);
  });

  it('sim takes its uplink interval in seconds, speed-up 400 by default, and the decoder limits', () => {
    const sim = leaves.find((l) => l.path === 'sim')!.cmd;
    expect(sim.options.find((o) => o.long === '--uplink-interval')!.flags).toBe('--uplink-interval <s>');
    expect(sim.options.find((o) => o.long === '--speedup')!.description).toMatch(/default 400/);
    for (const f of ['--max-fragments', '--max-frag-size', '--max-lost']) expect(sim.options.some((o) => o.long === f), f).toBe(true);
  });
});

function helpWithHooks(cmd: import('commander').Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}
