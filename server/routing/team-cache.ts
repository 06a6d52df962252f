// What a node knows of each routed team, kept current from the event feeds it
// already tails, so a claim ranks agents without reading the whole team from
// the database (one read per arriving ticket made PostgreSQL the bottleneck).
// Status and load come with every roster row (newer versions only); the last
// offer time with every `offered` ticket event; skills, capacity overrides and
// membership are read again every few seconds, and at once after a `teams`
// notice (team-changes.ts: an admin changed them). Being a little behind is safe:
// a claim locks the agent it picked and re-checks status and load under the
// lock (store.ts `lockIfAble`); it can only cost a missed chance, which the
// kick that the same feed event causes makes up for.
import { sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../../db/client';
import type { RosterRow } from '../../db/queries/roster';
import type { Capacity, Channel } from '../../db/schema';
import type { TicketDelta } from '../realtime/hub';

export const CHANNELS: readonly Channel[] = ['chat', 'email', 'phone', 'task'];

/** One agent of a team, as a claim ranks them. */
export type AgentFacts = {
  agentId: string;
  skills: string[];
  /** Open tickets per channel (absent: none). */
  load: Partial<Record<Channel, number>>;
  capacity: Partial<Capacity>;
  /** When the agent was last offered a ticket, ms since the epoch (ranked on every claim: parsed once). */
  lastOfferedAt: number | null;
};

/** The queue's team as a claim sees it: agents with room in full, the others counted. */
export type Team = {
  /** Available agents with spare capacity on at least one channel. */
  available: AgentFacts[];
  notAvailable: number;
  /** Available agents with no spare capacity on any channel (at capacity for every ticket). */
  full: number;
  /** What a claim found under an agent's lock, to correct the source it ranked from. */
  correct?: (row: { agentId: string; status: string; load: Partial<Record<Channel, number>>; version: number; lastOfferedAt?: number }) => void;
};

type Member = AgentFacts & { available: boolean; version: number };

/** How long a team's skills, capacity overrides and membership are trusted. */
const REFRESH_MS = 5_000;

export function hasRoom(agent: AgentFacts, defaults: Partial<Capacity>, channel: Channel): boolean {
  return (agent.load[channel] ?? 0) < (agent.capacity[channel] ?? defaults[channel] ?? 0);
}

/** Sorts a team's members into what a claim needs. */
export function teamOf(members: Iterable<Member>, defaults: Partial<Capacity>): Team {
  const team: Team = { available: [], notAvailable: 0, full: 0 };
  for (const m of members) {
    if (!m.available) team.notAvailable += 1;
    else if (CHANNELS.some((c) => hasRoom(m, defaults, c))) team.available.push(m);
    else team.full += 1;
  }
  return team;
}

/** Every agent of a team with what ranking needs, read now. */
export async function readTeam(db: DbOrTx, teamId: string): Promise<Member[]> {
  const rows = await db.execute<Omit<Member, 'lastOfferedAt'> & { lastOfferedAt: string | null }>(sql`
    select p.agent_id as "agentId", p.status = 'available' as available, p.version, p.load,
           coalesce(r.capacity, '{}') as capacity, r.last_offered_at as "lastOfferedAt",
           coalesce((select array_agg(s.skill) from agent_skills s where s.agent_id = p.agent_id), '{}') as skills
      from team_members tm
      join agent_presence p on p.agent_id = tm.user_id
      left join agent_routing r on r.agent_id = tm.user_id
     where tm.team_id = ${teamId}::uuid and tm.role = 'agent'`);
  return rows.map((r) => ({ ...r, lastOfferedAt: r.lastOfferedAt === null ? null : Date.parse(r.lastOfferedAt) }));
}

export class TeamCache {
  /** `stale`: known to be out of date (a `teams` notice): claims wait for the next read. */
  private readonly teams = new Map<string, { members: Map<string, Member>; readAt: number; stale?: boolean }>();
  private readonly reading = new Map<string, Promise<Map<string, Member>>>();
  /** Bumped by each `forget`: a read begun before it does not store what it read. */
  private readonly generation = new Map<string, number>();

  constructor(private readonly db: Db) {}

  /** The team of `queue`, from memory (read first if unknown or due for a refresh). */
  async team(queue: { teamId: string; capacity: Partial<Capacity> }): Promise<Team> {
    const members = await this.members(queue.teamId);
    return {
      ...teamOf(members.values(), queue.capacity),
      correct: (row) => {
        const member = members.get(row.agentId);
        if (!member || row.version <= member.version) return;
        Object.assign(member, { available: row.status === 'available', load: row.load, version: row.version });
        if (row.lastOfferedAt) member.lastOfferedAt = row.lastOfferedAt;
      },
    };
  }

  private async members(teamId: string): Promise<Map<string, Member>> {
    const known = this.teams.get(teamId);
    const trusted = known && !known.stale ? known : undefined;
    if (trusted && Date.now() - trusted.readAt < REFRESH_MS) return trusted.members;
    let reading = this.reading.get(teamId);
    if (!reading) {
      const readAt = Date.now();
      const generation = this.generation.get(teamId) ?? 0;
      const read: Promise<Map<string, Member>> = readTeam(this.db, teamId)
        .then((rows) => {
          const members = new Map(rows.map((m) => [m.agentId, m]));
          // Feed updates that arrived during the read and are newer than it stay.
          const during = this.teams.get(teamId)?.members;
          if (during) {
            for (const [id, m] of members) {
              const newer = during.get(id);
              if (newer && newer.version > m.version) members.set(id, { ...m, available: newer.available, load: newer.load, version: newer.version });
            }
          }
          // A read that began before a change was announced may have missed it: only a later read is stored.
          if ((this.generation.get(teamId) ?? 0) === generation) this.teams.set(teamId, { members, readAt });
          return members;
        })
        .finally(() => {
          if (this.reading.get(teamId) === read) this.reading.delete(teamId);
        });
      reading = read;
      this.reading.set(teamId, reading);
    }
    // A due refresh still answers from memory meanwhile; a team known to have changed waits for the read.
    return trusted?.members ?? reading;
  }

  /**
   * The agents of these teams changed (membership, skills, capacity
   * overrides): the next claim on each reads it again first. Reads already
   * under way may predate the change, so they are not waited for.
   */
  forget(teamIds: Iterable<string>): void {
    for (const teamId of teamIds) {
      this.generation.set(teamId, (this.generation.get(teamId) ?? 0) + 1);
      this.reading.delete(teamId);
      const known = this.teams.get(teamId);
      if (known) known.stale = true;
    }
  }

  /**
   * A roster row from the presence feed. Returns whether it may have made
   * room (the agent became available, or their load fell): the caller routes
   * the agent's queues then.
   */
  onPresence(row: RosterRow): boolean {
    let madeRoom = false;
    for (const [teamId, team] of this.teams) {
      const member = team.members.get(row.agentId);
      if (!member) {
        if (row.teamIds.includes(teamId)) team.readAt = 0; // a new member: read the team again
        continue;
      }
      if (row.version <= member.version) continue;
      const available = row.status === 'available';
      if (available && (!member.available || CHANNELS.some((c) => (row.load[c] ?? 0) < (member.load[c] ?? 0)))) madeRoom = true;
      member.available = available;
      member.load = row.load;
      member.version = row.version;
    }
    return madeRoom;
  }

  /** A ticket event from the ticket feed: an offer moves its agent back in the round. */
  onTicket(delta: TicketDelta): void {
    if (delta.type !== 'offered' || !delta.agentId) return;
    for (const team of this.teams.values()) {
      const member = team.members.get(delta.agentId);
      if (!member) continue;
      const at = Date.parse(delta.at);
      if (member.lastOfferedAt === null || member.lastOfferedAt < at) member.lastOfferedAt = at;
    }
  }
}
