// Every campaign spec in examples/ validates against the zod schema and the planner accepts its geometry.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCampaignSpec, type CampaignSpec } from '../src/campaign/schema.js';
import { planGroup } from '../src/campaign/group-plan.js';
import { defaultKey } from '../src/campaign/grouping.js';

const dir = join(import.meta.dirname, '..', 'examples');
const specs = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** The plan of the spec's own group (its region, class and parity rule), as submission makes it. */
function plan(spec: CampaignSpec, imageBytes: number) {
  return planGroup(spec, defaultKey(spec), imageBytes);
}

describe('examples/*.json', () => {
  it('holds the four documented examples', () => {
    expect(specs).toEqual(expect.arrayContaining(['class-b-eu868.json', 'class-c-eu868.json', 'ts004-v2-fleet.json', 'us915.json']));
  });

  for (const f of specs) {
    it(`${f} validates and plans a 64 KiB image`, () => {
      const spec = parseCampaignSpec(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      expect(spec.devices.length).toBeGreaterThan(0);
      const p = plan(spec, 64 * 1024);
      expect(p.nbFrag).toBe(Math.ceil((64 * 1024) / p.fragSize));
      expect(p.warnings.filter((w) => w.includes('deviceLimits'))).toEqual([]);
    });
  }

  it('class B example asks for a Class B session, the v2 example for the v2 parity rule', () => {
    const b = parseCampaignSpec(JSON.parse(readFileSync(join(dir, 'class-b-eu868.json'), 'utf8')));
    expect(b.multicast.groupType).toBe('B');
    const v2 = parseCampaignSpec(JSON.parse(readFileSync(join(dir, 'ts004-v2-fleet.json'), 'utf8')));
    expect(v2.fragmentation.ts004Version).toBe(2);
  });
});

describe('planner deviceLimits', () => {
  const base = parseCampaignSpec(JSON.parse(readFileSync(join(dir, 'class-c-eu868.json'), 'utf8')));
  const withLimits = (l: { maxFragments?: number; maxFragSize?: number }, fragSize?: number): CampaignSpec => ({
    ...base,
    fragmentation: { ...base.fragmentation, deviceLimits: l, ...(fragSize ? { fragSize } : {}) },
  });

  it('picks the largest fragment the devices accept when fragSize is absent', () => {
    expect(plan(withLimits({ maxFragSize: 64 }), 20_000).fragSize).toBe(64);
    expect(plan(base, 20_000).fragSize).toBe(239);
  });

  it('warns when the image needs more fragments than the devices accept (the simulator: 512 of 64 B)', () => {
    const p = plan(withLimits({ maxFragments: 512, maxFragSize: 64 }), 50 * 1024);
    expect(p.nbFrag).toBe(800);
    expect(p.warnings.some((w) => w.startsWith('image: needs M = 800 fragments of 64 B, more than the 512'))).toBe(true);
  });

  it('warns when fragSize exceeds what the devices accept', () => {
    const p = plan(withLimits({ maxFragSize: 64 }, 200), 20_000);
    expect(p.warnings.some((w) => w.startsWith('fragmentation.fragSize: 200 B exceeds the 64 B'))).toBe(true);
  });

  it('refuses a malformed deviceLimits naming the field', () => {
    expect(() => parseCampaignSpec({ ...JSON.parse(readFileSync(join(dir, 'class-c-eu868.json'), 'utf8')), fragmentation: { deviceLimits: { maxFragments: 0 } } })).toThrow(
      /fragmentation\.deviceLimits\.maxFragments: /,
    );
  });
});
