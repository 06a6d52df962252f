// A subscriber's queue between the hub (push, synchronous) and a tRPC
// subscription generator (pull, async). It ends when the signal aborts.
// Bounded: a subscriber that falls more than `limit` items behind is closed
// with an error, and its client resumes or re-reads the snapshot.

export class MailboxOverflowError extends Error {
  override name = 'MailboxOverflowError';
}

export class Mailbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private closed = false;

  constructor(
    private readonly signal: AbortSignal,
    private readonly limit = 10_000,
  ) {
    signal.addEventListener('abort', () => this.close(), { once: true });
  }

  push(item: T): void {
    if (this.closed) return;
    if (this.items.length >= this.limit) {
      this.failure = new MailboxOverflowError(`subscriber fell more than ${this.limit} changes behind`);
      this.close();
      return;
    }
    this.items.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.closed || this.signal.aborted) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
