// The fan-out benchmark's bookkeeping, for either system: each status change
// the driver sends (its agent, when it was sent, the version the server
// answered with) and each event a subscriber receives (agent, version, event
// id when the system has them, when received). From them: change-to-delivery
// latencies, lost deliveries (an answered change some subscriber never
// received), and order violations, overall and by slice of the sending window
// (a queue that builds up shows as latency growing slice by slice). Times are
// passed in (performance.now() of the one process that sends and receives), so
// this holds no clock.
import { summarize, type LatencySummary } from './lib/latency';

export type ChangeAnswer = { changed: boolean; version: number };

type Change = {
  agentId: string;
  /** Node (0 or 1) the agent's socket is on. */
  node: number;
  sentAt: number;
  answeredAt: number;
  version: number;
  state: 'pending' | 'changed' | 'unchanged' | 'failed';
};

type Subscriber = {
  node: number;
  /** Highest version seen per agent (the snapshot's, then each event's). */
  versions: Map<string, number>;
  lastEventId: number;
  events: number;
  /** Events that repeat the agent's current version. */
  duplicates: number;
  /** Events older than the agent's current version. */
  versionRegressions: number;
  /** Events whose id is not above the previous one. */
  eventIdRegressions: number;
  /** Events with any of the three faults above (each counted once). */
  outOfOrder: number;
};

/** Changes sent within one slice of the window: their answers and deliveries. */
export type Slice = { fromMs: number; sent: number; answer: LatencySummary; delivery: LatencySummary };

export type LedgerResult = {
  /** Change-to-delivery latency of every expected delivery that arrived, ms. */
  latenciesMs: number[];
  /** The same, split by whether the subscriber is on the node the change was sent to. */
  sameNodeMs: number[];
  crossNodeMs: number[];
  /** From sending a change to its answer (the write), ms. */
  answerMs: number[];
  sent: number;
  changed: number;
  unchanged: number;
  failed: number;
  stillPending: number;
  failures: Record<string, number>;
  subscribers: number;
  /** Expected deliveries (changed × subscribers) and how many arrived. */
  expected: number;
  delivered: number;
  lost: number;
  outOfOrder: number;
  duplicates: number;
  versionRegressions: number;
  eventIdRegressions: number;
  /** Events received that match no answered change (other changes, or ones whose answer failed). */
  unexpected: number;
  /** Every event the subscribers received. */
  events: number;
  slices: Slice[];
};

const keyOf = (agentId: string, version: number) => `${agentId}:${version}`;

export class Ledger {
  private readonly changes: Change[] = [];
  /** Answered changes by agent and version. */
  private readonly answered = new Map<string, number>();
  /** Per agent and version, when each subscriber received it (NaN: not yet). */
  private readonly receipts = new Map<string, Float64Array>();
  private readonly subscribers: Subscriber[];
  private readonly failures = new Map<string, number>();
  private pending = 0;
  private expectedChanges = 0;
  /** Receipts that match an answered change (each subscriber and change once). */
  private matched = 0;

  /** `subscriberNodes[i]` is the node (0 or 1) subscriber i is connected to. */
  constructor(subscriberNodes: readonly number[]) {
    this.subscribers = subscriberNodes.map((node) => ({
      node,
      versions: new Map(),
      lastEventId: 0,
      events: 0,
      duplicates: 0,
      versionRegressions: 0,
      eventIdRegressions: 0,
      outOfOrder: 0,
    }));
  }

  /** A change is sent to the agent's node at `at`; returns the handle to answer it with. */
  sent(agentId: string, node: number, at: number): number {
    this.pending += 1;
    return this.changes.push({ agentId, node, sentAt: at, answeredAt: Number.NaN, version: 0, state: 'pending' }) - 1;
  }

  answer(handle: number, answer: ChangeAnswer, at: number): void {
    const change = this.changes[handle];
    if (!change || change.state !== 'pending') return;
    this.pending -= 1;
    change.answeredAt = at;
    change.version = answer.version;
    if (!answer.changed) {
      change.state = 'unchanged';
      return;
    }
    change.state = 'changed';
    this.expectedChanges += 1;
    const key = keyOf(change.agentId, answer.version);
    this.answered.set(key, handle);
    // Deliveries may arrive before the answer does.
    for (const time of this.receipts.get(key) ?? []) if (!Number.isNaN(time)) this.matched += 1;
  }

