// The fan-out hub of one node: one LISTEN connection (opened by postgres.js,
// apart from the pool) and, per event log, the set of local subscribers. A
// notification is a doorbell: the hub reads the log after the last event id it
// delivered, in id order, and hands each event to every subscriber. Because it
// always reads from its cursor, a lost connection loses nothing: postgres.js
// listens again on reconnect and calls `onlisten`, and the hub reads again.
// Two logs are tailed: presence (roster rows) and tickets (the ticket feed).
import type { Db, Sql } from '../../db/client';
import { latestEventId, rosterDeltasAfter, type RosterRow } from '../../db/queries/roster';
import { ticketEventsAfter, ticketLogSpan, type TicketDelta } from '../../db/queries/tickets';
import type { Logger } from '../log';
import { controlChannel, presenceChannel, ticketChannel, type ControlMessage } from './channels';

export type RosterDelta = { eventId: number; row: RosterRow };
export type { TicketDelta };

const BATCH = 1_000;
/** After a failed read, how soon to read again. */
const RETRY_MS = 1_000;

type Doorbell = { name: string };

/** One event log followed from a cursor, delivered to local subscribers in id order. */
export class LogTail<T extends { eventId: number }> {
  private readonly listeners = new Set<(event: T) => void>();
  /** Listeners of one key's events only (an agent's own view): found by key, not offered every event. */
  private readonly keyed = new Map<string, Set<(event: T) => void>>();
  private keyedCount = 0;
  private cursor = 0;
  /** When the oldest notification not yet served was heard. */
  private heardAt: number | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly deps: {
      sql: Sql;
      log: Logger;
      doorbell: Doorbell;
      latest: () => Promise<number>;
      readAfter: (afterId: number, limit: number) => Promise<T[]>;
      /** The key `subscribeTo` listeners are found by. */
      keyOf?: (event: T) => string;
      /** Seconds from a notification heard to the delivery of what it announced (for /metrics). */
      observeDelivery?: (seconds: number) => void;
    },
  ) {}

  /** Id of the last event delivered to subscribers. */
  get lastEventId(): number {
    return this.cursor;
  }

  get subscribers(): number {
    return this.listeners.size + this.keyedCount;
  }

  async start(): Promise<void> {
    if (this.unlisten) return;
    this.cursor = await this.deps.latest();
    const listening = await this.deps.sql.listen(
      this.deps.doorbell.name,
      // Every ring reads from the cursor; rings during a read fold into one more read.
      () => {
        this.heardAt ??= performance.now();
        void this.ring();
      },
      // Called on the first LISTEN and after every reconnect: read what was missed.
      () => void this.ring(),
    );
    this.unlisten = listening.unlisten;
  }

  subscribe(listener: (event: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events whose key (`keyOf`) is `key` only; a node may hold thousands of these. */
  subscribeTo(key: string, listener: (event: T) => void): () => void {
    let set = this.keyed.get(key);
    if (!set) this.keyed.set(key, (set = new Set()));
    set.add(listener);
    this.keyedCount += 1;
    const mine = set;
    return () => {
      if (!mine.delete(listener)) return;
      this.keyedCount -= 1;
      if (mine.size === 0 && this.keyed.get(key) === mine) this.keyed.delete(key);
    };
  }

  /** Reads and delivers every event after the cursor; coalesces rings that arrive meanwhile. */
  ring(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = this.drain().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        for (;;) {
          const events = await this.deps.readAfter(this.cursor, BATCH);
          for (const event of events) {
            this.cursor = event.eventId;
            for (const listener of this.listeners) this.deliver(listener, event);
            const keyed = this.deps.keyOf && this.keyed.get(this.deps.keyOf(event));
            if (keyed) for (const listener of keyed) this.deliver(listener, event);
          }
          if (events.length < BATCH) break;
        }
        if (this.heardAt !== undefined && !this.again) {
          this.deps.observeDelivery?.((performance.now() - this.heardAt) / 1000);
          this.heardAt = undefined;
        }
      } catch (error) {
        // Read again from the cursor shortly (a notification or a re-LISTEN may also ring first).
        this.deps.log.error('hub read failed', { channel: this.deps.doorbell.name, error });
        if (this.unlisten) setTimeout(() => void this.ring(), RETRY_MS).unref();
      }
    } while (this.again);
  }

  /** One subscriber's failure is its own: the others still get the event, and the cursor moves on. */
  private deliver(listener: (event: T) => void, event: T): void {
    try {
      listener(event);
    } catch (error) {
      this.deps.log.error('hub subscriber failed', { channel: this.deps.doorbell.name, eventId: event.eventId, error });
    }
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    this.listeners.clear();
    for (const set of this.keyed.values()) set.clear();
    this.keyed.clear();
    this.keyedCount = 0;
    await unlisten?.().catch(() => {});
    await this.draining;
  }
}

export class Hub {
  /** Roster rows, one per presence event. */
  readonly presence: LogTail<RosterDelta>;
  /** The ticket feed, one per ticket event. */
  readonly tickets: LogTail<TicketDelta>;
  private unlistenControl: (() => Promise<void>) | undefined;
  private readonly controlListeners = new Set<(message: ControlMessage) => void>();

  constructor(private readonly deps: { sql: Sql; db: Db; log: Logger; observeDelivery?: (log: 'presence' | 'tickets', seconds: number) => void }) {
    const { sql, db, log, observeDelivery } = deps;
    this.presence = new LogTail({
      sql,
      log,
      observeDelivery: observeDelivery && ((seconds) => observeDelivery('presence', seconds)),
      doorbell: presenceChannel,
      latest: () => latestEventId(db),
      readAfter: (afterId, limit) => rosterDeltasAfter(db, { afterId, limit }),
      keyOf: (delta) => delta.row.agentId,
    });
    this.tickets = new LogTail({
      sql,
      log,
      observeDelivery: observeDelivery && ((seconds) => observeDelivery('tickets', seconds)),
      doorbell: ticketChannel,
      latest: async () => (await ticketLogSpan(db)).latest,
      readAfter: (afterId, limit) => ticketEventsAfter(db, { afterId, limit }),
    });
  }

  async start(): Promise<void> {
    if (this.unlistenControl) return;
    const control = await this.deps.sql.listen(controlChannel.name, (raw) => {
      const message = controlChannel.parse(raw);
      if (message) for (const listener of this.controlListeners) listener(message);
    });
    this.unlistenControl = control.unlisten;
    await this.presence.start();
    await this.tickets.start();
  }

  /** Control messages (sessions ended elsewhere, sign-outs) for this node's connections. */
  onControl(listener: (message: ControlMessage) => void): () => void {
    this.controlListeners.add(listener);
    return () => this.controlListeners.delete(listener);
  }

  // The presence log, by its old names: most subscribers follow the roster.
  get lastEventId(): number {
    return this.presence.lastEventId;
  }
  subscribe(listener: (delta: RosterDelta) => void): () => void {
    return this.presence.subscribe(listener);
  }
  /** One agent's roster changes (its own view). */
  subscribeAgent(agentId: string, listener: (delta: RosterDelta) => void): () => void {
    return this.presence.subscribeTo(agentId, listener);
  }
  ring(): Promise<void> {
    return this.presence.ring();
  }
  get subscribers(): number {
    return this.presence.subscribers + this.tickets.subscribers;
  }

  async stop(): Promise<void> {
    const unlisten = this.unlistenControl;
    this.unlistenControl = undefined;
    this.controlListeners.clear();
    await Promise.all([this.presence.stop(), this.tickets.stop(), unlisten?.().catch(() => {})]);
  }
}
