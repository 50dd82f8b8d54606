// `lorafuota worker --chirpstack-version` / CHIRPSTACK_VERSION (dist/, build first): a version that is not a
// ChirpStack v4 release is refused at once, naming the flag or the variable, before any connection is tried.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 10_000 });
}

describe('lorafuota worker --chirpstack-version', () => {
  it('is listed in the help', () => {
    expect(run(['worker', '--help']).stdout).toMatch(/--chirpstack-version <version>/);
  });

  it('refuses a version that is not ChirpStack v4, naming the flag or the variable', () => {
    const flag = run(['worker', '--chirpstack-version', '5.0', '--redis', 'redis://127.0.0.1:1'], { CHIRPSTACK_API_TOKEN: 't' });
    expect(flag.status).toBe(1);
    expect(flag.stderr).toBe('lorafuota: chirpstack-version: expected a ChirpStack v4 version such as 4.12 or 4.19, got "5.0"\n');
    const env = run(['worker', '--redis', 'redis://127.0.0.1:1'], { CHIRPSTACK_API_TOKEN: 't', CHIRPSTACK_VERSION: 'latest' });
    expect(env.status).toBe(1);
    expect(env.stderr).toMatch(/^lorafuota: CHIRPSTACK_VERSION: expected a ChirpStack v4 version/);
  });
});
