// People and their groupings: users (agents, supervisors, admins), teams,
// team membership, and signed-in browser sessions.
// Invariant: emails are stored lower-case, so uniqueness is case-insensitive.
import { sql } from 'drizzle-orm';
import { bigserial, boolean, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const userRole = pgEnum('user_role', ['agent', 'supervisor', 'admin']);
export const memberRole = pgEnum('member_role', ['agent', 'supervisor']);

export const users = pgTable('users', {
  id: uuid().primaryKey().default(sql`gen_random_uuid()`),
  email: text().notNull().unique(),
  name: text().notNull(),
  role: userRole().notNull(),
  passwordHash: text().notNull(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  /** A deactivated user cannot sign in; their sign-ins and sockets were ended when it was set. */
  deactivatedAt: timestamp({ withTimezone: true }),
  /** An agent's choice: teammates see only the day of their last activity, not the time (docs/privacy.md). */
  hideLastSeen: boolean().notNull().default(false),
});

export const teams = pgTable('teams', {
  id: uuid().primaryKey().default(sql`gen_random_uuid()`),
  name: text().notNull().unique(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export const teamMembers = pgTable(
  'team_members',
  {
    teamId: uuid()
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: memberRole().notNull().default('agent'),
  },
  (t) => [primaryKey({ columns: [t.teamId, t.userId] }), index().on(t.userId)],
);

/** A signed-in browser. `id` is the SHA-256 of the cookie token, never the token. */
export const authSessions = pgTable(
  'auth_sessions',
  {
    id: text().primaryKey(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** The absolute end: the sign-in ends then, however active. */
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    /** Renewed (at most once a minute) by requests; a sign-in unused for the idle timeout ends. */
    lastUsedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.userId)],
);

/**
 * What supervisors and admins did (forced a status, made or revoked a key,
 * changed a user, a team or a membership), for admins to read. The actor's
 * label is copied, so a row stays readable after the actor is deleted. The
 * address is the one place an IP address is stored (docs/privacy.md).
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
    actorUserId: uuid().references(() => users.id, { onDelete: 'set null' }),
    /** The API key that acted, for actions taken by an integration or by the CLI (null). */
    actorKeyId: uuid(),
    /** The actor's email (or key name, or `cli`) at the time. */
    actorLabel: text().notNull(),
    action: text().notNull(),
    targetType: text().notNull(),
    targetId: text(),
    details: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    address: text(),
  },
  (t) => [index().on(t.at)],
);

/**
 * Failed sign-ins, counted per account and per client address over a window,
 * so that guessing is throttled on every node alike. `key` is `account:<email>`
 * or `address:<keyed hash of the address>`: no address is stored in the clear.
 */
export const loginThrottle = pgTable('login_throttle', {
  key: text().primaryKey(),
  failures: integer().notNull().default(0),
  windowStartedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  blockedUntil: timestamp({ withTimezone: true }),
});

/**
 * Secrets this installation made for itself on first use, shared by its nodes:
 * `address-hash`, the key of the keyed hash that stands for a client address
 * in login_throttle (so that no address is stored, yet every node counts alike).
 */
export const instanceSecrets = pgTable('instance_secrets', {
  name: text().primaryKey(),
  value: text().notNull(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});
