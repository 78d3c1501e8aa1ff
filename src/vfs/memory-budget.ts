/**
 * One byte budget shared by all readahead of all open files. Prefetch asks
 * with tryAcquire and is dropped when the budget is spent; a reader's demand
 * block is always admitted (refusing it would stall the read) but counted.
 */
export class MemoryBudget {
  private used = 0;

  constructor(
    readonly limit: number,
    private readonly onChange?: (used: number) => void,
  ) {}

  tryAcquire(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.add(bytes);
    return true;
  }

  forceAcquire(bytes: number): void {
    this.add(bytes);
  }

  release(bytes: number): void {
    this.add(-bytes);
  }

  get inUse(): number {
    return this.used;
  }

  private add(bytes: number): void {
    this.used += bytes;
    this.onChange?.(this.used);
  }
}
