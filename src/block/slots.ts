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
  /** Background tickets of one tag are granted together when they wait together (see request). */
  tag?: string;
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
  private dispatchScheduled = false;

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

  /**
   * A ticket in either class; a background ticket may be raised while it
   * waits. Background tickets with the same tag (the blocks one GET loads)
   * are granted together, or not yet: granted one by one as slots came free,
   * their fetches went out as a GET each. A tagged ticket is looked at after
   * the current turn of the event loop, so that the others of its tag asked
   * in the same turn are waiting with it.
   */
  request(background: boolean, tag?: string): Slot {
    const waiter: Waiter = { background, tag: background ? tag : undefined, grant: () => {} };
    let released = false;
    const granted = new Promise<void>((resolve) => (waiter.grant = resolve));
    (background ? this.waitingBackground : this.waiting).push(waiter);
    if (waiter.tag === undefined) this.dispatch();
    else this.dispatchAfterTurn();
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

  private dispatchAfterTurn(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.held < this.limit) {
      const next = this.waiting.shift();
      if (next) {
        this.grant(next);
        continue;
      }
      const group = this.nextBackgroundGroup();
      if (!group) return;
      for (const waiter of group) {
        this.waitingBackground.splice(this.waitingBackground.indexOf(waiter), 1);
        this.grant(waiter);
      }
    }
  }

  /** The background tickets to grant now: the first waiting one with those of its tag, if there is room for all. */
  private nextBackgroundGroup(): Waiter[] | undefined {
    const first = this.waitingBackground[0];
    if (!first) return undefined;
    const group = first.tag === undefined ? [first] : this.waitingBackground.filter((w) => w.tag === first.tag);
    const room = Math.min(this.limit - this.held, this.backgroundLimit - this.backgroundHeld);
    if (room < 1) return undefined;
    // A group larger than the background share could never be granted whole: it takes what there is.
    if (group.length > this.backgroundLimit) return group.slice(0, room);
    return group.length <= room ? group : undefined;
  }

  private grant(waiter: Waiter): void {
    this.held++;
    if (waiter.background) this.backgroundHeld++;
    waiter.grant();
  }
}
