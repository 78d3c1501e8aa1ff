import type { CachalotError } from '../errors';
import type { ListedObject } from './types';

/** An object, or a common prefix (a string), in the order S3 listed them. */
export type ListingEntry = ListedObject | string;

/**
 * One listing of one folder as meta got it from S3. It grows page by page
 * while the listing is under way, and a reader waits only for the entries it
 * asks for, so the first page of a large folder goes out as soon as S3 has
 * sent it (and within the asker's deadline) rather than once the whole folder
 * is listed.
 */
export class ListingSnapshot {
  readonly entries: ListingEntry[] = [];
  /** When the listing completed or failed; undefined while it is under way. */
  finishedAt: number | undefined;
  failure: CachalotError | undefined;
  lastReadAt: number;
  private wake: () => void = () => {};
  private changed = this.nextChange();

  constructor(
    readonly id: number,
    /** The folder's cache key: bucket, delimiter and prefix. */
    readonly folder: string,
    now: number,
  ) {
    this.lastReadAt = now;
  }

  get underWay(): boolean {
    return this.finishedAt === undefined;
  }

  append(entries: ListingEntry[]): void {
    for (const entry of entries) this.entries.push(entry);
    this.signal();
  }

  complete(now: number): void {
    this.finishedAt = now;
    this.signal();
  }

  /** Readers get the failure from now on; the entries are let go. */
  fail(failure: CachalotError, now: number): void {
    this.failure = failure;
    this.finishedAt = now;
    this.entries.length = 0;
    this.signal();
  }

  /** Up to max entries from offset, once the listing holds them or has ended; rejects when it failed. */
  async read(offset: number, max: number): Promise<ListingEntry[]> {
    while (this.underWay && this.entries.length < offset + max) await this.changed;
    if (this.failure) throw this.failure;
    return this.entries.slice(offset, offset + max);
  }

  private signal(): void {
    const wake = this.wake;
    this.changed = this.nextChange();
    wake();
  }

  private nextChange(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }
}
