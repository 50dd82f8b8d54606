import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEVICE_PHASES, DEVICE_STATUSES } from '../src/campaign/model.js';
import type { DeviceState } from '../src/campaign/model.js';
import type { CampaignRecord } from '../src/store/campaign-store.js';
import { campaignListItem, campaignView, fragmentsPlanned, isSetUp, publicData } from '../src/api/campaign-view.js';

function record(data: Record<string, string> = {}): CampaignRecord {
  return {
    id: 'c1',
    name: 'n',
    stage: 'broadcast',
    createdAt: 1,
    updatedAt: 2,
    spec: { applicationId: 'app', devices: [{ devEui: 'a', lorawan: '1.0' }] } as CampaignRecord['spec'],
    data,
  };
}
const dev = (p: DeviceState['p'], s: DeviceState['s']): DeviceState => ({ p, s, t: 0, lw: '1.0' });

describe('isSetUp', () => {
  it('counts pending devices from phase ready on, and final statuses that only follow setup', () => {
    expect(DEVICE_PHASES.filter((p) => isSetUp(dev(p, 'Pending')))).toEqual(DEVICE_PHASES.slice(DEVICE_PHASES.indexOf('ready')));
    expect(DEVICE_STATUSES.filter((s) => s !== 'Pending' && isSetUp(dev('final', s)))).toEqual([
      'SessionError',
      'MissingFragments',
      'MICError',
      'ImageRejected',
      'Updated',
    ]);
  });
});

describe('fragmentsPlanned', () => {
  it('adds uncoded and initial coded fragments of the stored plan; 0 without a usable plan', () => {
    expect(fragmentsPlanned(record({ plan: JSON.stringify({ nbFrag: 120, initialCoded: 18 }) }))).toBe(138);
    expect(fragmentsPlanned(record())).toBe(0);
    expect(fragmentsPlanned(record({ plan: '{broken' }))).toBe(0);
  });
});

describe('campaignView', () => {
  it('counts every device once by status and by phase, and agrees with the progress figures', () => {
    const arb = fc.array(fc.tuple(fc.constantFrom(...DEVICE_PHASES), fc.constantFrom(...DEVICE_STATUSES)), { maxLength: 60 });
    fc.assert(
      fc.property(arb, (pairs) => {
        const devices = new Map(pairs.map(([p, s], i) => [`d${String(i).padStart(3, '0')}`, dev(p, s)]));
        const v = campaignView(record({ fragmentsSent: '7' }), devices, true);
        const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
        expect(v.devicesTotal).toBe(pairs.length);
        expect(sum(v.byStatus)).toBe(pairs.length);
        expect(sum(v.byPhase)).toBe(pairs.length);
        expect(Object.keys(v.byStatus)).toEqual([...DEVICE_STATUSES]);
        expect(v.progress.devicesUpdated).toBe(v.byStatus.Updated);
        expect(v.progress.devicesFinal).toBe(pairs.length - v.byStatus.Pending!);
        expect(v.progress.devicesSetUp).toBe(pairs.filter(([p, s]) => isSetUp(dev(p, s))).length);
        expect(v.progress.fragmentsSent).toBe(7);
        expect(v.devices.map((d) => d.devEui)).toEqual([...devices.keys()].sort());
      }),
    );
  });

  it('leaves device rows out unless asked, and the list item has no counts', () => {
    const devices = new Map([['x', dev('ready', 'Pending')]]);
    expect(campaignView(record(), devices, false).devices).toEqual([]);
    const item = campaignListItem(record());
    expect(item).toMatchObject({ id: 'c1', applicationId: 'app', devicesTotal: 1, byStatus: {}, byPhase: {}, devices: [] });
  });
});

describe('publicData', () => {
  it('drops key material and keeps the figures', () => {
    expect(publicData({ mcKey: 'aa', fragmentsSent: '3', groupId: 'g', appSKey: 'bb' })).toEqual({ fragmentsSent: '3', groupId: 'g' });
  });
});
