// Presence writes. Each change of state is one transaction that locks the
// agent's presence row, applies the session change, recomputes the status with
// `aggregate`, and — only if the agent's row changed — bumps its version,
// appends one presence_events row and rings the NOTIFY doorbell — once per
// transaction, however many agents it changed (`changeAgents`).
// Event ids are drawn under a global transaction lock so that they commit in
// id order; a reader that has seen event N has seen every event below N.
import { and, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type postgres from 'postgres';
import type { Db, DbOrTx, Tx } from '../../db/client';
import { isPool, Pipelined } from '../../db/pipelined';
import { retrying } from '../../db/retry';
import { agentPresence, deviceSessions } from '../../db/schema';
import { chunks, controlChannel, presenceChannel } from '../realtime/channels';
import { takeBackOffers, type TicketEventInput } from '../routing/ledger';
import { recordedFrom, recordEvents, recordStatement, type RecordWrite } from '../realtime/record';
import { aggregate, type Activity, type ManualReason, type Status } from './aggregate';


export class NotAnAgentError extends Error {
  override name = 'NotAnAgentError';
  constructor(readonly agentId: string) {
    super(`no agent with id ${agentId}`);
  }
}

export type ChangeOptions = {
  agentId: string;
  /** Session writes to make while the agent is locked. */
  change?: (tx: Tx) => Promise<void>;
  /** A new chosen status (reason `manual`) or imposed one (`forced`, with actor and note). */
  manual?: { status: Status; reason: ManualReason; actorId?: string; note?: string };
  /** Record an event even if the presence row is unchanged: the agent's load changed (a roster row carries it). */
  loadChanged?: boolean;
  /** Ticket events to record in the same statement as the presence event (routing writes). */
  ticketEvents?: readonly TicketEventInput[];
};

export type ChangeResult = { changed: boolean; status: Status; version: number };

export type PresenceRow = typeof agentPresence.$inferSelect;

export async function changeAgent(db: DbOrTx, opts: ChangeOptions): Promise<ChangeResult> {
  if (isPool(db)) {
    const { manual } = opts;
    if (manual && !opts.change && !opts.loadChanged && !opts.ticketEvents?.length) {
      const done = await retrying(() => setManualInOneCall(db, opts.agentId, manual));
      if (done) return done;
    }
    return retrying(() => changeInTwoTrips(db, opts));
  }
  return retrying(() => db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(agentPresence)
      .where(eq(agentPresence.agentId, opts.agentId))
      .for('update');
    if (!current) throw new NotAnAgentError(opts.agentId);
    await opts.change?.(tx);
    return applyChange(() => tx, current, opts, true, {
      sessions: await liveActivities(tx, opts.agentId),
      record: (write) => recordEvents(tx, write),
    });
  }));
}

/**
 * The same change on a pool, pipelined (db/pipelined.ts): BEGIN, the lock and
 * the device read in one trip, the record statement and COMMIT in another.
 * Session writes (`change`) and taking back offers add a trip each.
 */
async function changeInTwoTrips(db: Db, opts: ChangeOptions): Promise<ChangeResult> {
  const trip = await Pipelined.open(db);
  try {
    const { agentId } = opts;
    let current: PresenceRow | undefined;
    let sessions: Array<{ activity: Activity }>;
    if (opts.change) {
      [[current]] = await trip.begin((q) => [lockPresence(q, agentId)] as const);
      if (!current) throw new NotAnAgentError(agentId);
      await opts.change(trip.tx);
      sessions = await activitiesOf(trip.sql, agentId);
    } else {
      // Sent behind the lock, the device read runs once the lock is held and sees its holder's commit.
      [[current], sessions] = await trip.begin((q) => [lockPresence(q, agentId), activitiesOf(q, agentId)] as const);
      if (!current) throw new NotAnAgentError(agentId);
    }
    return await applyChange(() => trip.tx, current, opts, true, {
      sessions,
      record: async (write) => recordedFrom(await trip.commitWith(recordStatement(write))),
    });
  } finally {
    await trip.close();
  }
}

/**
 * A chosen or imposed status with no session change, the warm path: one
 * statement, `sb_set_manual` (migration 0007), in one round trip and its own
 * transaction. It applies the same rule as `aggregate` (a test holds the SQL
 * and the TypeScript equal). Undefined when the agent leaves holding tickets:
 * nothing was written, and taking back offers needs the longer transaction.
 */
