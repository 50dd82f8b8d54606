import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FragDecoder } from '../src/device/frag-decoder.js';
import { oracleFullRankAt, rng } from './fec-oracle.js';

const dir = mkdtempSync(join(tmpdir(), 'lorafuota-fec-'));
const cli = (args: string[], input?: string | Buffer) => {
  const r = spawnSync('node', ['dist/src/cli/main.js', 'fec', ...args], { input, maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, err: r.stderr.toString() };
};
const summaryOf = (err: string) => JSON.parse(err.trim().split('\n').at(-1)!);

const rand = rng(42);
const file = join(dir, 'block.bin');
const data = Buffer.from(Uint8Array.from({ length: 2000 }, () => Math.floor(rand() * 256))); // M = 40 at FragSize 50

beforeAll(() => writeFileSync(file, data));

describe('lorafuota fec encode', () => {
  it('prints one DataFragment per line, N = 1..M+R, lowercase hex; 25% of M rounded up', () => {
    const r = cli(['encode', file, '--frag-size', '50', '--redundancy', '25%', '--frag-index', '2']);
    expect(r.code).toBe(0);
    const lines = r.out.toString().trimEnd().split('\n');
    expect(lines).toHaveLength(50);
    expect(lines[0]).toBe('080180' + data.subarray(0, 50).toString('hex')); // IndexAndN = 2 << 14 | 1, LE
    expect(lines[49]!.slice(0, 6)).toBe('083280');
    expect(lines.every((l) => /^[0-9a-f]{106}$/.test(l))).toBe(true);
  });

  it('warns on stderr about degenerate blocks', () => {
    const tiny = join(dir, 'tiny.bin');
    writeFileSync(tiny, Buffer.from([1, 2, 3, 4, 5]));
    const r = cli(['encode', tiny, '--frag-size', '16', '--redundancy', '3']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^lorafuota: warning: nbFrag = 1/);
    expect(r.out.toString().trimEnd().split('\n')).toEqual(['080100' + '0102030405' + '00'.repeat(11), ...[2, 3, 4].map((n) => `080${n}00` + '00'.repeat(16))]);
  });

  it('rejects bad options with the field and reason, exit 1', () => {
    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, '');
    const cases: [string[], RegExp][] = [
      [['encode', file, '--frag-size', '0', '--redundancy', '1'], /^lorafuota: frag-size: must be an integer 1\.\.255/],
      [['encode', file, '--frag-size', '10', '--redundancy', '16200'], /^lorafuota: redundancy: M \+ R = 200 \+ 16200 exceeds 16383/],
      [['encode', file, '--frag-size', '10', '--redundancy', 'x'], /^lorafuota: redundancy: must be an integer/],
      [['encode', file, '--frag-size', '10', '--redundancy', '1', '--ts004', '3'], /^lorafuota: ts004: must be 1 or 2/],
      [['encode', empty, '--frag-size', '10', '--redundancy', '1'], /^lorafuota: FILE: is empty/],
      [['encode', join(dir, 'nope'), '--frag-size', '10', '--redundancy', '1'], /^lorafuota: FILE: cannot read/],
    ];
    for (const [args, re] of cases) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toMatch(re);
    }
  });
});

