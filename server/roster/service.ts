// Live views of presence: the supervisor's roster and an agent's own status
// with its devices. Both subscribe to the hub *before* reading the snapshot,
// then yield only deltas newer than the snapshot, so nothing falls between.
// A roster subscriber that resumes with `lastEventId` gets every later change
// of an agent it may see, once and in order, read from the event log — or a
// fresh snapshot when it is further behind than RESUME_LIMIT events.
import type { Db } from '../../db/client';
import type { SessionUser } from '../../db/queries/people';
import type { KeyPrincipal } from '../auth/api-keys';
import {
  agentDevices,
  eventLogSpan,
  rosterDeltasAfter,
  rosterSnapshot,
  type DeviceRow,
  type RosterRow,
} from '../../db/queries/roster';
import type { Hub, RosterDelta } from '../realtime/hub';
import { trackedFrame, type SubscriptionTarget } from '../realtime/frames';
import { deliveryStats, Mailbox } from '../realtime/mailbox';
import { SnapshotReads, type Snapshot } from './snapshots';
import {
  inScope,
  integrationScope,
  integrationView,
  supervisedScope,
  supervisorView,
  teammateScope,
  teammateView,
  type IntegrationRow,
  type TeamScope,
  type TeammateRow,
} from './visibility';

/** One change of an agent: its full new row, and the id of its event in the log. */
export type Change<Row> = { eventId: number; row: Row };
/**
 * `agents` carries every change pending for the subscriber when it was sent
 * (one, unless it fell behind), in log order; its `eventId` is the last
 * change's. A message is delivered whole or not at all, so resuming from it
 * misses nothing and repeats nothing. Under load this is what keeps the
 * per-message cost (tRPC's envelope, a WebSocket frame, a write) from being
 * paid per change.
 */
export type WatchEvent<Row> =
  | { type: 'snapshot'; eventId: number; rows: Row[] }
  | { type: 'agents'; eventId: number; changes: Array<Change<Row>> };
export type RosterEvent = WatchEvent<RosterRow>;
export type TeamEvent = WatchEvent<TeammateRow>;

const sharedReads = new WeakMap<Db, SnapshotReads>();

/** The node's shared snapshot reads (one per database handle, so one per node). */
export function snapshotReads(db: Db): SnapshotReads {
  let reads = sharedReads.get(db);
  if (!reads) sharedReads.set(db, (reads = new SnapshotReads((teamIds) => rosterSnapshot(db, { teamIds }))));
  return reads;
}

/** Who reads roster.list: a signed-in supervisor or admin, or an integration's key with `presence:read`. */
export type RosterReader = { user: SessionUser } | { integration: KeyPrincipal };

export async function listRoster(
  deps: { db: Db },
  params: RosterReader & { teamId?: string },
): Promise<{ rows: RosterRow[] | IntegrationRow[]; lastEventId: number }> {
  if ('integration' in params) {
    const snapshot = await snapshotReads(deps.db).get(integrationScope(params));
    return { rows: integrationsView.snapshotRows(snapshot), lastEventId: snapshot.lastEventId };
  }
  return snapshotReads(deps.db).get(await supervisedScope(deps.db, params));
}

export async function listTeam(deps: { db: Db }, params: { user: SessionUser; teamId?: string }) {
  const snapshot = await snapshotReads(deps.db).get(await teammateScope(deps.db, params));
  return { rows: teammatesView.snapshotRows(snapshot), lastEventId: snapshot.lastEventId };
}

/** A subscriber whose socket holds more than this unsent is not given more until it drains. */
export const SOCKET_HIGH_WATER_BYTES = 256 * 1024;

/**
 * Waits while the subscriber's socket is backed up, so a slow reader's changes
 * wait (and coalesce) in its mailbox instead of piling up in the socket buffer.
 */