async function setManualInOneCall(db: Db, agentId: string, manual: NonNullable<ChangeOptions['manual']>): Promise<ChangeResult | undefined> {
  const [row] = await db.$client<Array<{ outcome: 'changed' | 'unchanged' | 'missing' | 'holds_tickets'; status: Status; version: number }>>`
    select outcome, new_status as status, new_version as version
      from sb_set_manual(${agentId}::uuid, ${manual.status}::agent_status, ${manual.reason}::manual_reason,
                         ${manual.actorId ?? null}::uuid, ${manual.note ?? null}::text,
                         ${presenceChannel.name}::text, ${presenceChannel.encode({ n: 1 })}::text)`;
  if (!row || row.outcome === 'missing') throw new NotAnAgentError(agentId);
  if (row.outcome === 'holds_tickets') return undefined;
  return { changed: row.outcome === 'changed', status: row.status, version: row.version };
}

function lockPresence(q: postgres.Sql, agentId: string) {
  return q<PresenceRow[]>`
    select agent_id as "agentId", manual_status as "manualStatus", manual_reason as "manualReason",
           manual_actor_id as "manualActorId", manual_note as "manualNote", status, reason, since, devices, version,
           last_seen_at as "lastSeenAt", load
      from agent_presence where agent_id = ${agentId} for update`;
}

function activitiesOf(q: postgres.Sql, agentId: string) {
  return q<Array<{ activity: Activity }>>`select activity from device_sessions where agent_id = ${agentId} and ended_at is null`;
}

function liveActivities(tx: Tx, agentId: string): Promise<Array<{ activity: Activity }>> {
  return tx
    .select({ activity: deviceSessions.activity })
    .from(deviceSessions)
    .where(and(eq(deviceSessions.agentId, agentId), isNull(deviceSessions.endedAt)));
}

/**
 * Recomputes many agents (a sweep, a lost node) in one transaction that rings
 * the doorbell once for all their events. Rows are locked up front in id
 * order, before the event-order lock, so this cannot deadlock with
 * single-agent changes (which lock one row, then the event-order lock).
 * Agents without a presence row are skipped.
 */
export async function changeAgents(db: DbOrTx, agentIds: readonly string[]): Promise<ChangeResult[]> {
  if (agentIds.length === 0) return [];
  return retrying(() => db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(agentPresence)
      .where(inArray(agentPresence.agentId, [...agentIds]))
      .orderBy(agentPresence.agentId)
      .for('update');
    const results: ChangeResult[] = [];
    for (const current of rows) {
      results.push(
        await applyChange(() => tx, current, { agentId: current.agentId }, false, {
          sessions: await liveActivities(tx, current.agentId),
          record: (write) => recordEvents(tx, write),
        }),
      );
    }
    const events = results.filter((r) => r.changed).length;
    if (events) await tx.execute(presenceChannel.notify({ n: events }));
    return results;
  }));
}

/**
 * A change inside a transaction that already holds the agent's row (routing:
 * an offer or a completed ticket changes the agent's load); rings the presence
 * doorbell for it.
 */
export async function changeLockedAgent(tx: Tx, current: PresenceRow, opts: ChangeOptions): Promise<ChangeResult> {
  if (!opts.change && !opts.manual) {
    const recorded = await recordEvents(tx, loadChange(current, opts.ticketEvents ?? []));
    if (recorded.version === undefined) throw new NotAnAgentError(opts.agentId);
    return { changed: true, status: current.status, version: recorded.version };
  }
  await opts.change?.(tx);
  return applyChange(() => tx, current, opts, true, {
    sessions: await liveActivities(tx, opts.agentId),
    record: (write) => recordEvents(tx, write),
  });
}

/**
 * What an offer or an ended ticket records for the agent whose row the
 * transaction holds: the load (recomputed by the record statement from the
 * tickets) and nothing else. Status, reason and devices stay as the locked row
 * has them: a load change cannot move them, so the agent's devices need not be
 * read. One statement, which routing sends together with its other writes.
 */
export function loadChange(current: PresenceRow, ticketEvents: readonly TicketEventInput[]): RecordWrite {
  return {
    presence: {
      agentId: current.agentId,
      manualStatus: current.manualStatus,
      manualReason: current.manualReason,
      manualActorId: current.manualActorId,
      manualNote: current.manualNote,
      status: current.status,
      reason: current.reason,
      previousStatus: current.status,
      devices: current.devices,
      statusChanged: false,
      touchSeen: false,
    },
    notifyPresence: true,
    tickets: ticketEvents,
  };
}

/**
 * The change itself, on a row the transaction has locked and the agent's live
 * sessions read after the lock; records the event (ringing the doorbell for it
 * if `notify`) through `record`, which is the transaction's last statement.
 */
