import { describe, expect, it } from 'vitest';
import { BoundedSet } from '../src/chirpstack/lru.js';

describe('BoundedSet (duplicate filter)', () => {
  it('refuses a key it holds and forgets the oldest beyond its capacity', () => {
    const s = new BoundedSet(3);
    expect(['a', 'b', 'c'].map((k) => s.add(k))).toEqual([true, true, true]);
    expect(s.add('a')).toBe(false);
    expect(s.add('d')).toBe(true); // forgets a
    expect(s.size).toBe(3);
    expect(s.add('a')).toBe(true); // forgets b
    expect(s.add('c')).toBe(false);
    expect(s.add('b')).toBe(true);
  });
  it('keeps exactly the last `capacity` keys over many turns of its ring', () => {
    const s = new BoundedSet(100);
    for (let i = 0; i < 100_000; i++) s.add(`k${i}`);
    expect(s.size).toBe(100);
    expect(s.add('k99999')).toBe(false);
    expect(s.add('k99900')).toBe(false);
    expect(s.add('k99899')).toBe(true);
  });
});
