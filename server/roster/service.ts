// Live views of presence: the supervisor's roster and an agent's own status
// with its devices. Both subscribe to the hub *before* reading the snapshot,
// then yield only deltas newer than the snapshot, so nothing falls between.
// A roster subscriber that resumes with `lastEventId` gets every later change
// of an agent it may see, once and in order, read from the event log — or a
// fresh snapshot when it is further behind than RESUME_LIMIT events.
import type { Db } from '../../db/client';
import { visibleTeamIds, type SessionUser } from '../../db/queries/people';
import {
  agentDevices,
  eventLogSpan,
  rosterDeltasAfter,
  rosterSnapshot,
  type DeviceRow,
  type RosterRow,
} from '../../db/queries/roster';
import type { Hub, RosterDelta } from '../realtime/hub';
import { Mailbox } from '../realtime/mailbox';

export type RosterEvent =
  | { type: 'snapshot'; eventId: number; rows: RosterRow[] }
  | { type: 'agent'; eventId: number; row: RosterRow };

/** The teams a user may watch, narrowed to `teamId` when given; undefined means all. */
async function watchedTeams(db: Db, user: SessionUser, teamId: string | undefined) {
  const visible = await visibleTeamIds(db, { user });
  if (!teamId) return visible;
  return !visible || visible.includes(teamId) ? [teamId] : [];
}

export async function listRoster(deps: { db: Db }, params: { user: SessionUser; teamId?: string }) {
  return rosterSnapshot(deps.db, { teamIds: await watchedTeams(deps.db, params.user, params.teamId) });
}

/** A subscriber whose socket holds more than this unsent is not given more until it drains. */
export const SOCKET_HIGH_WATER_BYTES = 256 * 1024;

/**
 * Waits while the subscriber's socket is backed up, so a slow reader's changes
 * wait (and coalesce) in its mailbox instead of piling up in the socket buffer.
 */
async function drained(socket: { bufferedAmount: number } | undefined, signal: AbortSignal): Promise<void> {
  while (socket && socket.bufferedAmount > SOCKET_HIGH_WATER_BYTES && !signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A resuming subscriber further behind than this gets a fresh snapshot instead of the replay. */
export const RESUME_LIMIT = 10_000;
const REPLAY_PAGE = 1_000;

/** Whether every event after `from` is still in the log, and not too many to replay. */
function resumable(from: number, span: { oldest: number; latest: number }): boolean {
  return from >= span.oldest - 1 && from <= span.latest && span.latest - from <= RESUME_LIMIT;
}

export async function* watchRoster(
  deps: { db: Db; hub: Hub },
  params: {
    user: SessionUser;
    teamId?: string;
    lastEventId?: number;
    socket?: { bufferedAmount: number };
    signal: AbortSignal;
  },
): AsyncGenerator<RosterEvent> {
  const teamIds = await watchedTeams(deps.db, params.user, params.teamId);
  const visible = (row: RosterRow) => !teamIds || row.teamIds.some((id) => teamIds.includes(id));

  // A slow reader's pending changes coalesce to the latest row per agent.
  const mailbox = new Mailbox<RosterDelta>(params.signal, { coalesceBy: (delta) => delta.row.agentId });
  const unsubscribe = deps.hub.subscribe((delta) => {
    if (visible(delta.row)) mailbox.push(delta);
  });
  try {
    // Everything up to `cursor` has been sent (or was not the subscriber's to see).
    let cursor: number;
    const resumeFrom = params.lastEventId;
    if (resumeFrom !== undefined && resumable(resumeFrom, await eventLogSpan(deps.db))) {
      cursor = resumeFrom;
      for (;;) {
        const page = await rosterDeltasAfter(deps.db, { afterId: cursor, limit: REPLAY_PAGE });
        for (const delta of page) {
          cursor = delta.eventId;
          if (visible(delta.row)) yield { type: 'agent', eventId: delta.eventId, row: delta.row };
        }
        if (page.length < REPLAY_PAGE) break;
      }
    } else {
      const snapshot = await rosterSnapshot(deps.db, { teamIds });
      cursor = snapshot.lastEventId;
      yield { type: 'snapshot', eventId: snapshot.lastEventId, rows: snapshot.rows };
    }
    for await (const delta of mailbox) {
      if (delta.eventId <= cursor) continue;
      cursor = delta.eventId;
      yield { type: 'agent', eventId: delta.eventId, row: delta.row };
      await drained(params.socket, params.signal);
    }
  } finally {
    unsubscribe();
  }
}

export type SelfView = { eventId: number; row: RosterRow; devices: DeviceRow[] };

/** An agent's own row and devices: now, then again after each of its changes. */
export async function* watchSelf(
  deps: { db: Db; hub: Hub },
  params: { agentId: string; signal: AbortSignal },
): AsyncGenerator<SelfView> {
  const mailbox = new Mailbox<RosterDelta>(params.signal);
  const unsubscribe = deps.hub.subscribe((delta) => {
    if (delta.row.agentId === params.agentId) mailbox.push(delta);
  });
  try {
    const snapshot = await rosterSnapshot(deps.db, { agentId: params.agentId });
    const row = snapshot.rows[0];
    if (!row) return;
    yield { eventId: snapshot.lastEventId, row, devices: await agentDevices(deps.db, params) };
    for await (const delta of mailbox) {
      if (delta.eventId <= snapshot.lastEventId) continue;
      yield { eventId: delta.eventId, row: delta.row, devices: await agentDevices(deps.db, params) };
    }
  } finally {
    unsubscribe();
  }
}
