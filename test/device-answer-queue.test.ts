// AnswerQueue properties: every answer leaves exactly once, never before it is ready, frames respect the cap and
// hold one port; an answer larger than the cap leaves as an empty frame (LoRaMac-node's behaviour).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AnswerQueue } from '../src/device/answer-queue.js';

describe('AnswerQueue', () => {
  it('delivers each answer once, after its ready time, in frames within the cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ fPort: fc.integer({ min: 200, max: 203 }), size: fc.integer({ min: 1, max: 20 }), readyAt: fc.integer({ min: 0, max: 100 }) }), { maxLength: 30 }),
        fc.integer({ min: 9, max: 51 }),
        (answers, cap) => {
          const q = new AnswerQueue();
          const sentAt = new Map<number, number>();
          answers.forEach((a, id) => {
            q.push({ fPort: a.fPort, readyAt: a.readyAt, build: () => new Uint8Array(a.size).fill(id), onSent: (t) => sentAt.set(id, t) });
          });
          let empty = 0;
          for (let t = 0; t <= 200; t++) {
            for (let f = q.takeFrame(t, () => cap); f; f = q.takeFrame(t, () => cap)) {
              expect(f.data.length).toBeLessThanOrEqual(cap);
              if (f.data.length === 0) empty++;
              for (const id of new Set(f.data)) {
                expect(answers[id]!.fPort).toBe(f.fPort);
                expect(answers[id]!.readyAt).toBeLessThanOrEqual(t);
              }
            }
          }
          const oversize = answers.filter((a) => a.size > cap).length;
          expect(empty).toBe(oversize);
          expect(sentAt.size).toBe(answers.length - oversize);
          expect(q.length).toBe(0);
        },
      ),
    );
  });

  it('cancel drops only tagged answers that are not ready yet', () => {
    const q = new AnswerQueue();
    for (const readyAt of [5, 10, 20]) q.push({ fPort: 201, readyAt, tag: 'x', build: () => Uint8Array.of(readyAt) });
    q.push({ fPort: 201, readyAt: 30, build: () => Uint8Array.of(30) });
    expect(q.cancel('x', 10)).toBe(1);
    expect([q.takeFrame(100, () => 1)?.data[0], q.takeFrame(100, () => 1)?.data[0], q.takeFrame(100, () => 1)?.data[0]]).toEqual([5, 10, 30]);
    expect(q.takeFrame(100, () => 1)).toBeNull();
  });
});
