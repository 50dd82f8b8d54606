import { describe, expect, it } from 'vitest';
import type { CampaignMsg } from '../src/api/proto.js';
import { duration, failureBreakdown, formatStatus, localIso, versionText } from '../src/cli/progress.js';

function campaign(over: Partial<CampaignMsg> = {}): CampaignMsg {
  return {
    id: 'c1',
    name: 'soil',
    stage: 'broadcast',
    createdAt: Date.UTC(2026, 11, 3, 15, 0, 0),
    updatedAt: Date.UTC(2026, 11, 3, 15, 5, 0),
    error: '',
    applicationId: 'app',
    devicesTotal: 4,
    byStatus: { Pending: 2, Updated: 1, MissingFragments: 1, Timeout: 0 },
    byPhase: { listening: 2, final: 2 },
    data: {
      plan: JSON.stringify({ nbFrag: 420, fragSize: 219, initialCoded: 63, maxCoded: 630, etaSeconds: 1800, fragmentAirtimeMs: 368.9 }),
      fragmentsSent: '644',
      targetN: '644',
      rounds: '2',
      airtimeMs: '237571.6',
      bStartMs: '123',
      lossCap: '0.18322981366459623',
      mcPending: '',
    },
    progress: { devicesSetUp: 4, fragmentsSent: 644, fragmentsPlanned: 644, devicesUpdated: 1, devicesFinal: 2 },
    devices: [],
    ...over,
  };
}

describe('human CLI output', () => {
  it('formats times, durations and versions', () => {
    expect(localIso(Date.UTC(2026, 11, 3, 15, 0, 5), 60)).toBe('2026-12-03T16:00:05+01:00');
    expect(localIso(Date.UTC(2026, 11, 3, 15, 0, 5), -330)).toBe('2026-12-03T09:30:05-05:30');
    expect(localIso(Date.UTC(2026, 11, 3, 15, 0, 5), 0)).toBe('2026-12-03T15:00:05Z');
    expect(localIso(0)).toBe('-');
    expect([duration(42.4), duration(185), duration(3725)]).toEqual(['42 s', '3 min 05 s', '1 h 02 min']);
    expect([versionText(0x01010000), versionText(0x01020003), versionText(undefined)]).toEqual(['1.1.0', '1.2.3', '-']);
  });

  it('campaign status: one clock, ETA and elapsed, fragments sent of scheduled, no internal fields', () => {
    const now = Date.UTC(2026, 11, 3, 15, 10, 0);
    const out = formatStatus(campaign(), now);
    const start = localIso(Date.UTC(2026, 11, 3, 15, 0, 0));
    expect(out).toContain(`started      ${start}\n`);
    expect(out).toContain('elapsed      10 min 00 s\n');
    expect(out).toContain(`ETA          ${localIso(Date.UTC(2026, 11, 3, 15, 30, 0))} (in 20 min 00 s)\n`);
    expect(out).toContain('devices      4: 1 updated, 1 failed, 2 pending (4 set up)\n');
    expect(out).toContain('fragments    644 sent of 644 scheduled (420 uncoded + 224 coded, at most 1050), 2 repair rounds\n');
    expect(out).toContain('plan         M = 420 fragments of 219 B, 63 coded in the first broadcast, 368.9 ms on air each\n');
    expect(out).toContain('airtime      237.6 s of multicast, summed over gateways\n');
    expect(out).not.toMatch(/bStartMs|lossCap|mcPending|0x0/);
    const done = formatStatus(campaign({ stage: 'done' }), now);
    expect(done).toContain('took         5 min 00 s\n');
    expect(done).toContain('(planned 30 min 00 s)');
  });

  it('groups failures by status and reason, most frequent first', () => {
    const dev = (status: string, reason: string) => ({ devEui: 'x', status, phase: 'final', reason, updatedAt: 1 });
    const c = campaign({
      devices: [dev('Updated', 'running 1.1.0'), dev('MissingFragments', 'block not reassembled'), dev('Timeout', ''), dev('MissingFragments', 'block not reassembled'), dev('Pending', '')],
    });
    expect(failureBreakdown(c)).toBe('failures by reason:\n  2  MissingFragments: block not reassembled\n  1  Timeout\n');
    expect(failureBreakdown(campaign())).toBe('');
  });
});
