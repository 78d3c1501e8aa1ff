/** Concurrent callers for the same key share one in-flight promise. */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, { promise: Promise<T>; joiners: number }>();

  /**
   * `share`, when given, is told how many callers the value went to, in the
   * same tick as the flight ends (no caller can join after it): where each
   * caller owns a reference, it takes the extra ones.
   */
  run(key: string, load: () => Promise<T>, share?: (value: T, callers: number) => void): Promise<T> {
    const pending = this.inFlight.get(key);
    if (pending) {
      pending.joiners++;
      return pending.promise;
    }
    const flight = { joiners: 1, promise: undefined as unknown as Promise<T> };
    flight.promise = load().then(
      (value) => {
        this.inFlight.delete(key);
        share?.(value, flight.joiners);
        return value;
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        throw err;
      },
    );
    this.inFlight.set(key, flight);
    return flight.promise;
  }

  /** The load under way for key, if any. */
  pending(key: string): Promise<T> | undefined {
    return this.inFlight.get(key)?.promise;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
