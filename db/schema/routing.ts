// Routing: queues (each owned by a team), agent skills and per-channel
// capacity overrides, integrations and their API keys, tickets and the
// append-only ticket event log.
// Invariants: a ticket is offered to or held by at most one agent (tickets.agent_id,
// set only in states offered and assigned); an agent's offered + assigned tickets
// of a channel never exceed its capacity for that channel; ticket_events ids
// commit in id order (drawn under a transaction lock, like presence_events).
import { sql } from 'drizzle-orm';
import {
  bigserial,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { teams, users } from './people';

export const CHANNELS = ['chat', 'email', 'phone', 'task'] as const;
export type Channel = (typeof CHANNELS)[number];
export type Capacity = Record<Channel, number>;

export const ticketChannel = pgEnum('ticket_channel', CHANNELS);
export const routingStrategy = pgEnum('routing_strategy', ['least_loaded', 'round_robin']);
export const offerMode = pgEnum('offer_mode', ['offer', 'auto_accept']);
export const ticketState = pgEnum('ticket_state', ['queued', 'offered', 'assigned', 'completed', 'cancelled']);
export const ticketEventType = pgEnum('ticket_event_type', [
  'created',
  'offered',
  'accepted',
  'declined',
  'offer_expired',
  'requeued',
  'released',
  'completed',
  'cancelled',
]);

export const queues = pgTable('queues', {
  id: uuid().primaryKey().default(sql`gen_random_uuid()`),
  name: text().notNull().unique(),
  teamId: uuid()
    .notNull()
    .references(() => teams.id, { onDelete: 'cascade' }),
  strategy: routingStrategy().notNull().default('least_loaded'),
  offerMode: offerMode().notNull().default('offer'),
  /** How many open tickets of each channel an agent of this queue holds at most, unless overridden per agent. */
  capacity: jsonb().$type<Capacity>().notNull().default({ chat: 3, email: 5, phone: 1, task: 5 }),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export const agentSkills = pgTable(
  'agent_skills',
  {
    agentId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    skill: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.skill] })],
);

/** Routing state of an agent: capacity overrides, fairness clock, missed offers in a row. */
export const agentRouting = pgTable('agent_routing', {
  agentId: uuid()
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  /** Per-channel capacity overriding the queue's default (a missing channel uses the default). */
  capacity: jsonb().$type<Partial<Capacity>>().notNull().default({}),
  /** When the agent was last offered (or given) a ticket: least-loaded ties and round-robin order. */
  lastOfferedAt: timestamp({ withTimezone: true }),
  missedOffers: integer().notNull().default(0),
});

/** A ticketing system that talks to the API; tickets and webhooks belong to it. */
export const integrations = pgTable('integrations', {
  id: uuid().primaryKey().default(sql`gen_random_uuid()`),
  name: text().notNull().unique(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid().primaryKey().default(sql`gen_random_uuid()`),
    integrationId: uuid()
      .notNull()
      .references(() => integrations.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    /** The first characters of the key, to recognise it in lists; the key itself is never stored. */
    prefix: text().notNull(),
    /** SHA-256 of the key (hex). */
    hash: text().notNull().unique(),
    scopes: text().array().notNull(),
    createdBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }),
    lastUsedAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [index().on(t.integrationId)],
);

export const tickets = pgTable(
  'tickets',
  {
    id: uuid().primaryKey().default(sql`gen_random_uuid()`),
    integrationId: uuid()
      .notNull()
      .references(() => integrations.id),
    externalId: text().notNull(),
    queueId: uuid()
      .notNull()
      .references(() => queues.id),
    channel: ticketChannel().notNull(),
    /** 1 is the most urgent, 5 the least. */
    priority: smallint().notNull().default(3),
    skills: text().array().notNull().default(sql`'{}'::text[]`),
    subject: text().notNull(),
    url: text(),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    state: ticketState().notNull().default('queued'),
    /** The agent it is offered to or held by (states offered and assigned only). */
    agentId: uuid().references(() => users.id),
    /** Identifies the current offer, so that its expiry ends that offer and no later one. */
    offerId: uuid(),
    offerExpiresAt: timestamp({ withTimezone: true }),
    /** Why it waits, while queued: the last routing attempt's verdict. */
    waitReason: text(),
    /**
     * Agents who passed on it (declined, let the offer expire, released it):
     * routing offers it to everyone else able to take it first.
     */
    passedBy: uuid().array().notNull().default(sql`'{}'::uuid[]`),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** When it last entered the queue (creation, or coming back): queue order and wait time. */
    queuedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    acceptedAt: timestamp({ withTimezone: true }),
    endedAt: timestamp({ withTimezone: true }),
    version: integer().notNull().default(1),
  },
  (t) => [
    uniqueIndex('tickets_external_idx').on(t.integrationId, t.externalId),
    // A claim walks each channel's waiting tickets in order, skipping locked ones.
    index('tickets_waiting_idx').on(t.queueId, t.channel, t.priority, t.queuedAt, t.id).where(sql`${t.state} = 'queued'`),
    index('tickets_open_agent_idx').on(t.agentId).where(sql`${t.state} in ('offered', 'assigned')`),
    index('tickets_offer_expiry_idx').on(t.offerExpiresAt).where(sql`${t.state} = 'offered'`),
    // The reports find the tickets open during a range: ended in it or after, or not ended (nulls are indexed too).
    index('tickets_ended_idx').on(t.endedAt),
  ],
);

/** Every change of every ticket, in commit order: the integrations' event feed and the audit of routing. */
export const ticketEvents = pgTable(
  'ticket_events',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    ticketId: uuid()
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    integrationId: uuid()
      .notNull()
      .references(() => integrations.id),
    type: ticketEventType().notNull(),
    state: ticketState().notNull(),
    agentId: uuid().references(() => users.id),
    /** Why: a decline's or release's note, `agent_away`, `offer_timeout`… */
    reason: text(),
    /** For offers: who was considered, why each was skipped, why the winner won. */
    explanation: jsonb(),
    version: integer().notNull(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index().on(t.ticketId, t.id),
    index().on(t.integrationId, t.id),
    // The reports count each agent's offers and answers in a range.
    index('ticket_events_agent_at_idx').on(t.agentId, t.at).where(sql`${t.agentId} is not null`),
  ],
);
