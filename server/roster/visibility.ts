// Who may see which agents, and how much of each: the one place the privacy
// rules of presence live. `PRIVACY_RULES` is the rule table (docs/privacy.md
// holds the same table, and a test holds the two equal); the scopes below say
// whose rows a viewer gets, the views say which fields of each row.
//   admin               every agent, the full row
//   supervisor          agents of the teams they supervise, the full row
//   teammate (agent)    agents of their own teams (themselves included): name,
//                       teams, status, and since and last seen: exact, or only
//                       the day when that agent hides their last-seen time
//   integration key     every agent (`presence:read`): what a supervisor sees
//                       but device details and a supervisor's forced-by/note,
//                       and the times as teammates see them
//   public              counts per queue, nobody in particular
// An agent's own row and devices come from presence.watchSelf, never from here.
// server/roster/privacy.test.ts checks every cell of the table on the wire.
import type { Db } from '../../db/client';
import { membershipTeamIds, visibleTeamIds, type SessionUser } from '../../db/queries/people';
import type { RosterRow } from '../../db/queries/roster';

/** Who looks at an agent. */
export const VIEWERS = {
  admin: 'admin',
  supervisor: 'supervisor of the agent’s team',
  otherSupervisor: 'supervisor of another team',
  teammate: 'teammate (agent)',
  otherAgent: 'agent of another team',
  self: 'the agent themself',
  integration: 'API key with `presence:read`',
  public: 'public availability answer',
} as const;
export type Viewer = keyof typeof VIEWERS;

/** What of an agent may be seen, and where it is on the wire. */
export const FIELDS = {
  name: 'name (`name`)',
  email: 'email (`email`)',
  teams: 'teams (`teamIds`, `teams`)',
  status: 'status (`status`)',
  reason: 'reason (`reason`)',
  since: 'since (`since`, `sinceDay`)',
  devices: 'device count (`devices`)',
  deviceLabels: 'device labels (`Device.label`)',
  deviceActivity: 'per-device activity and last heartbeat (`Device.activity`, `connectedAt`, `lastSeenAt`)',
  lastSeen: 'last seen (`lastSeenAt`, `lastSeenDay`)',
  forced: 'forced by, and the note (`forcedBy`, `note`)',
  load: 'open tickets per channel (`load`)',
  hideLastSeen: 'the last-seen choice (`hideLastSeen`)',
} as const;
export type Field = keyof typeof FIELDS;

/**
 * `yes`: shown as it is. `no`: not sent at all (the key is absent).
 * `day if hidden`: exact, unless the agent hides their last-seen time; then
 * the exact key is null and the `…Day` key carries the day only (UTC).
 * `counted`: only in a count of agents, never one agent's.
 */
export type Shown = 'yes' | 'no' | 'day if hidden' | 'counted';

const all = (shown: Shown): Record<Viewer, Shown> =>
  ({ admin: shown, supervisor: shown, otherSupervisor: 'no', teammate: shown, otherAgent: 'no', self: shown, integration: shown, public: 'no' });
const managers = (integration: Shown): Record<Viewer, Shown> => ({ ...all('yes'), teammate: 'no', integration });

/**
 * The rule table. Supervisors of other teams and agents of other teams see
 * nothing of the agent (the agent is not in their lists, and asking for its
 * devices is NOT_FOUND or FORBIDDEN).
 * - Teammates share a desk: who is there and since when, nothing about
 *   devices, why (idle, forced), or work.
 * - `since` follows the last-seen choice too: an offline agent's `since` is
 *   the moment they were last seen, so hiding one and not the other hides nothing.
 * - Integrations act for the organisation but their output is read by people
 *   outside management: no device details, no supervisor's note, and the
 *   agent's last-seen choice holds for them as for teammates.
 */
export const PRIVACY_RULES: Record<Field, Record<Viewer, Shown>> = {
  name: all('yes'),
  email: managers('yes'),
  teams: all('yes'),
  status: { ...all('yes'), public: 'counted' },
  reason: managers('yes'),
  since: { ...all('yes'), teammate: 'day if hidden', integration: 'day if hidden' },
  devices: managers('yes'),
  deviceLabels: managers('no'),
  deviceActivity: managers('no'),
  lastSeen: { ...all('yes'), teammate: 'day if hidden', integration: 'day if hidden' },
  forced: managers('no'),
  load: managers('yes'),
  hideLastSeen: managers('no'),
};

/** The day (UTC, `YYYY-MM-DD`) of an ISO time. */
const dayOf = (iso: string) => iso.slice(0, 10);

/** Times as teammates and integrations see them: exact, or the day only when the agent hides them. */
export type SharedTimes = { since: string | null; sinceDay: string; lastSeenAt: string | null; lastSeenDay: string | null };

function sharedTimes(row: RosterRow): SharedTimes {
  const hidden = row.hideLastSeen;
  return {
    since: hidden ? null : row.since,
    sinceDay: dayOf(row.since),
    lastSeenAt: hidden ? null : row.lastSeenAt,
    lastSeenDay: row.lastSeenAt === null ? null : dayOf(row.lastSeenAt),
  };
}

/** What an agent sees of a teammate. */
export type TeammateRow = Pick<RosterRow, 'agentId' | 'name' | 'teamIds' | 'teams' | 'status' | 'version'> & SharedTimes;

export function teammateView(row: RosterRow): TeammateRow {
  const { agentId, name, teamIds, teams, status, version } = row;
  return { agentId, name, teamIds, teams, status, ...sharedTimes(row), version };
}

/** What an integration's key with `presence:read` sees of an agent. */
export type IntegrationRow = Pick<RosterRow, 'agentId' | 'name' | 'email' | 'teamIds' | 'teams' | 'status' | 'reason' | 'devices' | 'load' | 'version'> &
  SharedTimes;

export function integrationView(row: RosterRow): IntegrationRow {
  const { agentId, name, email, teamIds, teams, status, reason, devices, load, version } = row;
  return { agentId, name, email, teamIds, teams, status, reason, ...sharedTimes(row), devices, load, version };
}

/** Supervisors and admins (and the agent themself) see the row as it is. */
export const supervisorView = (row: RosterRow): RosterRow => row;

/** Teams in view, narrowed to `teamId` when given; undefined means every team. */
export type TeamScope = string[] | undefined;

function narrow(teams: TeamScope, teamId: string | undefined): TeamScope {
  if (!teamId) return teams;
  return !teams || teams.includes(teamId) ? [teamId] : [];
}

/** The teams whose agents a supervisor (or admin) sees in full. */
export async function supervisedScope(db: Db, params: { user: SessionUser; teamId?: string }): Promise<TeamScope> {
  return narrow(await visibleTeamIds(db, { user: params.user }), params.teamId);
}

/** The teams whose agents an agent sees as teammates. */
export async function teammateScope(db: Db, params: { user: SessionUser; teamId?: string }): Promise<string[]> {
  return narrow(await membershipTeamIds(db, { userId: params.user.id, role: 'agent' }), params.teamId) ?? [];
}

/** The teams whose agents an integration sees: every team (keys belong to the organisation, not a team). */
export function integrationScope(params: { teamId?: string }): TeamScope {
  return narrow(undefined, params.teamId);
}

export function inScope(teams: TeamScope, row: Pick<RosterRow, 'teamIds'>): boolean {
  return !teams || row.teamIds.some((id) => teams.includes(id));
}