async function drained(socket: { bufferedAmount: number }, signal: AbortSignal): Promise<void> {
  while (socket.bufferedAmount > SOCKET_HIGH_WATER_BYTES && !signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The most changes one `agents` message carries (about 300 bytes each). */
export const CHANGES_PER_MESSAGE = 100;

/** A resuming subscriber further behind than this gets a fresh snapshot instead of the replay. */
export const RESUME_LIMIT = 10_000;
const REPLAY_PAGE = 1_000;

/** Whether every event after `from` is still in the log, and not too many to replay. */
function resumable(from: number, span: { oldest: number; latest: number }): boolean {
  return from >= span.oldest - 1 && from <= span.latest && span.latest - from <= RESUME_LIMIT;
}

export type WatchParams = {
  user: SessionUser;
  teamId?: string;
  lastEventId?: number;
  socket?: { bufferedAmount: number };
  /**
   * The subscription request to write this view's messages to directly
   * (server/realtime/frames.ts); without one, they are yielded.
   */
  target?: SubscriptionTarget;
  signal: AbortSignal;
};

/**
 * What a live view hands its transport for each event (tRPC's `tracked`, say).
 * Applied inside the one generator that does the work, because each level of
 * generator wrapped around it costs every delivery several promises: at 200
 * changes a second and dozens of subscribers a node, that is its garbage.
 */
type Wrap<Event, Out> = (event: Event) => Out;
const asIs = <Event, Out>(event: Event) => event as unknown as Out;

/**
 * What a kind of subscriber sees of a roster row. A change from the hub is
 * one object shared by every subscriber of the node, so its row in this view,
 * and that change's JSON, are made once per node, not once per subscriber.
 */
class View<Row> {
  private readonly made = new WeakMap<RosterDelta, { row: Row; json?: string }>();
  /** A shared snapshot's rows in this view, and its event's JSON (each subscriber's frame wraps it in its own envelope). */
  private readonly snapshots = new WeakMap<Snapshot, { rows: Row[]; json?: string }>();

  constructor(readonly of: (row: RosterRow) => Row) {}

  change(delta: RosterDelta): Change<Row> {
    return { eventId: delta.eventId, row: this.entry(delta).row };
  }

  /** `{"eventId":…,"row":…}`, as JSON.stringify(this.change(delta)) gives it. */
  changeJson(delta: RosterDelta): string {
    const entry = this.entry(delta);
    return (entry.json ??= `{"eventId":${delta.eventId},"row":${JSON.stringify(entry.row)}}`);
  }

  /** The snapshot's rows in this view, made once however many subscribers share the snapshot. */
  snapshotRows(snapshot: Snapshot): Row[] {
    let entry = this.snapshots.get(snapshot);
    if (!entry) this.snapshots.set(snapshot, (entry = { rows: snapshot.rows.map(this.of) }));
    return entry.rows;
  }

  /** `{"type":"snapshot","eventId":…,"rows":[…]}`, encoded once per shared snapshot. */
  snapshotJson(snapshot: Snapshot): string {
    const rows = this.snapshotRows(snapshot);
    const entry = this.snapshots.get(snapshot)!;
    return (entry.json ??= JSON.stringify({ type: 'snapshot', eventId: snapshot.lastEventId, rows } satisfies WatchEvent<Row>));
  }

  private entry(delta: RosterDelta) {
    let entry = this.made.get(delta);
    if (!entry) this.made.set(delta, (entry = { row: this.of(delta.row) }));
    return entry;
  }
}

const fullView = new View<RosterRow>(supervisorView);
const teammatesView = new View(teammateView);
const integrationsView = new View(integrationView);

/** A supervisor's (or admin's) roster: full rows of the agents they supervise. */
export function watchRoster<Out = RosterEvent>(
  deps: { db: Db; hub: Hub },
  params: WatchParams,
  wrap: Wrap<RosterEvent, Out> = asIs,
): AsyncGenerator<Out> {
  return watchRows(deps, { ...params, scope: () => supervisedScope(deps.db, params), view: fullView, wrap });
}

/** An agent's view of their teams: each teammate's status, nothing more. */
export function watchTeam<Out = TeamEvent>(
  deps: { db: Db; hub: Hub },
  params: WatchParams,
  wrap: Wrap<TeamEvent, Out> = asIs,
): AsyncGenerator<Out> {
  return watchRows(deps, { ...params, scope: () => teammateScope(deps.db, params), view: teammatesView, wrap });
}

/**
 * A live view's messages. Yielded, they go through tRPC like any
 * subscription's; with a `target`, they are written to its socket as tRPC
 * would write them, and the generator yields nothing (it ends when the
 * subscription does). Written directly, a change that finds the subscriber
 * caught up goes out from the hub's callback at once: no promise, no
 * per-subscriber encode.
 */
async function* watchRows<Row, Out>(
  deps: { db: Db; hub: Hub },
  params: WatchParams & {
    scope: () => Promise<TeamScope>;
    view: View<Row>;
    wrap: Wrap<WatchEvent<Row>, Out>;
  },
): AsyncGenerator<Out> {
  const { view, wrap, target, signal } = params;
  const socket = target?.socket ?? params.socket;
  const backedUp = () => socket !== undefined && socket.bufferedAmount > SOCKET_HIGH_WATER_BYTES;
  let teams = await params.scope();
  const visible = (row: RosterRow) => inScope(teams, row);
  const write = target
    ? (eventId: number, json: string) => {
        target.socket.send(trackedFrame(target, String(eventId), json));
        deliveryStats.framesWritten += 1;
      }
    : undefined;
  const writeChanges = (eventId: number, deltas: readonly RosterDelta[]) =>
    write!(eventId, `{"type":"agents","eventId":${eventId},"changes":[${deltas.map((d) => view.changeJson(d)).join(',')}]}`);
  /** One `agents` message, written or yielded (`yield*` it). */
  function* sendChanges(eventId: number, deltas: readonly RosterDelta[]): Generator<Out, void> {
    if (write) writeChanges(eventId, deltas);
    else yield wrap({ type: 'agents', eventId, changes: deltas.map((d) => view.change(d)) });
  }

  // Everything up to `cursor` has been sent (or was not the subscriber's to see).
  let cursor = 0;
  // Once the snapshot or replay is out, a change the mailbox is not holding
  // others before may be written by the hub's callback itself.
  let live = false;
  // A slow reader's pending changes coalesce to the latest row per agent.
  const mailbox = new Mailbox<RosterDelta>(signal, { coalesceBy: (delta) => delta.row.agentId });
  // A change of memberships in view (or of the viewer's own) changes who is in view: the view
  // reads its scope again and sends a fresh snapshot (a row that left the scope would otherwise
  // stay on the client, and one that entered it would never arrive).
  let rescope = false;
  const viewerId = params.user.id;
  const unlistenTeams = deps.hub.onControl((message) => {
    // (A notice naming no agent is a change of skills or capacity: nobody entered or left a team.)
    if (message.k !== 'teams' || message.a.length === 0) return;
    if (teams === undefined || message.t.some((id) => teams!.includes(id)) || message.a.includes(viewerId)) {
      rescope = true;
      mailbox.nudge();
    }
  });
  const unsubscribe = deps.hub.subscribe((delta) => {
    if (!visible(delta.row)) return;
    if (live && write && mailbox.size === 0 && !backedUp() && !signal.aborted) {
      if (delta.eventId <= cursor) return;
      cursor = delta.eventId;
      writeChanges(cursor, [delta]);
      return;
    }
    mailbox.push(delta);
  });
  try {
    const resumeFrom = params.lastEventId;
    if (resumeFrom !== undefined && resumable(resumeFrom, await eventLogSpan(deps.db))) {
      cursor = resumeFrom;
      for (;;) {
        const page = await rosterDeltasAfter(deps.db, { afterId: cursor, limit: REPLAY_PAGE });
        let changes: RosterDelta[] = [];
        for (const delta of page) {
          cursor = delta.eventId;
          if (visible(delta.row)) changes.push(delta);
          if (changes.length === CHANGES_PER_MESSAGE) {
            yield* sendChanges(cursor, changes);
            changes = [];
          }
        }
        if (changes.length) yield* sendChanges(cursor, changes);
        if (page.length < REPLAY_PAGE) break;
      }
    } else {
      // Sent from a generator of its own, so no local of this long-lived one keeps the rows once sent
      // (a suspended generator keeps all its locals alive, and 5,000 rows per subscriber add up).
      cursor = yield* snapshotEvent(deps.db, teams, view, wrap, write);
    }
    live = true;
    while (await mailbox.arrival()) {
      if (rescope) {
        rescope = false;
        live = false; // changes wait in the mailbox until the snapshot is out; those it includes are skipped
        teams = await params.scope();
        cursor = yield* snapshotEvent(deps.db, teams, view, wrap, write);
        live = true;
      }
      if (write && backedUp()) {
        await drained(socket!, signal);
        if (signal.aborted) break;
      }
      // Everything pending goes out as one message (up to CHANGES_PER_MESSAGE).
      const changes: RosterDelta[] = [];
      let delta: RosterDelta | undefined;
      while (changes.length < CHANGES_PER_MESSAGE && (delta = mailbox.poll()) !== undefined) {
        if (delta.eventId <= cursor) continue;
        cursor = delta.eventId;
        changes.push(delta);
      }
      if (changes.length) yield* sendChanges(cursor, changes);
      if (!write && backedUp()) await drained(socket!, signal);
    }
  } finally {
    unsubscribe();
    unlistenTeams();
  }
}

/** Writes (with `write`) or yields the snapshot; returns the id of the last event it includes. */
async function* snapshotEvent<Row, Out>(
  db: Db,
  teams: TeamScope,
  view: View<Row>,
  wrap: Wrap<WatchEvent<Row>, Out>,
  write: ((eventId: number, json: string) => void) | undefined,
): AsyncGenerator<Out, number> {
  const snapshot = await snapshotReads(db).get(teams);
  if (write) write(snapshot.lastEventId, view.snapshotJson(snapshot));
  else yield wrap({ type: 'snapshot', eventId: snapshot.lastEventId, rows: view.snapshotRows(snapshot) });
  return snapshot.lastEventId;
}

export type SelfView = { eventId: number; row: RosterRow; devices: DeviceRow[] };

/** An agent's own row and devices: now, then again after each of its changes. */
export async function* watchSelf(
  deps: { db: Db; hub: Hub },
  params: { agentId: string; signal: AbortSignal },
): AsyncGenerator<SelfView> {
  const mailbox = new Mailbox<RosterDelta>(params.signal);
  const unsubscribe = deps.hub.subscribeAgent(params.agentId, (delta) => mailbox.push(delta));
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
