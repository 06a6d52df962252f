// Simulated agent tabs for the fault suite: each a real tRPC WebSocket client,
// configured as the pages' client is (app/lib/trpc.ts: capped exponential
// backoff with jitter), holding a presence session as app/lib/device-session.ts
// does and heartbeating while attached. A tab that loses its socket reconnects
// by itself, to whichever node the picker (the load balancer) gives it, and
// re-subscribes with the same tab id, so the server resumes its session if it
// has not ended. Desk tabs also watch their work and accept and complete every
// offer. Everything the suite asserts on is recorded: each outage of each tab
// (when it went down, when it was attached again, to which session), and each
// heartbeat's acknowledgement time.
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { reconnectDelayMs } from '../client/retry';
import type { AppRouter } from '../trpc/router';

export type Outage = { tab: number; downAt: number; upAt?: number; before: string; after?: string };
export type Ack = { at: number; ms: number };

type Tab = {
  index: number;
  token: string;
  trpc: TRPCClient<AppRouter>;
  close: () => Promise<void>;
  sessionId: string | undefined;
  open: boolean;
  outage: Outage | undefined;
  timer: NodeJS.Timeout | undefined;
  subscription: { unsubscribe: () => void } | undefined;
  /** Stops reconnecting once its socket closes (a user who closed the tab). */
  leaving: boolean;
};

/** A ticket as desk tabs saw it: who is working on it now, and whether two ever held it at once. */
export type TicketRecord = { working: Set<number>; holders: number; heldTwice: boolean; accepted: number; completed: number };

export class TabFleet {
  private readonly tabs: Tab[] = [];
  readonly outages: Outage[] = [];
  readonly acks: Ack[] = [];
  readonly failures: Array<{ at: number; message: string }> = [];
  /** Ended notices the tabs heard, by reason. */
  readonly ended = new Map<string, number>();
  /** What desk tabs did with each ticket offered to them. */
  readonly tickets = new Map<string, TicketRecord>();
  readonly workErrors: string[] = [];
  private closed = false;

  constructor(
    private readonly options: {
      /** The load balancer: the node a (re)connecting tab reaches. */
      pick: (tab: number) => string;
      heartbeatMs: number;
      /** Tabs (by index) that also watch and work their offers. */
      desk?: ReadonlySet<number>;
      /** How long a desk tab holds an accepted ticket before completing it. */
      handleMs?: number;
      label: string;
    },
  ) {}

  get size(): number {
    return this.tabs.length;
  }

  /** Tabs attached right now. */
  get attached(): number {
    return this.tabs.filter((t) => t.open && t.sessionId).length;
  }

  sessionOf(index: number): string | undefined {
    return this.tabs[index]?.sessionId;
  }

  /** Opens a tab per token, `batch` at a time; resolves once all are attached. */
  async open(tokens: readonly string[], batch = 200, timeoutMs = 120_000): Promise<void> {
    for (let first = 0; first < tokens.length; first += batch) {
      const opened = tokens.slice(first, first + batch).map((token, k) => this.openTab(this.tabs.length + k, token));
      this.tabs.push(...opened.map((o) => o.tab));
      await within(Promise.all(opened.map((o) => o.attached)), timeoutMs, `${this.options.label}: tabs not attached within ${timeoutMs} ms`);
    }
  }

