/**
 * A bounded set that forgets the least recently added key once `capacity` is exceeded (duplicate filter).
 * The keys in insertion order sit in a ring, so forgetting the oldest is O(1) (a Set's first entry is not: after
 * many deletions at its front, finding it walks over their tombstones).
 */
export class BoundedSet {
  private readonly keys = new Set<string>();
  private readonly ring: (string | undefined)[];
  private head = 0;
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity: must be a positive integer, got ${capacity}`);
    this.ring = new Array<string | undefined>(capacity);
  }
  /** Adds `key`; returns false if it was already present. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    const old = this.ring[this.head];
    if (old !== undefined) this.keys.delete(old);
    this.ring[this.head] = key;
    this.head = (this.head + 1) % this.capacity;
    this.keys.add(key);
    return true;
  }
  get size(): number {
    return this.keys.size;
  }
}
