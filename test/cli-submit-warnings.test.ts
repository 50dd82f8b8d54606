// `campaign submit` prints the planner's warnings on stderr at once, e.g. an image the devices' decoders cannot hold,
// and names the campaign that already holds a device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSpec, TEST_IMAGE, TEST_PUBKEY } from './helpers/spec.js';
import { startTestApi, type TestApi } from './helpers/api-server.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
let api: TestApi;
let dir: string;
beforeAll(async () => {
  api = await startTestApi();
  dir = mkdtempSync(join(tmpdir(), 'lf-cli-warn-'));
  writeFileSync(join(dir, 'fw.img'), TEST_IMAGE);
  writeFileSync(join(dir, 'a.pub'), TEST_PUBKEY);
});
afterAll(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Asynchronous child: the API server runs in this process.
async function submit(spec: unknown, name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(spec));
  const child = spawn(process.execPath, [CLI, 'campaign', 'submit', p, '--image', join(dir, 'fw.img'), '--pubkey', join(dir, 'a.pub'), '--api', api.address], {
    env: { PATH: process.env.PATH ?? '', LORAFUOTA_API_TOKEN: api.token },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (code) => r({ code, stdout, stderr })));
}

describe('campaign submit warnings', () => {
  it('warns when the image needs more fragments than fragmentation.deviceLimits allows', async () => {
    const { imageBase64: _i, publicKeys: _k, ...spec } = makeSpec(2);
    const s = spec as Record<string, unknown> & { fragmentation?: Record<string, unknown> };
    s.fragmentation = { ...(s.fragmentation ?? {}), fragSize: 16, deviceLimits: { maxFragments: 3, maxFragSize: 16 } };
    const r = await submit(s, 'limits.json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ created: true });
    expect(r.stderr).toMatch(/^lorafuota: warning: image: needs M = \d+ fragments of 16 B, more than the 3 the devices accept/m);
  });

  it('a device already in a campaign: the error names that campaign', async () => {
    const { imageBase64: _i, publicKeys: _k, ...spec } = makeSpec(2);
    const first = await submit({ ...spec, name: 'holder campaign' }, 'a.json');
    const { id } = JSON.parse(first.stdout) as { id: string };
    const second = await submit({ ...spec, name: 'second' }, 'b.json');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`is already in an active campaign ${id} ("holder campaign")`);
  });
});
