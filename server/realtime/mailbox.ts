// A subscriber's queue between the hub (push, synchronous) and a tRPC
// subscription generator (pull, async). It ends when the signal aborts.
// Bounded either way:
// - with `coalesceBy`, a subscriber that falls `coalesceAfter` items behind has
//   its pending items coalesced to the latest per key (per agent, for the
//   roster): memory stays bounded by the number of keys, and it converges to
//   the truth once it reads again;
// - without, a subscriber that falls `limit` items behind is closed with an
//   error, and its client resumes or re-reads the snapshot.

export class MailboxOverflowError extends Error {
  override name = 'MailboxOverflowError';
}

/**
 * Across the node, for metrics: deliveries replaced by a newer one for the
 * same key (`coalesced`), subscribers closed for falling behind (`overflowed`),
 * and live-view messages written straight to sockets (`framesWritten`,
 * server/realtime/frames.ts).
 */
export const deliveryStats = { coalesced: 0, overflowed: 0, framesWritten: 0 };

export type MailboxOptions<T> = { limit?: number; coalesceBy?: (item: T) => string; coalesceAfter?: number };

export class Mailbox<T> implements AsyncIterable<T> {
  private items: T[] = [];
  /** Pending items by key, oldest first, while coalescing. */
  private keyed: Map<string, T> | undefined;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private closed = false;
  private nudged = false;
  private readonly limit: number;
  private readonly coalesceAfter: number;

  constructor(
    private readonly signal: AbortSignal,
    private readonly options: MailboxOptions<T> = {},
  ) {
    this.limit = options.limit ?? 10_000;
    this.coalesceAfter = options.coalesceAfter ?? 1_000;
    signal.addEventListener('abort', () => this.close(), { once: true });
  }

  get size(): number {
    return this.keyed ? this.keyed.size : this.items.length;
  }

  push(item: T): void {
    if (this.closed) return;
    const keyOf = this.options.coalesceBy;
    if (keyOf && !this.keyed && this.items.length >= this.coalesceAfter) {
      this.keyed = new Map();
      for (const pending of this.items) this.putLatest(keyOf(pending), pending);
      this.items = [];
    }
    if (this.keyed && keyOf) {
      this.putLatest(keyOf(item), item);
    } else if (this.items.length >= this.limit) {
      deliveryStats.overflowed += 1;
      this.failure = new MailboxOverflowError(`subscriber fell more than ${this.limit} changes behind`);
      this.close();
      return;
    } else {
      this.items.push(item);
    }
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  /** Wakes the reader with nothing to take (`arrival` resolves true, `poll` gives undefined): it has other work. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /**
   * The next pending item, taken without waiting; undefined when none is
   * pending. Once the mailbox overflowed and its items are taken, throws.
   */
  poll(): T | undefined {
    const item = this.take();
    if (item === undefined && this.failure) throw this.failure;
    return item;
  }

  /**
   * Resolves once an item is pending (true) or the mailbox is closed (false).
   * With `poll`, a reader takes items without an await each, which matters
   * to a subscriber handed thousands of changes a second.
   */
  async arrival(): Promise<boolean> {
    while (this.size === 0 && !this.failure && !this.nudged) {
      if (this.closed || this.signal.aborted) return false;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    this.nudged = false;
    return true;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (await this.arrival()) {
      const item = this.poll();
      if (item !== undefined) yield item;
    }
  }

  private putLatest(key: string, item: T): void {
    if (this.keyed!.delete(key)) deliveryStats.coalesced += 1;
    this.keyed!.set(key, item); // re-inserted last: the order stays that of the latest items
  }

  private take(): T | undefined {
    if (this.keyed) {
      const first = this.keyed.entries().next();
      if (first.done) return undefined;
      this.keyed.delete(first.value[0]);
      if (this.keyed.size === 0) this.keyed = undefined; // caught up: back to delivering every item
      return first.value[1];
    }
    return this.items.shift();
  }
}
