import type { Unit } from './plan';

/**
 * One node's blocks to load, in the order listing finds them: loading takes
 * from the front while listing still adds at the back, so that a warm-up of
 * a large prefix starts loading with its first page of objects, not after
 * its last. take() waits while the queue is empty and still open.
 */
export class UnitQueue {
  private readonly units: Unit[] = [];
  private next = 0;
  private closed = false;
  private readonly waiting: Array<() => void> = [];

  /** A queue of these units and no more. */
  static of(units: Unit[]): UnitQueue {
    const queue = new UnitQueue();
    for (const unit of units) queue.push(unit);
    queue.close();
    return queue;
  }

  push(unit: Unit): void {
    this.units.push(unit);
    this.wake();
  }

  /** No more units will come: takers get what is left, then none. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Every unit pushed so far, taken or not. */
  all(): Unit[] {
    return [...this.units];
  }

  /**
   * Up to `max` units; fewer only when that is all there is, or when the
   * next one does not `join` the one before; none once the queue is closed
   * and drained.
   */
  async take(max: number, join: (last: Unit, next: Unit) => boolean = () => true): Promise<Unit[]> {
    while (this.next >= this.units.length && !this.closed) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const taken = this.units.slice(this.next, this.next + 1);
    while (taken.length < max && this.next + taken.length < this.units.length) {
      const next = this.units[this.next + taken.length];
      if (!join(taken[taken.length - 1], next)) break;
      taken.push(next);
    }
    this.next += taken.length;
    return taken;
  }

  private wake(): void {
    // Woken takers run after the code that pushed, so an object's blocks, pushed together, are taken together.
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}