async function applyChange(
  /** The transaction, for writes besides the record (taking back offers). */
  tx: () => Tx,
  current: PresenceRow,
  opts: ChangeOptions,
  notify: boolean,
  then: { sessions: ReadonlyArray<{ activity: Activity }>; record: (write: RecordWrite) => Promise<{ recorded: boolean; version?: number }> },
): Promise<ChangeResult> {
  const { sessions } = then;

  const manualStatus = opts.manual?.status ?? current.manualStatus;
  const manualReason = opts.manual?.reason ?? current.manualReason;
  const manualActorId = opts.manual ? (opts.manual.actorId ?? null) : current.manualActorId;
  const manualNote = opts.manual ? (opts.manual.note ?? null) : current.manualNote;
  const next = aggregate({ manualStatus, manualReason, sessions });
  const unchanged =
    next.status === current.status &&
    next.reason === current.reason &&
    sessions.length === current.devices &&
    manualStatus === current.manualStatus &&
    manualReason === current.manualReason &&
    manualActorId === current.manualActorId &&
    manualNote === current.manualNote;
  if (unchanged && !opts.loadChanged) {
    await then.record({ tickets: opts.ticketEvents });
    return { changed: false, status: current.status, version: current.version };
  }

  const statusChanged = next.status !== current.status;
  // Away or offline, an agent keeps no offers: they go back to their queues now.
  // The locked row's load counts the agent's open tickets as of the last
  // commit (every change of a ticket's holder locks this row and records it),
  // so an agent with none has no offer to return and the statement is skipped.
  const returned =
    statusChanged && (next.status === 'away' || next.status === 'offline') && holdsTickets(current)
      ? await takeBackOffers(tx(), { agentId: opts.agentId, reason: next.status === 'away' ? 'agent_away' : 'agent_offline' })
      : [];
  const recorded = await then.record({
    presence: {
      agentId: opts.agentId,
      manualStatus,
      manualReason,
      manualActorId,
      manualNote,
      status: next.status,
      reason: next.reason,
      previousStatus: current.status,
      devices: sessions.length,
      statusChanged,
      touchSeen: sessions.length > 0 || current.devices > 0,
    },
    notifyPresence: notify,
    tickets: [...(opts.ticketEvents ?? []), ...returned],
  });
  if (!recorded.recorded || recorded.version === undefined) throw new NotAnAgentError(opts.agentId);
  return { changed: true, status: next.status, version: recorded.version };
}

function holdsTickets(row: PresenceRow): boolean {
  return Object.values(row.load).some((n) => n > 0);
}

/** Attaches a connection to the agent's session for `clientSessionId`, creating or taking it over. */
export async function attachSession(
  db: DbOrTx,
  params: {
    agentId: string;
    deviceId: string;
    clientSessionId: string;
    nodeId: string;
    label: string;
    authSessionId?: string;
  },
): Promise<{ sessionId: string; generation: number; change: ChangeResult }> {
  if (isPool(db)) {
    const done = await retrying(() => attachInOneCall(db, params));
    if (done) return done;
  }
  let attached: { id: string; generation: number } | undefined;
  const change = await changeAgent(db, {
    agentId: params.agentId,
    change: async (tx) => {
      [attached] = await tx
        .insert(deviceSessions)
        .values({ ...params })
        .onConflictDoUpdate({
          target: [deviceSessions.agentId, deviceSessions.clientSessionId],
          targetWhere: isNull(deviceSessions.endedAt),
          set: {
            nodeId: params.nodeId,
            deviceId: params.deviceId,
            label: params.label,
            authSessionId: params.authSessionId,
            generation: sql`${deviceSessions.generation} + 1`,
            lastSeenAt: sql`now()`,
          },
        })
        .returning({ id: deviceSessions.id, generation: deviceSessions.generation });
    },
  });
  if (!attached) throw new Error('device session upsert returned nothing');
  return { sessionId: attached.id, generation: attached.generation, change };
}

/**
 * `attachSession` as one statement, `sb_attach_session` (migration 0010,
 * decision 026); undefined when the attach would turn the agent away with
 * offers out, which the longer transaction takes back (nothing was written).
 */
