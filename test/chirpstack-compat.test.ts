/**
 * The compatibility matrix of the README (§8 "Compatibility test matrix"): whole campaigns in virtual time against
 * the simulated ChirpStack as v4.12 and v4.19 behave (5 s Class C margin, gateways without GPS that enforce their
 * duty cycle, duplicate members refused, rows deleted on TX ack), with 1, 2 and 3 gateways and both
 * `repeater_compatible` settings; the key-scope rows (admin and tenant keys over gRPC) are in
 * test/chirpstack-compat-grpc.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { HARNESS_GATEWAYS, PipelineHarness } from './helpers/pipeline-harness.js';

const TARGET = 0x01010000;

function campaignChecks(h: PipelineHarness, gateways: number): void {
  expect(h.state.error ?? '').toBe('');
  expect(h.state.stage).toBe('done');
  expect(h.byStatus()).toEqual({ Updated: h.devices.size });
  for (const d of h.sim) expect(d.state.runningVersion).toBe(TARGET);
  const rec = h.groupRecord()!;
  // Nothing refused by a gateway's duty cycle, nothing too large for the region config, nothing expired.
  expect(rec.rejected).toEqual([]);
  expect(rec.discarded).toEqual([]);
  expect(rec.expired).toEqual([]);
  // Every gateway sent every fragment, each once.
  const ns = h.fragmentsOnAir();
  expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => i + 1));
  for (const gw of HARNESS_GATEWAYS.slice(0, gateways)) expect(h.fragmentSends(gw).map((f) => f.fragN)).toEqual(ns);
  expect(h.cs.groups.size).toBe(0);
}

describe('compatibility matrix: ChirpStack version x gateways x repeater_compatible (Class C, 5 s margin, duty cycle enforced)', () => {
  for (const version of ['4.12', '4.19'] as const) {
    for (const gateways of [1, 2, 3]) {
      for (const repeaterCompatible of [false, true]) {
        it(`v${version}, ${gateways} gateway(s), repeater_compatible ${repeaterCompatible}: every device updated, nothing lost to ChirpStack`, () => {
          const h = new PipelineHarness({ devices: 12, loss: 0.1, seed: 100 + gateways * 10 + (repeaterCompatible ? 1 : 0) + (version === '4.12' ? 5 : 0), gateways, chirpstackVersion: version, repeaterCompatible });
          // The planner sizes fragments from the same region config ChirpStack applies (222 B at DR5 when repeater compatible).
          expect(h.state.groups[0].plan.fragSize).toBe(repeaterCompatible ? 219 : 239);
          expect(h.state.groups[0].plan.fragmentIntervalMs).toBe(gateways * 5000);
          h.run();
          campaignChecks(h, gateways);
        });
      }
    }
  }

  it('a fragment sized for the non-repeater table is discarded by a repeater-compatible ChirpStack (why the spec option must match)', () => {
    const h = new PipelineHarness({ devices: 4, loss: 0, seed: 7, gateways: 1, repeaterCompatible: true, spec: (s) => ({ ...s, multicast: { ...s.multicast, repeaterCompatible: false } }) });
    h.run({ until: (x) => x.fragmentsOnAir().length > 0 || (x.groupRecord()?.discarded.length ?? 0) > 0, maxMs: 3600_000 });
    expect(h.groupRecord()!.discarded.length).toBeGreaterThan(0);
    expect(h.cs.log.some((l) => /exceeds max\. payload size/.test(l))).toBe(true);
  });
});

describe('pacing: planner ETA against the simulated broadcast', () => {
  for (const gateways of [1, 3]) {
    it(`Class C with ${gateways} gateway(s): the initial broadcast takes the planned time within 10 %`, () => {
      const h = new PipelineHarness({ devices: 10, loss: 0.1, seed: 300 + gateways, gateways, imageBytes: 8192 });
      const plan = h.state.groups[0].plan;
      h.run();
      expect(h.state.stage).toBe('done');
      const burst = plan.nbFrag + plan.initialCoded;
      const first = h.fragmentSends(HARNESS_GATEWAYS[0]).filter((f) => f.fragN! <= burst);
      expect(first).toHaveLength(burst);
      const simulatedMs = first.at(-1)!.atMs - first[0]!.atMs + plan.fragmentIntervalMs;
      const plannedMs = burst * plan.fragmentIntervalMs;
      expect(Math.abs(simulatedMs - plannedMs) / plannedMs).toBeLessThanOrEqual(0.1);
      // The last gateway sends each fragment (G - 1) margins after the first, never closer than its duty cycle.
      const last = h.fragmentSends(HARNESS_GATEWAYS[gateways - 1]);
      for (let i = 1; i < last.length; i++) expect(last[i]!.atMs - last[i - 1]!.atMs).toBeGreaterThanOrEqual(plan.fragmentAirtimeMs / plan.dutyCycle);
    });
  }
});

describe('group set-up is idempotent and never silent', () => {
  it('re-running the group stage with every member already added succeeds (ChirpStack answers INTERNAL duplicate key)', () => {
    const h = new PipelineHarness({ devices: 8, loss: 0.1, seed: 401, gateways: 2 });
    h.run({ until: (x) => x.state.groups[0].ready === true });
    const groupId = h.state.groups[0].groupId!;
    expect(h.cs.groups.get(groupId)!.devices.size).toBe(8);
    // The group's fill landed but its answer was lost: the set-up is carried out again with the group id kept.
    h.state = { ...h.state, groups: [{ ...h.state.groups[0], ready: false }] };
    h.stepOnce();
    expect(h.duplicateMembers).toBe(8 + 2);
    expect(h.state.groups[0].ready).toBe(true);
    expect(h.cs.groups.size).toBe(1);
    h.run();
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 8 });
  });

  it('refuses, before any fragment, a group without gateways whose devices ChirpStack never heard', () => {
    const h = new PipelineHarness({ devices: 6, loss: 0, seed: 402, gateways: 2, namedGateways: false });
    // ChirpStack keeps no uplink history for these devices (e.g. they were heard through another network server).
    for (const d of h.cs.devices.values()) {
      Object.defineProperty(d, 'lastSeenAtMs', { get: () => undefined, set: () => undefined });
      Object.defineProperty(d, 'lastGateways', { get: () => [], set: () => undefined });
    }
    h.run();
    expect(h.state.stage).toBe('failed');
    expect(h.state.error).toMatch(/^multicast\.gatewayIds: empty, and none of the 6 devices has an uplink in ChirpStack/);
    expect(h.effects.some((e) => e.effect.kind === 'fragment')).toBe(false);
    expect(h.cs.groups.size).toBe(0);
    expect(h.isReleased).toBe(true);
  });

  it('a group without gateways goes on through the gateways that heard its devices (ChirpStack picks them)', () => {
    const h = new PipelineHarness({ devices: 6, loss: 0.1, seed: 403, gateways: 2, namedGateways: false });
    h.idle(10 * 60_000); // every device uplinked at least once
    h.run();
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 6 });
    expect(h.events.filter((e) => e.type === 'warning' && /gatewayIds/.test(String(e.warning)))).toEqual([]);
  });

  it('warns about a 1.0.x profile with supports_class_c (ChirpStack makes such devices Class C at join)', () => {
    const h = new PipelineHarness({ devices: 2, loss: 0, seed: 404, gateways: 1, profileClassC: true });
    h.run({ until: (x) => x.state.stage === 'setup' });
    expect(h.events.filter((e) => e.type === 'warning').map((e) => e.warning)).toEqual([expect.stringMatching(/supports_class_c is set on a LoRaWAN 1\.0\.3 profile/)]);
  });
});
