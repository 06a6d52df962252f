// Who may see which agents, and how much of each: the one place the roster's
// visibility rules live.
//   admin      every agent, the full row (devices, last seen, forced by/why)
//   supervisor agents of the teams they supervise, the full row
//   agent      agents of their own teams (themselves included), status only:
//              no email, device count, last-seen time or supervisor's note
// An agent's own devices come from presence.watchSelf, never from here.
import type { Db } from '../../db/client';
import { membershipTeamIds, visibleTeamIds, type SessionUser } from '../../db/queries/people';
import type { RosterRow } from '../../db/queries/roster';

/** What an agent sees of a teammate. */
export type TeammateRow = Pick<RosterRow, 'agentId' | 'name' | 'teamIds' | 'teams' | 'status' | 'since' | 'version'>;

export function teammateView(row: RosterRow): TeammateRow {
  const { agentId, name, teamIds, teams, status, since, version } = row;
  return { agentId, name, teamIds, teams, status, since, version };
}

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

export function inScope(teams: TeamScope, row: Pick<RosterRow, 'teamIds'>): boolean {
  return !teams || row.teamIds.some((id) => teams.includes(id));
}
