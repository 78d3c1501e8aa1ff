/** Concurrent callers for the same key share one in-flight promise. */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const promise = load().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  /** The load under way for key, if any. */
  pending(key: string): Promise<T> | undefined {
    return this.inFlight.get(key);
  }

  get size(): number {
    return this.inFlight.size;
  }
}
