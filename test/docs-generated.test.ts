// The generated reference files (npm run gen) must match what the code generates now.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED, FIELD_DOCS, specRows, campaignJsonSchema } from '../scripts/gen.js';
import { parseCampaignSpec } from '../src/campaign/schema.js';

const root = join(import.meta.dirname, '..');

describe('generated docs are up to date (run `npm run gen` when this fails)', () => {
  for (const [file, make] of Object.entries(GENERATED)) {
    it(`${file} matches its generator`, () => {
      expect(readFileSync(join(root, file), 'utf8')).toBe(make());
    });
  }

  it('every spec field has a meaning in docs/campaign-spec.md', () => {
    expect(specRows().map((r) => r.path).filter((p) => !FIELD_DOCS[p])).toEqual([]);
  });

  it('docs/cli.md has a section and examples for every command', () => {
    const md = readFileSync(join(root, 'docs/cli.md'), 'utf8');
    for (const c of ['fec encode', 'keys multicast', 'uplink decode', 'image sign', 'sim', 'quickstart', 'campaign submit', 'serve', 'worker']) {
      const at = md.indexOf(`## \`lorafuota ${c}\``);
      expect(at, c).toBeGreaterThan(0);
      const next = md.indexOf('\n## ', at + 1);
      expect(md.slice(at, next < 0 ? undefined : next), c).toContain('Examples:');
    }
  });

  it('the JSON Schema agrees with zod on required fields and strictness', () => {
    const s = campaignJsonSchema() as { required: string[]; additionalProperties: boolean };
    expect([...s.required].sort()).toEqual(['applicationId', 'deviceClass', 'devices', 'imageBase64', 'name', 'publicKeys']);
    expect(s.additionalProperties).toBe(false);
    expect(() => parseCampaignSpec({ name: 'x', applicationId: 'a', imageBase64: 'x', publicKeys: ['k'], deviceClass: 'c', devices: [{ devEui: '0'.repeat(16) }], extra: 1 })).toThrow();
  });
});
