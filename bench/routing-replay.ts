// Routing's two invariants, checked by replaying the ticket event log in id
// order (ids are drawn under a transaction lock, so id order is commit order):
// a ticket is offered to or held by one agent at a time (no double
// assignment), and an agent's offered + assigned tickets of a channel never
// exceed their capacity for it. Pure: the log in, findings out. Also counts
// how many tickets waited in the queue at once.
import type { Channel } from '../db/schema';
import type { TicketEventType } from '../server/routing/ledger';

export type LoggedEvent = {
  id: number;
  ticketId: string;
  type: TicketEventType;
  agentId: string | null;
  /** The ticket's channel and queue (they never change). */
  channel: Channel;
  queueId: string;
};

/** `history`: the ticket's events up to this one, `id type @agent`, for reading the case. */
export type Finding = { eventId: number; ticketId: string; what: string; history: string };

export type ReplayResult = {
  events: number;
  tickets: number;
  /** An offer of a ticket that an agent still held (offered or assigned, with no ending in between). */
  doubleAssignments: Finding[];
  /** An offer that took an agent's open tickets of a channel above their capacity for it. */
  capacityViolations: Finding[];
  /** Events that fit no holder: an accept or an ending by an agent who did not hold the ticket. */
  inconsistencies: Finding[];
  /** The most open tickets any agent held at once, and the capacity that applied then. */
  peakLoad: { open: number; capacity: number };
  /** The most tickets waiting in queues at once. */
  peakQueued: number;
  queuedAtEnd: number;
  heldAtEnd: number;
};

/** Events that end a holding: the agent no longer has the ticket, and has that capacity again. */
export const ENDING_TYPES = ['declined', 'offer_expired', 'released', 'completed', 'cancelled', 'requeued'] as const satisfies readonly TicketEventType[];
const ENDINGS = new Set<TicketEventType>(ENDING_TYPES);
/** Endings that put the ticket back in its queue. */
const BACK_IN_QUEUE = new Set<TicketEventType>(['declined', 'offer_expired', 'released', 'requeued']);

export function replay(
  events: readonly LoggedEvent[],
  capacityOf: (agentId: string, channel: Channel, queueId: string) => number,
): ReplayResult {
  const holder = new Map<string, string>(); // ticket → agent offered or holding it
  const open = new Map<string, number>(); // agent + channel → offered + assigned
  const waiting = new Set<string>();
  const histories = new Map<string, string[]>();
  const result: ReplayResult = {
    events: events.length,
    tickets: 0,
    doubleAssignments: [],
    capacityViolations: [],
    inconsistencies: [],
    peakLoad: { open: 0, capacity: 0 },
    peakQueued: 0,
    queuedAtEnd: 0,
    heldAtEnd: 0,
  };
  const loadKey = (agentId: string, channel: Channel) => `${agentId} ${channel}`;
  const finding = (e: LoggedEvent, what: string): Finding => ({ eventId: e.id, ticketId: e.ticketId, what, history: histories.get(e.ticketId)?.join(', ') ?? '' });
  const odd = (e: LoggedEvent, what: string) => result.inconsistencies.push(finding(e, what));

  for (const e of events) {
    const history = histories.get(e.ticketId) ?? [];
    history.push(`${e.id} ${e.type}${e.agentId ? ` @${e.agentId.slice(0, 8)}` : ''}`);
    histories.set(e.ticketId, history);
    const current = holder.get(e.ticketId);
    if (e.type === 'created') {
      waiting.add(e.ticketId);
    } else if (e.type === 'offered') {
      waiting.delete(e.ticketId);
      if (!e.agentId) {
        odd(e, 'an offer naming no agent');
        continue;
      }
      if (current !== undefined) {
        result.doubleAssignments.push(finding(e, `offered to ${e.agentId} while ${current} held it`));
      }
      holder.set(e.ticketId, e.agentId);
      const key = loadKey(e.agentId, e.channel);
      const n = (open.get(key) ?? 0) + 1;
      open.set(key, n);
      const capacity = capacityOf(e.agentId, e.channel, e.queueId);
      if (n > capacity) {
        result.capacityViolations.push(finding(e, `${e.agentId} holds ${n} ${e.channel} tickets, capacity ${capacity}`));
      }
      if (n > result.peakLoad.open) result.peakLoad = { open: n, capacity };
    } else if (e.type === 'accepted') {
      if (current === undefined || current !== e.agentId) odd(e, `accepted by ${e.agentId} while held by ${current ?? 'nobody'}`);
    } else if (ENDINGS.has(e.type)) {
      if (current === undefined) {
        // A queued ticket can be cancelled; nothing else ends a holding that is not there.
        if (e.type !== 'cancelled') odd(e, `${e.type} while nobody held it`);
      } else {
        if (e.agentId !== current) odd(e, `${e.type} naming ${e.agentId} while ${current} held it`);
        holder.delete(e.ticketId);
        const key = loadKey(current, e.channel);
        open.set(key, (open.get(key) ?? 0) - 1);
      }
      if (BACK_IN_QUEUE.has(e.type)) waiting.add(e.ticketId);
      else waiting.delete(e.ticketId);
    } else {
      odd(e, `unknown event type ${e.type}`);
    }
    result.peakQueued = Math.max(result.peakQueued, waiting.size);
  }
  result.tickets = histories.size;
  result.queuedAtEnd = waiting.size;
  result.heldAtEnd = holder.size;
  return result;
}
