// Presence: each agent's computed status, the device sessions it is computed
// from, the nodes holding those sessions, and the append-only event log.
// Invariants: agent_presence.version grows by one with every row change, and
// each change appends exactly one presence_events row with that version; event
// ids are handed out under a lock, so they become visible in id order.
import { sql } from 'drizzle-orm';
import {
  bigserial,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from './people';

export const agentStatus = pgEnum('agent_status', ['available', 'busy', 'away', 'offline']);
/** Why an agent has its status: chosen, derived from devices, or imposed. */
export const statusReason = pgEnum('status_reason', ['manual', 'idle', 'disconnected', 'forced', 'missed_offers']);
/** The subset of reasons that a chosen or imposed status can carry. */
export const manualReason = pgEnum('manual_reason', ['manual', 'forced', 'missed_offers']);
export const deviceActivity = pgEnum('device_activity', ['active', 'idle']);
export const sessionEndReason = pgEnum('session_end_reason', [
  'closed',
  'timeout',
  'node_lost',
  'forced',
  'signed_out',
]);

export const nodes = pgTable('nodes', {
  id: uuid().primaryKey(),
  name: text().notNull(),
  pid: integer().notNull(),
  startedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  lastSeenAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  stoppedAt: timestamp({ withTimezone: true }),
  /** The node's own counters (connections, deliveries coalesced and dropped…), renewed with last_seen_at. */
  stats: jsonb().$type<Record<string, number>>(),
});

export const agentPresence = pgTable('agent_presence', {
  agentId: uuid()
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  /** What the agent (or a supervisor, reason `forced`) chose. */
  manualStatus: agentStatus().notNull().default('available'),
  manualReason: manualReason().notNull().default('manual'),
  /** Who imposed a forced status, and why (kept while it stands). */
  manualActorId: uuid(),
  manualNote: text(),
  /** Computed from manualStatus and the live device sessions; never set alone. */
  status: agentStatus().notNull().default('offline'),
  reason: statusReason().notNull().default('disconnected'),
  since: timestamp({ withTimezone: true }).notNull().defaultNow(),
  devices: integer().notNull().default(0),
  version: integer().notNull().default(0),
  lastSeenAt: timestamp({ withTimezone: true }),
  /**
   * Open (offered or assigned) tickets per channel, channels without any absent.
   * Recomputed by every presence write (server/realtime/record.ts), and every
   * change of an agent's tickets is one, under the agent's lock: routing reads
   * spare capacity here instead of counting tickets per agent per claim.
   */
  load: jsonb().$type<Record<string, number>>().notNull().default({}),
});

export const deviceSessions = pgTable(
  'device_sessions',
  {
    id: uuid().primaryKey().default(sql`gen_random_uuid()`),
    agentId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Stable per browser (localStorage). */
    deviceId: text().notNull(),
    /** Chosen by the tab (sessionStorage), so a reload reattaches to the same session. */
    clientSessionId: text().notNull(),
    nodeId: uuid()
      .notNull()
      .references(() => nodes.id),
    /** Bumped each time a connection (re)attaches; a stale detach must not end a newer attach. */
    generation: integer().notNull().default(1),
    label: text().notNull(),
    /** The browser sign-in (auth_sessions.id) this device session runs under; signing it out ends the session. */
    authSessionId: text(),
    activity: deviceActivity().notNull().default('active'),
    connectedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp({ withTimezone: true }),
    endReason: sessionEndReason(),
  },
  (t) => [
    uniqueIndex('device_sessions_live_client_idx')
      .on(t.agentId, t.clientSessionId)
      .where(sql`${t.endedAt} is null`),
    index('device_sessions_live_node_idx').on(t.nodeId).where(sql`${t.endedAt} is null`),
    index('device_sessions_live_seen_idx').on(t.lastSeenAt).where(sql`${t.endedAt} is null`),
    index('device_sessions_agent_idx').on(t.agentId, t.lastSeenAt),
  ],
);

/** The delta log of the roster and the time-in-status ledger (rows where status changed). */
export const presenceEvents = pgTable(
  'presence_events',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    agentId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    version: integer().notNull(),
    status: agentStatus().notNull(),
    previousStatus: agentStatus().notNull(),
    reason: statusReason().notNull(),
    since: timestamp({ withTimezone: true }).notNull(),
    devices: integer().notNull(),
    /** Who imposed the forced status in force at this event, and why. */
    actorId: uuid(),
    note: text(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  // The reports read an agent's status changes by time (server/reports).
  (t) => [index().on(t.agentId, t.id), index('presence_events_agent_at_idx').on(t.agentId, t.at)],
);
