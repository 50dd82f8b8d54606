// `lorafuota sim` decoder-limit flags and the uplink interval in seconds (needs a build).
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { Provisioning } from '../src/sim/runner.js';

describe('lorafuota sim decoder limits and units', () => {
  it('prints the decoder limits it gave the devices (defaults 512 x 64 B, 256 lost)', async () => {
    for (const [args, want] of [
      [[], { maxFragments: 512, maxFragSize: 64, maxLost: 256 }],
      [['--max-fragments', '100', '--max-frag-size', '32', '--max-lost', '40', '--uplink-interval', '30'], { maxFragments: 100, maxFragSize: 32, maxLost: 40 }],
    ] as const) {
      const child = spawn('node', ['dist/src/cli/main.js', 'sim', '--devices', '2', '--grpc', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      for await (const c of child.stdout) {
        out += c;
        if (out.includes('\n')) break;
      }
      const prov = JSON.parse(out.split('\n')[0]!) as Provisioning;
      expect(prov.decoderLimits).toEqual(want);
      expect(prov.speedup).toBe(400);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    }
  });

  it('refuses values out of range, naming the flag and the unit', () => {
    for (const [args, msg] of [
      [['--uplink-interval', '90000'], 'lorafuota: --uplink-interval: must be a number in 1..86400, got "90000"'],
      [['--max-fragments', '0'], 'lorafuota: --max-fragments: must be an integer in 1..16383, got "0"'],
      [['--max-frag-size', '251'], 'lorafuota: --max-frag-size: must be an integer in 1..250, got "251"'],
    ] as const) {
      const r = spawnSync('node', ['dist/src/cli/main.js', 'sim', '--grpc', '127.0.0.1:0', ...args], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(msg);
    }
  });
});
