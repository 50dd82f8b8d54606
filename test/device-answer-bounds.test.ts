// Device stack bounds: the answer queue is bounded per received frame and per device, and a TS006 reboot time
// beyond what DevRebootTimeAns can carry is answered as an error instead of failing the uplink.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS } from '../src/codec/frame.js';
import { AnswerQueue, DEFAULT_MAX_PER_FRAME, DEFAULT_MAX_QUEUED } from '../src/device/answer-queue.js';
import { STACKS, T0, collect, makeDevice, send } from './device-harness.js';

describe('answer queue bounds', () => {
  it.each(STACKS)('$profile v$v: a frame of 242 PackageVersionReq queues at most the per-frame bound', (stack) => {
    const dev = makeDevice(stack);
    collect(dev, stack.v, T0, T0 + 10_000); // the boot AppTimeReq
    const before = dev.droppedAnswers;
    dev.receiveUnicast(DEFAULT_PORTS.ts006, new Uint8Array(242), T0 + 20_000);
    expect(dev.snapshot().pendingAnswers).toBe(DEFAULT_MAX_PER_FRAME);
    expect(dev.droppedAnswers - before).toBe(242 - DEFAULT_MAX_PER_FRAME);
    for (let i = 1; i < 5; i++) dev.receiveUnicast(DEFAULT_PORTS.ts006, new Uint8Array(242), T0 + 20_000 + i);
    expect(dev.snapshot().pendingAnswers).toBe(DEFAULT_MAX_QUEUED);
    const heard = collect(dev, stack.v, T0 + 20_000, T0 + 60_000);
    expect(heard.flatMap((h) => h.commands)).toHaveLength(DEFAULT_MAX_QUEUED);
    expect(dev.snapshot().pendingAnswers).toBe(0);
  });

  it.each(STACKS)('$profile v$v: an AppTimeReq refused by a full queue is asked again at the next resync', (stack) => {
    const dev = makeDevice(stack);
    collect(dev, stack.v, T0, T0 + 10_000); // the boot AppTimeReq
    const full = T0 + 20_000;
    dev.receiveUnicast(DEFAULT_PORTS.ts006, new Uint8Array(242), full);
    dev.receiveUnicast(DEFAULT_PORTS.ts006, new Uint8Array(242), full + 1);
    expect(dev.snapshot().pendingAnswers).toBe(DEFAULT_MAX_QUEUED);
    send(dev, stack.v, 'ts003', [{ type: stack.v === 2 ? 'ForceDeviceResyncCmd' : 'ForceDeviceResyncReq', nbTransmissions: 1 }], full + 2);
    collect(dev, stack.v, full, full + 60_000);
    send(dev, stack.v, 'ts003', [{ type: stack.v === 2 ? 'ForceDeviceResyncCmd' : 'ForceDeviceResyncReq', nbTransmissions: 1 }], full + 70_000);
    const heard = collect(dev, stack.v, full + 70_000, full + 130_000).flatMap((h) => h.commands);
    expect(heard.map((c) => c.type)).toEqual(['AppTimeReq']);
  });

  it('counts refused answers and frees room as answers leave', () => {
    const q = new AnswerQueue({ maxQueued: 3, maxPerFrame: 2 });
    const a = (n: number) => ({ fPort: 203, readyAt: 0, build: () => Uint8Array.of(n) });
    q.forFrame(() => {
      expect([q.push(a(1)), q.push(a(2)), q.push(a(3))]).toEqual([true, true, false]);
    });
    expect(q.push(a(4))).toBe(true); // outside a frame only the device bound applies
    expect(q.push(a(5))).toBe(false);
    expect([q.length, q.dropped]).toEqual([3, 2]);
    expect([...q.takeFrame(0, () => 242)!.data]).toEqual([1, 2, 4]);
    expect(q.push(a(6))).toBe(true);
  });

  it('an answer whose build throws is dropped and the next one still leaves', () => {
    const q = new AnswerQueue();
    q.push({ fPort: 203, readyAt: 0, build: () => { throw new RangeError('u32 overflow'); } });
    q.push({ fPort: 203, readyAt: 1, build: () => Uint8Array.of(9) });
    expect([...q.takeFrame(5, () => 51)!.data]).toEqual([9]);
    expect([q.length, q.dropped]).toEqual([0, 1]);
  });
});

describe('DevRebootTimeAns range', () => {
  it.each(STACKS.filter((s) => s.v === 1))('$profile: a reboot time more than 2^32 s away is answered 0 and not programmed', (stack) => {
    const dev = makeDevice(stack);
    collect(dev, stack.v, T0, T0 + 10_000);
    // The largest negative correction puts the device clock ~22 years before GPS epoch (reads negative).
    send(dev, stack.v, 'ts003', [{ type: 'AppTimeAns', timeCorrection: -0x80000000, tokenAns: 0 }], T0 + 20_000);
    expect(dev.snapshot().clockSynced).toBe(true);
    send(dev, stack.v, 'ts006', [{ type: 'DevRebootTimeReq', rebootTime: 0xfffffffe }], T0 + 30_000);
    const heard = collect(dev, stack.v, T0 + 30_000, T0 + 60_000);
    expect(heard.flatMap((h) => h.commands)).toEqual([{ type: 'DevRebootTimeAns', rebootTime: 0 }]);
    expect(dev.rebootAtMs).toBeNull();
    expect(dev.droppedAnswers).toBe(0);
  });
});