describe('lorafuota fec decode', () => {
  const encoded = (rule: string) =>
    cli(['encode', file, '--frag-size', '50', '--redundancy', '20', '--ts004', rule]).out.toString().trimEnd().split('\n');

  it.each(['1', '2'])('round trip through child processes with shuffled, lossy input (rule %s), exit 0', (rule) => {
    const lines = encoded(rule);
    const r2 = rng(Number(rule));
    const order = lines.map((_, i) => i + 1).filter((n) => n % 7 !== 3).sort(() => r2() - 0.5);
    const expectAt = oracleFullRankAt(order, 40, rule === '1' ? 1 : 2);
    expect(expectAt).toBeGreaterThan(0);
    const out = join(dir, `out${rule}.bin`);
    const r = cli(['decode', '--nb-frag', '40', '--frag-size', '50', '--padding', '0', '--ts004', rule, '-o', out], order.map((n) => lines[n - 1]).join('\n') + '\n');
    expect(r.code).toBe(0);
    expect(readFileSync(out).equals(data)).toBe(true);
    const s = summaryOf(r.err);
    expect(Object.keys(s)).toEqual(['recovered', 'consumedFragments', 'doneAtN', 'rank', 'memoryBytes']);
    expect(s).toMatchObject({ recovered: true, consumedFragments: expectAt + 1, doneAtN: order[expectAt] });
    expect(s.memoryBytes).toBe(FragDecoder.memoryBytes({ maxNbFrag: 40, maxFragSize: 50, maxLost: 40 }));
  });

  it('writes the block to stdout without -o', () => {
    const r = cli(['decode', '--nb-frag', '40', '--frag-size', '50', '--padding', '0'], encoded('1').join('\n'));
    expect(r.code).toBe(0);
    expect(r.out.equals(data)).toBe(true);
    expect(summaryOf(r.err)).toMatchObject({ recovered: true, consumedFragments: 40, doneAtN: 40, rank: 0 });
  });

  it('exit 2 with recovered false when the input ends before full rank, or memory runs out', () => {
    const lines = encoded('1').filter((_, i) => i >= 25); // 25 uncoded lost, only 20 coded
    const r = cli(['decode', '--nb-frag', '40', '--frag-size', '50', '--padding', '0'], lines.join('\n'));
    expect(r.code).toBe(2);
    expect(r.out.length).toBe(0);
    expect(summaryOf(r.err)).toMatchObject({ recovered: false, consumedFragments: 35, doneAtN: null });
    const m = cli(['decode', '--nb-frag', '40', '--frag-size', '50', '--padding', '0', '--max-lost', '3'], encoded('1').slice(5).join('\n'));
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/^lorafuota: max-lost: /);
    expect(summaryOf(m.err)).toMatchObject({ recovered: false, doneAtN: null });
  });

  it('exit 1 on bad input lines and options', () => {
    const ok = encoded('1');
    const cases: [string[], string, RegExp][] = [
      [['--padding', '0'], `${ok[0]}\nzz\n`, /^lorafuota: line 2: not an even-length hex string/],
      [['--padding', '0'], `${ok[0]!.slice(0, -2)}\n`, /^lorafuota: line 1: payload: must be 50 bytes/],
      [['--padding', '0', '--frag-index', '1'], `${ok[0]}\n`, /^lorafuota: line 1: DataFragment.fragIndex: is 0, the session is 1/],
      [['--padding', '50'], '', /^lorafuota: padding: must be an integer 0\.\.49/],
    ];
    for (const [args, input, re] of cases) {
      const r = cli(['decode', '--nb-frag', '40', '--frag-size', '50', ...args], input);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toMatch(re);
    }
  });
});

describe('lorafuota fec vectors', () => {
  it('writes v1 and v2 session files and a README whose outcomes replay through a fresh decoder', () => {
    const out = join(dir, 'vectors');
    const r = cli(['vectors', '--out', out]);
    expect(r.code).toBe(0);
    const files = readdirSync(out);
    expect(files).toContain('README.md');
    const sessions = files.filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')));
    expect(new Set(sessions.map((s) => s.ts004Version))).toEqual(new Set(['1.0.0', '2.0.0']));
    for (const s of sessions) {
      const rule = s.ts004Version === '2.0.0' ? 2 : 1;
      const { M, fragSize } = s.params;
      expect(s.lossPatterns.length).toBeGreaterThanOrEqual(6);
      for (const p of s.lossPatterns) {
        const exp = rule === 2 ? p.expectedWithV2Decoder : p.expected;
        const order: number[] = Array.isArray(p.arrivalOrder) ? p.arrivalOrder : s.fragments.map((f: { n: number }) => f.n).filter((n: number) => !p.lostN.includes(n));
        const at = oracleFullRankAt(order, M, rule);
        expect(exp.recovered, `${s.id} ${p.name}`).toBe(at >= 0);
        expect(exp.consumedFragments).toBe(at >= 0 ? at + 1 : order.length);
        if (at >= 0) expect(exp.doneAtN).toBe(order[at]);
        expect(s.fragments[order[0]! - 1].dataFragmentHex).toHaveLength(2 * (fragSize + 3));
      }
    }
  });
});