async function attachInOneCall(
  db: Db,
  params: Parameters<typeof attachSession>[1],
): Promise<{ sessionId: string; generation: number; change: ChangeResult } | undefined> {
  const [row] = await db.$client<
    Array<{ outcome: 'changed' | 'unchanged' | 'missing' | 'holds_offers'; session_id: string; generation: number; new_status: Status; new_version: number }>
  >`
    select outcome, session_id, generation, new_status, new_version
      from sb_attach_session(${params.agentId}::uuid, ${params.deviceId}::text, ${params.clientSessionId}::text,
                             ${params.nodeId}::uuid, ${params.label}::text, ${params.authSessionId ?? null}::text,
                             ${presenceChannel.name}::text, ${presenceChannel.encode({ n: 1 })}::text)`;
  if (!row || row.outcome === 'missing') throw new NotAnAgentError(params.agentId);
  if (row.outcome === 'holds_offers') return undefined;
  return {
    sessionId: row.session_id,
    generation: row.generation,
    change: { changed: row.outcome === 'changed', status: row.new_status, version: row.new_version },
  };
}

/**
 * `endSession` as one statement, `sb_end_session` (migration 0011, decision
 * 026); undefined when the end would turn the agent away or offline with
 * offers out, which the longer transaction takes back (nothing was written).
 */
async function endInOneCall(
  db: Db,
  params: Parameters<typeof endSession>[1],
): Promise<{ ended: boolean; change: ChangeResult } | undefined> {
  const [row] = await db.$client<Array<{ outcome: 'changed' | 'unchanged' | 'missing' | 'holds_offers'; ended: boolean; new_status: Status; new_version: number }>>`
    select outcome, ended, new_status, new_version
      from sb_end_session(${params.agentId}::uuid, ${params.sessionId}::uuid, ${params.generation ?? null}::int,
                          ${params.reason}::session_end_reason,
                          ${presenceChannel.name}::text, ${presenceChannel.encode({ n: 1 })}::text)`;
  if (!row || row.outcome === 'missing') throw new NotAnAgentError(params.agentId);
  if (row.outcome === 'holds_offers') return undefined;
  return { ended: row.ended, change: { changed: row.outcome === 'changed', status: row.new_status, version: row.new_version } };
}

export type EndReason = NonNullable<(typeof deviceSessions.$inferSelect)['endReason']>;

/**
 * Ends one session, unless a newer connection has attached to it since
 * (its generation moved on) or it has already ended.
 */
export async function endSession(
  db: DbOrTx,
  params: { agentId: string; sessionId: string; generation?: number; reason: EndReason },
): Promise<{ ended: boolean; change: ChangeResult }> {
  if (isPool(db)) {
    const done = await retrying(() => endInOneCall(db, params));
    if (done) return done;
  }
  let ended = false;
  const change = await changeAgent(db, {
    agentId: params.agentId,
    change: async (tx) => {
      const ids = await endAgentSessionsWhere(
        tx,
        { agentId: params.agentId, reason: params.reason },
        eq(deviceSessions.id, params.sessionId),
        params.generation === undefined ? undefined : eq(deviceSessions.generation, params.generation),
      );
      ended = ids.length > 0;
    },
  });
  return { ended, change };
}

export type EndedSession = { agentId: string; sessionId: string };

/** Ends every live session of one agent (optionally only those of one browser sign-in), inside `changeAgent`. */
export async function endLiveSessions(
  tx: Tx,
  params: { agentId: string; reason: EndReason; authSessionId?: string },
): Promise<string[]> {
  return endAgentSessionsWhere(
    tx,
    params,
    params.authSessionId === undefined ? undefined : eq(deviceSessions.authSessionId, params.authSessionId),
  );
}

/** Ends the agent's live sessions that also meet `conditions`; returns their ids. */
async function endAgentSessionsWhere(
  tx: Tx,
  params: { agentId: string; reason: EndReason },
  ...conditions: Array<SQL | undefined>
): Promise<string[]> {
  const rows = await tx
    .update(deviceSessions)
    .set({ endedAt: sql`now()`, endReason: params.reason })
    .where(and(eq(deviceSessions.agentId, params.agentId), isNull(deviceSessions.endedAt), ...conditions))
    .returning({ id: deviceSessions.id });
  return rows.map((r) => r.id);
}

/** Records a device's change between active and idle; the status may follow (all idle: away). */
export async function setSessionActivity(
  db: DbOrTx,
  params: { agentId: string; sessionId: string; activity: 'active' | 'idle' },
): Promise<ChangeResult> {
  return changeAgent(db, {
    agentId: params.agentId,
    change: async (tx) => {
      await tx
        .update(deviceSessions)
        .set({ activity: params.activity, lastSeenAt: sql`now()` })
        .where(and(eq(deviceSessions.id, params.sessionId), isNull(deviceSessions.endedAt)));
    },
  });
}

/**
 * Writes the last-seen time of many sessions in one statement (the heartbeat
 * batcher). Returns the ids it updated; a missing id was ended meanwhile.
 */