  /** Resolves once every tab that is not leaving is attached, or rejects after `timeoutMs`. */
  async allAttached(timeoutMs: number): Promise<number> {
    const started = performance.now();
    const waiting = () => this.tabs.filter((t) => !t.leaving && !(t.open && t.sessionId && !t.outage)).length;
    while (waiting() > 0) {
      if (performance.now() - started > timeoutMs) throw new Error(`${this.options.label}: ${waiting()} tabs not attached again within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return performance.now() - started;
  }

  /** The tab's user closes it as its socket next drops: it never reconnects. */
  leaveOnDisconnect(index: number): void {
    const tab = this.tabs[index];
    if (tab) tab.leaving = true;
  }

  setStatus(index: number, status: 'available' | 'busy' | 'away'): Promise<unknown> {
    const tab = this.tabs[index];
    if (!tab) return Promise.reject(new Error(`no tab ${index}`));
    return tab.trpc.presence.setStatus.mutate({ status });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.tabs.map(async (tab) => {
        clearTimeout(tab.timer);
        tab.subscription?.unsubscribe();
        await tab.close().catch(() => undefined);
      }),
    );
  }

  private openTab(index: number, token: string): { tab: Tab; attached: Promise<void> } {
    const cookie = `sb_session=${token}`;
    class TabSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols, { headers: { cookie, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36' }, perMessageDeflate: false });
      }
    }
    let resolveAttached!: () => void;
    const attached = new Promise<void>((resolve) => (resolveAttached = resolve));
    const wsClient = createWSClient({
      url: () => `${this.options.pick(index).replace(/^http/, 'ws')}/api/trpc`,
      WebSocket: TabSocket as unknown as typeof globalThis.WebSocket,
      retryDelayMs: (attempt) => reconnectDelayMs(attempt), // the pages' backoff
      onOpen: () => (tab.open = true),
      onClose: () => {
        tab.open = false;
        if (tab.sessionId && !tab.outage && !this.closed) {
          tab.outage = { tab: index, downAt: performance.now(), before: tab.sessionId };
          this.outages.push(tab.outage);
        }
        if (tab.leaving && !this.closed) {
          tab.sessionId = undefined;
          void wsClient.close();
        }
      },
    });
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
    // The socket's callbacks above run later, on its events, by when `tab` is set.
    const tab: Tab = { index, token, trpc, close: () => wsClient.close(), sessionId: undefined, open: false, outage: undefined, timer: undefined, subscription: undefined, leaving: false };
    this.holdSession(tab, resolveAttached);
    if (this.options.desk?.has(index)) this.watchWork(tab);
    return { tab, attached };
  }

  /** As the page does: hold the session; one ended by the server (timeout, node_lost) is opened again. */
  private holdSession(tab: Tab, onAttached: () => void): void {
    const ids = { deviceId: `${this.options.label}-device-${tab.index}`, sessionId: `${this.options.label}-tab-${tab.index}` };
    tab.subscription = tab.trpc.presence.session.subscribe(ids, {
      onData: (event) => {
        if (event.type === 'attached') {
          tab.sessionId = event.sessionId;
          if (tab.outage) {
            tab.outage.upAt = performance.now();
            tab.outage.after = event.sessionId;
            tab.outage = undefined;
          }
          this.schedule(tab, Math.random() * this.options.heartbeatMs);
          onAttached();
          return;
        }
        this.ended.set(event.reason, (this.ended.get(event.reason) ?? 0) + 1);
        tab.sessionId = undefined;
        clearTimeout(tab.timer);
        if (!this.closed && !tab.leaving) {
          tab.subscription?.unsubscribe();
          this.holdSession(tab, () => undefined);
        }
      },
      onError: (error) => this.failures.push({ at: performance.now(), message: `presence.session: ${error.message}` }),
    });
  }

  private schedule(tab: Tab, delayMs: number): void {
    clearTimeout(tab.timer);
    tab.timer = setTimeout(() => {
      void this.beat(tab);
      if (tab.sessionId && !this.closed) this.schedule(tab, this.options.heartbeatMs * (0.95 + Math.random() / 10));
    }, delayMs);
  }

  private async beat(tab: Tab): Promise<void> {
    // A tab whose socket is down waits for its re-attach (which resumes the heartbeats).
    const sessionId = tab.sessionId;
    if (!sessionId || !tab.open || tab.outage) return;
    const sent = performance.now();
    try {
      await tab.trpc.presence.heartbeat.mutate({ sessionId, activity: 'active' });
      this.acks.push({ at: sent, ms: performance.now() - sent });
    } catch (error) {
      if (this.closed) return;
      const message = error instanceof Error ? error.message : String(error);
      // A socket that closed under the heartbeat is an outage, counted as such.
      if (tab.outage || !tab.open) return;
      this.failures.push({ at: sent, message: `presence.heartbeat: ${message}` });
    }
  }

  private watchWork(tab: Tab): void {
    tab.trpc.work.watch.subscribe(undefined, {
      onData: ({ tickets }) => {
        for (const ticket of tickets) {
          if (ticket.state !== 'offered' && ticket.state !== 'assigned') continue;
          let record = this.tickets.get(ticket.id);
          if (!record) this.tickets.set(ticket.id, (record = { working: new Set(), holders: 0, heldTwice: false, accepted: 0, completed: 0 }));
          if (record.working.has(tab.index)) continue;
          record.working.add(tab.index);
          // An assigned ticket this tab is not working on was accepted by a request whose answer was lost with its socket: the agent sees it in their list and carries on.
          void this.work(tab, ticket.id, record, ticket.state === 'assigned');
        }
      },
      onError: (error) => this.workErrors.push(`work.watch: ${error.message}`),
    });
  }

  private async work(tab: Tab, ticketId: string, record: TicketRecord, alreadyAccepted: boolean): Promise<void> {
    let holding = false;
    try {
      if (!alreadyAccepted) await tab.trpc.work.accept.mutate({ ticketId });
      holding = true;
      record.accepted += 1;
      record.holders += 1;
      if (record.holders > 1) record.heldTwice = true;
      await new Promise((resolve) => setTimeout(resolve, this.options.handleMs ?? 500));
      await tab.trpc.work.complete.mutate({ ticketId });
      record.completed += 1;
    } catch (error) {
      if (!this.closed) this.workErrors.push(`${ticketId}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (holding) record.holders -= 1;
      // Done with it, or the offer moved on (expired, went back to the queue): it may come to this tab again.
      record.working.delete(tab.index);
    }
  }
}

function within<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** The q-quantile of `values` (sorted here), or NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}
