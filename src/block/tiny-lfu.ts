import { FrequencySketch } from './frequency-sketch';

/**
 * Which blocks a tier keeps: TinyLFU admission in front of LRU eviction (the
 * core of Caffeine's W-TinyLFU). Every request, hit or miss, counts in a
 * frequency sketch. While there is room, everything is admitted; when the
 * tier is full, a new block enters only if it has been asked for more often
 * than every block it would push out. A training epoch over a dataset larger
 * than the tier then keeps the blocks it already holds instead of churning
 * through all of them, which is what LRU (and S3-FIFO, whose small queue
 * degenerates to FIFO on a loop) do: docs/CACHE.md has the measurements.
 *
 * Pinned keys (`cachalot pin`) are held apart from the LRU order: never a
 * victim, never counted against a newcomer.
 *
 * The policy holds keys and sizes only; the tier moves the bytes.
 */
export class TinyLfuPolicy {
  /** Keys in LRU order: a Map iterates in insertion order, and a touch re-inserts. */
  private readonly entries = new Map<string, number>();
  /** Pinned keys and their sizes, out of the LRU order. */
  private readonly pinned = new Map<string, number>();
  private pinnedUsed = 0;
  private readonly sketch: FrequencySketch;
  private used = 0;

  constructor(
    private capacity: number,
    typicalBlockBytes: number,
  ) {
    this.sketch = new FrequencySketch(Math.max(16, Math.ceil(capacity / typicalBlockBytes)));
  }

  /** Counts a request for key, hit or miss. */
  record(key: string): void {
    this.sketch.increment(key);
  }

  /** How often key was asked for, as far as the sketch knows. */
  frequency(key: string): number {
    return this.sketch.estimate(key);
  }

  /** A hit: key becomes the most recently used. */
  touch(key: string): void {
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.entries.set(key, size);
  }

  has(key: string): boolean {
    return this.entries.has(key) || this.pinned.has(key);
  }

  /**
   * Decides whether key (size bytes) enters. If it does, it is recorded as the
   * most recently used and the keys pushed out to make room are returned (the
   * tier drops their bytes); undefined means it stays out and nothing changed.
   * The request that brought key here is expected to have been recorded.
   * `force` (a pinned block) admits it whatever the victims' frequencies.
   */
  admit(key: string, size: number, force = false): string[] | undefined {
    if (this.has(key)) {
      this.touch(key);
      return [];
    }
    // Only unpinned blocks can make room.
    if (size > this.capacity - this.pinnedUsed) return undefined;
    const victims: string[] = [];
    let room = this.capacity - this.used;
    if (room < size) {
      // The newcomer's count includes the request being served, the victims'
      // do not yet include their next one. Counted as is, in a loop over
      // equally popular blocks the newcomer beats by one the oldest block,
      // which is the next one read: one sketch overestimate then starts a
      // chain in which every miss evicts the following read, through the
      // whole tier. So the newcomer must win without its current request.
      const frequency = this.sketch.estimate(key) - 1;
      for (const [victim, victimSize] of this.entries) {
        if (!force && this.sketch.estimate(victim) >= frequency) return undefined;
        victims.push(victim);
        room += victimSize;
        if (room >= size) break;
      }
    }
    for (const victim of victims) this.remove(victim);
    this.entries.set(key, size);
    this.used += size;
    return victims;
  }

  /** Forgets key (the tier dropped it: corrupt, deleted, evicted by hand). */
  remove(key: string): void {
    const pinnedSize = this.pinned.get(key);
    if (pinnedSize !== undefined) {
      this.pinned.delete(key);
      this.pinnedUsed -= pinnedSize;
      this.used -= pinnedSize;
    }
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.used -= size;
  }

  /** Takes a held key out of the LRU order: it is never evicted until unpinned. */
  pin(key: string): void {
    const size = this.entries.get(key);
    if (size === undefined) return;
    this.entries.delete(key);
    this.pinned.set(key, size);
    this.pinnedUsed += size;
  }

  /** Puts a pinned key back into the LRU order, as the most recently used. */
  unpin(key: string): void {
    const size = this.pinned.get(key);
    if (size === undefined) return;
    this.pinned.delete(key);
    this.pinnedUsed -= size;
    this.entries.set(key, size);
  }

  /** Least recently used unpinned key; for eviction beyond the policy's own (a disk filling up). */
  oldest(): string | undefined {
    return this.entries.keys().next().value;
  }

  /** A new capacity (live reload); returns the keys that no longer fit, oldest first. */
  resize(capacity: number): string[] {
    this.capacity = capacity;
    const victims: string[] = [];
    let kept = this.used;
    for (const [key, size] of this.entries) {
      if (kept <= capacity) break;
      victims.push(key);
      kept -= size;
    }
    for (const victim of victims) this.remove(victim);
    return victims;
  }

  get usedBytes(): number {
    return this.used;
  }

  get capacityBytes(): number {
    return this.capacity;
  }

  get count(): number {
    return this.entries.size + this.pinned.size;
  }
}
