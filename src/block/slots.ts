/**
 * A ticket for one of the slots: `granted` settles once it is held; the
 * holder calls `release` exactly once. A background ticket still waiting
 * can be `raise`d to a foreground one (a read came to need its result).
 */
export interface Slot {
  readonly granted: Promise<void>;
  raise(): void;
  release(): void;
}

interface Waiter {
  background: boolean;
  grant: () => void;
}

/**
 * A counting semaphore with two classes of holders: at most `limit` at once,
 * foreground waiters (reads) served before background ones (warm-up), each
 * class in arrival order, and at most `backgroundLimit` background holders,
 * so that a read arriving while background work fills the slots still finds
 * one free. Backpressure between a fast producer and a slower consumer.
 */
export class Slots {
  private held = 0;
  private backgroundHeld = 0;
  private readonly waiting: Waiter[] = [];
  private readonly waitingBackground: Waiter[] = [];
  private readonly backgroundLimit: number;

  constructor(
    private readonly limit: number,
    backgroundLimit = limit,
  ) {
    if (!(limit >= 1)) throw new RangeError(`slots: limit must be at least 1, not ${limit}`);
    this.backgroundLimit = Math.max(1, Math.min(limit, backgroundLimit));
  }

  /** A foreground slot: resolves once held; release() it when done. */
  async acquire(): Promise<void> {
    await this.request(false).granted;
  }

  /** Releases a foreground slot taken with acquire(). */
  release(): void {
    this.held--;
    this.dispatch();
  }

  /** A ticket in either class; a background ticket may be raised while it waits. */
  request(background: boolean): Slot {
    const waiter: Waiter = { background, grant: () => {} };
    let released = false;
    const granted = new Promise<void>((resolve) => (waiter.grant = resolve));
    (background ? this.waitingBackground : this.waiting).push(waiter);
    this.dispatch();
    return {
      granted,
      raise: () => {
        const at = this.waitingBackground.indexOf(waiter);
        if (at < 0) return;
        this.waitingBackground.splice(at, 1);
        waiter.background = false;
        this.waiting.push(waiter);
        this.dispatch();
      },
      release: () => {
        if (released) return;
        released = true;
        if (waiter.background) this.backgroundHeld--;
        this.release();
      },
    };
  }

  get inUse(): number {
    return this.held;
  }

  private dispatch(): void {
    while (this.held < this.limit) {
      let next = this.waiting.shift();
      if (!next && this.backgroundHeld < this.backgroundLimit) next = this.waitingBackground.shift();
      if (!next) return;
      this.held++;
      if (next.background) this.backgroundHeld++;
      next.grant();
    }
  }
}
