/**
 * Reliability of the campaign pipeline's pure core (harness in virtual time, hand-built steps): a device ChirpStack
 * does not know fails alone; every path to a final stage cleans up; a step that keeps failing ends the campaign.
 */
import { describe, expect, it } from 'vitest';
import { step } from '../src/campaign/step.js';
import { PipelineHarness } from './helpers/pipeline-harness.js';
import { euiOf, handDevices, handState, NOW } from './helpers/hand-state.js';

const UNKNOWN = 'ffffffffffff0001';

describe('one DevEUI ChirpStack does not know, among 20', () => {
  const h = new PipelineHarness({
    devices: 19,
    loss: 0.1,
    seed: 91,
    spec: (s) => ({ ...s, devices: [...(s.devices ?? []), { devEui: UNKNOWN }] }),
  });
  h.run();

  it('ends done with 19 Updated and the unknown one DeviceNotFound, with its reason', () => {
    expect(h.state.error ?? '').toBe('');
    expect(h.state.stage).toBe('done');
    expect(h.byStatus()).toEqual({ Updated: 19, DeviceNotFound: 1 });
    const d = h.devices.get(UNKNOWN)!;
    expect(d).toMatchObject({ s: 'DeviceNotFound', p: 'final' });
    expect(d.r).toMatch(/NOT_FOUND/);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'device', devEui: UNKNOWN, status: 'DeviceNotFound' }));
    expect(h.unicastsTo(UNKNOWN)).toEqual([]);
  });

  it('does not add the failed device again when the group stage is repeated', () => {
    const s = { ...h.state, stage: 'group' as const };
    const devices = new Map([...h.devices].map(([eui, d]) => [eui, eui === UNKNOWN ? d : { p: 'discover' as const, s: 'Pending' as const, t: h.now, lw: d.lw }]));
    const r = step({ state: s, devices, answers: [], now: h.now });
    const fill = r.effects.find((e) => e.kind === 'fillGroup');
    expect(fill?.kind === 'fillGroup' && fill.devEuis).not.toContain(UNKNOWN);
    expect(fill?.kind === 'fillGroup' && fill.devEuis.length).toBe(19);
  });
});

describe('a step that kept failing (abort)', () => {
  it('ends failed naming the error, with the clean-up of a cancel', () => {
    const s = { ...handState('broadcast', { devices: 2 }), abort: 'step failed 8 times in a row: boom' };
    const devices = handDevices(2, { p: 'listening' });
    const r = step({ state: s, devices, answers: [], now: NOW });
    expect(r.state.stage).toBe('failed');
    expect(r.state.error).toBe('step failed 8 times in a row: boom');
    expect(r.nextAt).toBeNull();
    expect(r.effects.map((e) => e.kind)).toEqual(['deleteGroup', 'flushDeviceQueue', 'flushDeviceQueue', 'reply', 'reply', 'reply', 'reply', 'release']);
    for (const d of r.devices.values()) expect(d).toMatchObject({ s: 'Cancelled', p: 'final', r: 'campaign failed: step failed 8 times in a row: boom' });
    expect(euiOf(0)).toBe([...r.devices.keys()][0]);
  });
});
