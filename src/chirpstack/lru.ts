/** A bounded set that forgets the least recently added key once `capacity` is exceeded (duplicate filter). */
export class BoundedSet {
  private readonly keys = new Set<string>();
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity: must be a positive integer, got ${capacity}`);
  }
  /** Adds `key`; returns false if it was already present. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value as string);
    return true;
  }
  get size(): number {
    return this.keys.size;
  }
}
