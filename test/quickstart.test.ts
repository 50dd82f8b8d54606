// `lorafuota quickstart --submit` end to end: key, image, simulator, API, worker, spec, submission, campaign to the
// end. Needs Redis (REDIS_URL or 127.0.0.1:6379) and a built dist/. Bounded: the child is killed after 240 s.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCampaignSpec } from '../src/campaign/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'lorafuota-qs-'));
let prefix: string | undefined;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  // The quick start keeps its campaign as history under its own random prefix: remove exactly those keys.
  if (!prefix?.startsWith('qs-')) return;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    for (let cursor = '0'; ; ) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      if ((cursor = next) === '0') break;
    }
  } finally {
    redis.disconnect();
  }
});

function runQuickstart(): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'quickstart', '--dir', dir, '--devices', '8', '--submit'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const kill = setTimeout(() => child.kill('SIGTERM'), 240_000);
  return new Promise((res) => child.once('exit', (code) => (clearTimeout(kill), res({ code, out, err }))));
}

describe('lorafuota quickstart', () => {
  it('starts everything, writes a valid spec, and the submitted campaign ends done with devices updated', async () => {
    const { code, out, err } = await runQuickstart();
    const lines = out.trim().split('\n');
    const info = JSON.parse(lines[0]!) as { devices: number; spec: string; sim: string; prefix: string };
    prefix = info.prefix;
    expect(info.devices).toBeGreaterThan(0);
    for (const f of ['release.key', 'release.pub', 'app.img', 'sim.json', 'spec.json']) expect(existsSync(join(dir, f)), f).toBe(true);
    const spec = parseCampaignSpec({ ...JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')), imageBase64: 'x', publicKeys: ['k'] });
    expect(spec.devices).toHaveLength(info.devices);
    expect(spec.fragmentation.fragSize).toBe(48);
    expect(JSON.parse(lines[1]!)).toMatchObject({ created: true });
    const summary = lines.find((l) => /^done: \d+\/\d+ devices updated/.test(l));
    expect(summary, `stdout:\n${out.slice(-2000)}\nstderr:\n${err.slice(-2000)}`).toBeDefined();
    const [, updated, total] = /^done: (\d+)\/(\d+)/.exec(summary!)!;
    expect(Number(total)).toBe(info.devices);
    expect(Number(updated)).toBeGreaterThan(0);
    expect(code).toBe(Number(updated) === info.devices ? 0 : 1);
  }, 300_000);
});
