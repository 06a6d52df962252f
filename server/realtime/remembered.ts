// Answers a node read from the database and keeps for a while, because they
// almost never change (which integrations have a webhook, which API keys are
// valid). Each value is kept until its own deadline, or until `forget()`,
// which a control message calls on every node when such a thing changes.
// A value read while a forget() happened is used once but not kept: it may
// have been read before the change committed.
export class Remembered<V> {
  private readonly known = new Map<string, { value: V; until: number }>();
  private generation = 0;

  /** The value kept for `key`, if its deadline has not passed. */
  get(key: string): V | undefined {
    const known = this.known.get(key);
    if (!known) return undefined;
    if (Date.now() < known.until) return known.value;
    this.known.delete(key);
    return undefined;
  }

  /** Take before reading; hand to `set` after. */
  get token(): number {
    return this.generation;
  }

  /** Keeps `value` until `until` (ms since the epoch), unless a forget() came after `token`. */
  set(key: string, value: V, until: number, token: number): void {
    if (token === this.generation) this.known.set(key, { value, until });
  }

  forget(): void {
    this.known.clear();
    this.generation += 1;
  }
}
