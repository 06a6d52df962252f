// The agents of the routing benchmark: one tRPC WebSocket client per agent
// (server/testing/clients.ts: the product's client library, the agent's
// session cookie), holding a presence.session — a live device, so the agent is
// available — and subscribed to work.watch. An offer that shows up in the
// agent's list is accepted at once, and the ticket completed after a random
// handle time. Agents are spread over the nodes in turn (even-numbered on the
// first, odd on the second). What the clients saw and when
// (performance.now(), the ticket driver's clock too) is kept by ticket id.
import { performance } from 'node:perf_hooks';
import { socketClient, type SocketClient } from '../server/testing/clients';

export type HandleTime = { minMs: number; maxMs: number };

/** One ticket as the agents saw it: when its offer appeared, and when the agent's answers came back. */
export type Handled = {
  agent: number;
  offerSeenAt: number;
  acceptAnsweredAt?: number;
  completeSentAt?: number;
  completeAnsweredAt?: number;
  /** Why the agent could not take or finish it. */
  failed?: string;
};

export class AgentDesk {
  /** By ticket id. */
  readonly handled = new Map<string, Handled>();
  /** Failed accepts and completes and subscription errors, by message. */
  readonly errors = new Map<string, number>();
  /** An offer of a ticket that another agent's client had already been offered. */
  reoffers = 0;
  /** work.watch (re)starts: one per agent unless a socket reconnected. */
  watchStarts = 0;
  /** Device sessions opened again after the server ended them (timeout, node_lost). */
  sessionsRenewed = 0;
  private readonly clients: Array<SocketClient | undefined>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly options: {
      /** Node base URLs (http://…); agent i uses urls[i % urls.length]. */
      urls: readonly string[];
      tokens: readonly string[];
      handleTime: HandleTime;
      attachTimeoutMs: number;
    },
  ) {
    this.clients = options.tokens.map(() => undefined);
  }

  private nodeOf(index: number): number {
    return index % this.options.urls.length;
  }

  /** Connects every agent, `batchSize` at a time; resolves once each is watching its work, or failed. */
  async connectAll(batchSize: number): Promise<{ connected: number; failures: Map<string, number>; seconds: number }> {
    const started = performance.now();
    const failures = new Map<string, number>();
    let connected = 0;
    for (let first = 0; first < this.clients.length; first += batchSize) {
      const indexes = Array.from({ length: Math.min(batchSize, this.clients.length - first) }, (_, i) => first + i);
      for (const result of await Promise.allSettled(indexes.map((i) => this.connect(i)))) {
        if (result.status === 'fulfilled') connected += 1;
        else {
          const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
          failures.set(reason, (failures.get(reason) ?? 0) + 1);
        }
      }
    }
    return { connected, failures, seconds: (performance.now() - started) / 1000 };
  }

  /** Tickets whose completion was answered. */
  get completed(): number {
    let n = 0;
    for (const h of this.handled.values()) if (h.completeAnsweredAt !== undefined) n += 1;
    return n;
  }

  /** Stops answering and closes every socket. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.clients.map((client) => client?.close().catch(() => undefined)));
    this.clients.fill(undefined);
  }

  private async connect(index: number): Promise<void> {
    const token = this.options.tokens[index];
    const url = this.options.urls[this.nodeOf(index)];
    if (!token || !url) throw new Error(`no agent ${index}`);
    const client = socketClient(url, `sb_session=${token}`, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36');
    const tag = String(index).padStart(5, '0');
    try {
      await this.within(`not attached within ${this.options.attachTimeoutMs} ms`, (resolve, reject) =>
        this.holdSession(client, tag, resolve, reject),
      );
      await this.within(`work.watch sent nothing within ${this.options.attachTimeoutMs} ms`, (resolve, reject) =>
        client.trpc.work.watch.subscribe(undefined, {
          onStarted: () => (this.watchStarts += 1),
          onData: ({ tickets }) => {
            resolve();
            this.onWork(index, client, tickets);
          },
          onError: (error) => {
            this.error(`work.watch: ${error.message}`);
            reject(new Error(`work.watch: ${error.message}`));
          },
        }),
      );
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
    this.clients[index] = client;
  }

  /**
   * Holds the agent's device session as the product's client does: a session
   * the server ends for `timeout` or `node_lost` is opened again at once.
   */
  private holdSession(client: SocketClient, tag: string, attached: () => void, failed: (error: Error) => void): void {
    client.trpc.presence.session.subscribe(
      { deviceId: `bench-routing-device-${tag}`, sessionId: `bench-routing-session-${tag}` },
      {
        onData: (event) => {
          if (event.type === 'attached') attached();
          else if (event.type === 'ended') {
            this.error(`presence session ended: ${event.reason}`);
            if (!this.closed && (event.reason === 'timeout' || event.reason === 'node_lost')) {
              this.sessionsRenewed += 1;
              this.holdSession(client, tag, () => undefined, () => undefined);
            }
          }
        },
        onError: (error) => failed(new Error(`presence.session: ${error.message}`)),
      },
    );
  }

  /** Runs `start` (which subscribes) and waits for it to resolve, at most attachTimeoutMs. */
  private within(timeoutMessage: string, start: (resolve: () => void, reject: (error: Error) => void) => unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(timeoutMessage)), this.options.attachTimeoutMs);
      start(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** The agent's current offers and tickets: each new offer is taken on at once. */
  private onWork(index: number, client: SocketClient, tickets: ReadonlyArray<{ id: string; state: string }>): void {
    const now = performance.now();
    for (const ticket of tickets) {
      if (ticket.state !== 'offered') continue;
      const known = this.handled.get(ticket.id);
      if (known) {
        if (known.agent !== index) this.reoffers += 1;
        continue;
      }
      const record: Handled = { agent: index, offerSeenAt: now };
      this.handled.set(ticket.id, record);
      void this.work(client, ticket.id, record);
    }
  }

  /** Accepts, holds the ticket for a random handle time, completes. */
  private async work(client: SocketClient, ticketId: string, record: Handled): Promise<void> {
    try {
      await client.trpc.work.accept.mutate({ ticketId });
      record.acceptAnsweredAt = performance.now();
    } catch (error) {
      record.failed = this.error(`work.accept: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const { minMs, maxMs } = this.options.handleTime;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, minMs + Math.random() * (maxMs - minMs));
      this.timers.add(timer);
    });
    if (this.closed) return;
    record.completeSentAt = performance.now();
    try {
      await client.trpc.work.complete.mutate({ ticketId });
      record.completeAnsweredAt = performance.now();
    } catch (error) {
      record.failed = this.error(`work.complete: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Counts an error (unless closing) and returns its message. */
  private error(message: string): string {
    const key = message.slice(0, 200);
    if (!this.closed) this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    return key;
  }
}
