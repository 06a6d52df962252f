// The fan-out hub of one node: one LISTEN connection (opened by postgres.js,
// apart from the pool) and the set of local subscribers. A notification is a
// doorbell: the hub reads the roster deltas after the last event id it
// delivered, in id order, and hands each to every subscriber. Because it
// always reads from its cursor, a lost connection loses nothing: postgres.js
// listens again on reconnect and calls `onlisten`, and the hub reads again.
import type { Db, Sql } from '../../db/client';
import { latestEventId, rosterDeltasAfter, type RosterRow } from '../../db/queries/roster';
import type { Logger } from '../log';
import { controlChannel, presenceChannel, type ControlMessage } from './channels';

export type RosterDelta = { eventId: number; row: RosterRow };
type Listener = (delta: RosterDelta) => void;

const BATCH = 1_000;
/** After a failed read, how soon to read again. */
const RETRY_MS = 1_000;

export class Hub {
  private readonly listeners = new Set<Listener>();
  private cursor = 0;
  private draining: Promise<void> | undefined;
  private again = false;
  private unlisten: Array<() => Promise<void>> = [];
  private readonly controlListeners = new Set<(message: ControlMessage) => void>();

  constructor(private readonly deps: { sql: Sql; db: Db; log: Logger }) {}

  /** Id of the last event delivered to subscribers. */
  get lastEventId(): number {
    return this.cursor;
  }

  async start(): Promise<void> {
    if (this.unlisten.length) return;
    this.cursor = await latestEventId(this.deps.db);
    const control = await this.deps.sql.listen(controlChannel.name, (raw) => {
      const message = controlChannel.parse(raw);
      if (message) for (const listener of this.controlListeners) listener(message);
    });
    const listening = await this.deps.sql.listen(
      presenceChannel.name,
      (raw) => {
        const payload = presenceChannel.parse(raw);
        if (payload && payload.e <= this.cursor) return; // already read
        this.ring();
      },
      // Called on the first LISTEN and after every reconnect: read what was missed.
      () => this.ring(),
    );
    this.unlisten = [listening.unlisten, control.unlisten];
  }

  /** Control messages (sessions ended elsewhere, sign-outs) for this node's connections. */
  onControl(listener: (message: ControlMessage) => void): () => void {
    this.controlListeners.add(listener);
    return () => this.controlListeners.delete(listener);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
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
          const deltas = await rosterDeltasAfter(this.deps.db, { afterId: this.cursor, limit: BATCH });
          for (const delta of deltas) {
            this.cursor = delta.eventId;
            for (const listener of this.listeners) listener(delta);
          }
          if (deltas.length < BATCH) break;
        }
      } catch (error) {
        // Read again from the cursor shortly (a notification or a re-LISTEN may also ring first).
        this.deps.log.error('hub read failed', { error });
        if (this.unlisten.length) setTimeout(() => void this.ring(), RETRY_MS).unref();
      }
    } while (this.again);
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = [];
    this.listeners.clear();
    this.controlListeners.clear();
    await Promise.all(unlisten.map((u) => u().catch(() => {})));
    await this.draining;
  }
}