export async function flushLastSeen(db: DbOrTx, entries: ReadonlyArray<{ id: string; at: Date }>): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  // Sorted, so that concurrent flushes (never of the same rows) lock in one order.
  const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : 1));
  const ids = `{${sorted.map((e) => e.id).join(',')}}`;
  const times = `{${sorted.map((e) => `"${e.at.toISOString()}"`).join(',')}}`;
  const rows = await db.execute<{ id: string }>(sql`
    update device_sessions s
       set last_seen_at = greatest(s.last_seen_at, v.at)
      from unnest(${ids}::uuid[], ${times}::timestamptz[]) as v(id, at)
     where s.id = v.id and s.ended_at is null
    returning s.id`);
  return new Set(rows.map((r) => r.id));
}

/** How sessions ended (for ids a flush found ended). */
export async function endReasons(db: DbOrTx, params: { sessionIds: string[] }): Promise<Map<string, EndReason>> {
  if (params.sessionIds.length === 0) return new Map();
  const rows = await db.execute<{ id: string; end_reason: EndReason | null }>(sql`
    select id, end_reason from device_sessions where id = any(${`{${params.sessionIds.join(',')}}`}::uuid[])`);
  return new Map(rows.map((r) => [r.id, r.end_reason ?? 'closed']));
}

/** Ends, in one statement, every live session whose last heartbeat is older than the TTL (`timeout`). */
export async function endTimedOutSessions(db: DbOrTx, params: { ttlMs: number }): Promise<EndedSession[]> {
  const rows = await db.execute<{ agent_id: string; id: string }>(sql`
    update device_sessions
       set ended_at = now(), end_reason = 'timeout'
     where ended_at is null
       and last_seen_at < now() - make_interval(secs => ${params.ttlMs / 1000})
    returning agent_id, id`);
  return rows.map((r) => ({ agentId: r.agent_id, sessionId: r.id }));
}

/**
 * Ends, in one statement, every live session held by a node that stopped or
 * went silent past the node timeout (`node_lost`). A stopped node's tabs all
 * reconnect at once (a storm, not one tab's reload), so they get as long as a
 * dead node's: the node timeout, or the disconnect grace if that is longer
 * (decision 037).
 */
export async function endSessionsOfDeadNodes(
  db: DbOrTx,
  params: { selfNodeId?: string; graceMs: number; nodeTimeoutMs: number },
): Promise<EndedSession[]> {
  const rows = await db.execute<{ agent_id: string; id: string }>(sql`
    update device_sessions s
       set ended_at = now(), end_reason = 'node_lost'
      from nodes n
     where s.node_id = n.id
       and s.ended_at is null
       and n.id is distinct from ${params.selfNodeId ?? null}::uuid
       and ((n.stopped_at is not null and n.stopped_at < now() - make_interval(secs => ${Math.max(params.graceMs, params.nodeTimeoutMs) / 1000}))
            or n.last_seen_at < now() - make_interval(secs => ${params.nodeTimeoutMs / 1000}))
    returning s.agent_id, s.id`);
  return rows.map((r) => ({ agentId: r.agent_id, sessionId: r.id }));
}

/** Agents whose stored device count disagrees with their live sessions (a write interrupted between steps). */
export async function agentsOutOfStep(db: DbOrTx): Promise<string[]> {
  const rows = await db.execute<{ agent_id: string }>(sql`
    select p.agent_id
      from agent_presence p
      left join lateral (select count(*)::int as live from device_sessions s
                          where s.agent_id = p.agent_id and s.ended_at is null) l on true
     where p.devices <> l.live`);
  return rows.map((r) => r.agent_id);
}

/** Tells every node that these sessions ended, so the tabs holding them hear of it. */
export async function notifyEnded(db: DbOrTx, params: { sessionIds: string[]; reason: EndReason }): Promise<void> {
  for (const part of chunks(params.sessionIds, 150)) {
    await db.execute(controlChannel.notify({ k: 'ended', s: part, r: params.reason }));
  }
}

/** Ends the agent's device sessions of one browser sign-in, or of all (`signed_out`), and tells the tabs. */
export async function signOutAgentDevices(db: Db, params: { agentId: string; authSessionId?: string }): Promise<number> {
  let ended: string[] = [];
  await changeAgent(db, {
    agentId: params.agentId,
    change: async (tx) => {
      ended = await endLiveSessions(tx, { ...params, reason: 'signed_out' });
    },
  });
  if (ended.length) await notifyEnded(db, { sessionIds: ended, reason: 'signed_out' });
  return ended.length;
}