  fail(handle: number, reason: string): void {
    const change = this.changes[handle];
    if (!change || change.state !== 'pending') return;
    this.pending -= 1;
    change.state = 'failed';
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  /** What subscriber `index` starts from (a snapshot row): later events must be newer. */
  knows(index: number, agentId: string, version: number, eventId?: number): void {
    const subscriber = this.subscribers[index];
    if (!subscriber) throw new Error(`no subscriber ${index}`);
    subscriber.versions.set(agentId, version);
    if (eventId !== undefined) subscriber.lastEventId = Math.max(subscriber.lastEventId, eventId);
  }

  received(index: number, event: { agentId: string; version: number; eventId?: number }, at: number): void {
    const subscriber = this.subscribers[index];
    if (!subscriber) throw new Error(`no subscriber ${index}`);
    subscriber.events += 1;
    let disorder = false;
    const last = subscriber.versions.get(event.agentId);
    if (last !== undefined && event.version === last) {
      subscriber.duplicates += 1;
      disorder = true;
    } else if (last !== undefined && event.version < last) {
      subscriber.versionRegressions += 1;
      disorder = true;
    } else {
      subscriber.versions.set(event.agentId, event.version);
    }
    if (event.eventId !== undefined) {
      if (event.eventId <= subscriber.lastEventId) {
        subscriber.eventIdRegressions += 1;
        disorder = true;
      } else {
        subscriber.lastEventId = event.eventId;
      }
    }
    if (disorder) subscriber.outOfOrder += 1;

    const key = keyOf(event.agentId, event.version);
    let times = this.receipts.get(key);
    if (!times) {
      times = new Float64Array(this.subscribers.length).fill(Number.NaN);
      this.receipts.set(key, times);
    }
    if (Number.isNaN(times[index])) {
      times[index] = at;
      if (this.answered.has(key)) this.matched += 1;
    }
  }

  /** Changes not answered yet. */
  get inFlight(): number {
    return this.pending;
  }

  /** Expected deliveries that have not arrived (yet). */
  get outstanding(): number {
    return this.expectedChanges * this.subscribers.length - this.matched;
  }

  /** Every change answered and every answered change delivered to every subscriber. */
  get complete(): boolean {
    return this.pending === 0 && this.outstanding === 0;
  }

  /** The tally; `slicing` cuts the changes by when they were sent (from `startAt`, `sliceMs` each). */
  result(slicing: { startAt: number; sliceMs: number }): LedgerResult {
    const sliced: Array<{ sent: number; answerMs: number[]; deliveryMs: number[] }> = [];
    const sliceOf = (change: Change) => {
      const index = Math.max(0, Math.floor((change.sentAt - slicing.startAt) / slicing.sliceMs));
      while (sliced.length <= index) sliced.push({ sent: 0, answerMs: [], deliveryMs: [] });
      return sliced[index] ?? { sent: 0, answerMs: [], deliveryMs: [] };
    };
    const latenciesMs: number[] = [];
    const sameNodeMs: number[] = [];
    const crossNodeMs: number[] = [];
    const answerMs: number[] = [];
    let lost = 0;
    const count = { changed: 0, unchanged: 0, failed: 0, pending: 0 };
    for (const change of this.changes) {
      count[change.state] += 1;
      const slice = sliceOf(change);
      slice.sent += 1;
      if (change.state === 'changed' || change.state === 'unchanged') {
        answerMs.push(change.answeredAt - change.sentAt);
        slice.answerMs.push(change.answeredAt - change.sentAt);
      }
      if (change.state !== 'changed') continue;
      const times = this.receipts.get(keyOf(change.agentId, change.version));
      this.subscribers.forEach((subscriber, index) => {
        const at = times?.[index];
        if (at === undefined || Number.isNaN(at)) {
          lost += 1;
          return;
        }
        const ms = at - change.sentAt;
        latenciesMs.push(ms);
        slice.deliveryMs.push(ms);
        (subscriber.node === change.node ? sameNodeMs : crossNodeMs).push(ms);
      });
    }
    let unexpected = 0;
    for (const [key, times] of this.receipts) {
      if (this.answered.has(key)) continue;
      for (const time of times) if (!Number.isNaN(time)) unexpected += 1;
    }
    const sum = (pick: (s: Subscriber) => number) => this.subscribers.reduce((n, s) => n + pick(s), 0);
    return {
      latenciesMs,
      sameNodeMs,
      crossNodeMs,
      answerMs,
      sent: this.changes.length,
      changed: count.changed,
      unchanged: count.unchanged,
      failed: count.failed,
      stillPending: count.pending,
      failures: Object.fromEntries(this.failures),
      subscribers: this.subscribers.length,
      expected: count.changed * this.subscribers.length,
      delivered: latenciesMs.length,
      lost,
      outOfOrder: sum((s) => s.outOfOrder),
      duplicates: sum((s) => s.duplicates),
      versionRegressions: sum((s) => s.versionRegressions),
      eventIdRegressions: sum((s) => s.eventIdRegressions),
      unexpected,
      events: sum((s) => s.events),
      slices: sliced.map((s, i) => ({
        fromMs: i * slicing.sliceMs,
        sent: s.sent,
        answer: summarize(s.answerMs),
        delivery: summarize(s.deliveryMs),
      })),
    };
  }
}
