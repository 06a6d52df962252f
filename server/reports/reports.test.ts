// Exactness: a scripted day of presence and ticket events (written into the
// two logs at given times, as the engine and the router write them) gives the
// totals worked out by hand below, to the second, through reports.* over real
// HTTP, for a supervisor, an admin and a key. Also: who may read which agents,
// and bad input named by field.
//
// The day D is 2026-11-02 (UTC). Agents and what they did:
//   A (team North): offline until 08:00, available until 12:00, away until
//     12:45, available until 17:30, busy until 18:00, offline after. Holds
//     T1 09:00:20–09:30:20 and T2 09:10:10–09:40:10 (one island of 2,390 s),
//     T6 11:50:30–12:10:30 (570 s of it before going away at 12:00) and T4
//     17:20:30–17:50:30 (across available→busy: all staffed). Missed T3,
//     declined T5. First accepts: T1 50 s, T2 10 s, T6 30 s, T4 30 s.
//   B (team North): available since the day before until 06:00, offline until
//     11:00, available until 20:00, offline after. Holds T7 from the day
//     before to 00:05:00 (300 s in D), T3 12:00:00–12:20:00 and T6
//     12:11:30–12:15:30 (inside T3's: 1,200 s together), T5 13:00:40–13:10:40
//     (600 s), and T10 from 19:00:20, still open (17,980 s to midnight, 3,580 s
//     of them available). First accepts: T3 60 s, T5 40 s, T10 20 s (T6 was
//     A's first, T7's was the day before).
//   C (teams North and South): no change before D; the first after D is
//     away→available on D+1, so C was away all of D (retention may have
//     deleted the change before: the next one's previous status tells).
//   E (team South): no change at all; busy now, so busy all of D.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertQueue } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import type { RunningNode } from '../node';
import { httpClient, keyClient, signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import { insertUser } from '../../db/queries/people';
import { hashPassword } from '../auth/password';
import { reportCsv } from './csv';
import type { Figures } from './report';

const D = '2026-11-02';
const range = { from: `${D}T00:00:00Z`, to: '2026-11-03T00:00:00Z' };

let t: TestDatabase;
let node: RunningNode;
let north: Awaited<ReturnType<typeof seedTeam>>;
let south: Awaited<ReturnType<typeof seedTeam>>;
let A: string;
let B: string;
let C: string;
let E: string;
let adminCookie: string;
let reportsKey: string;
let ticketsKey: string;

/** Status changes (and one device-only change of A's), committed in time order as the engine commits them. */
async function presence(agentId: string, rows: [string, string, string][]) {
  for (const [when, previous, status] of rows) {
    await t.sql`insert into presence_events (agent_id, version, status, previous_status, reason, since, devices, at)
                values (${agentId}, 1, ${status}, ${previous}, 'manual', ${when}, 1, ${when})`;
  }
}

type Step = [time: string, ticket: string, type: string, agent: string | null];

beforeAll(async () => {
  t = await createTestDatabase();
  north = await seedTeam(t.db, { team: 'North', agents: 2 });
  south = await seedTeam(t.db, { team: 'South', agents: 1 });
  [A, B] = north.agents.map((a) => a.id) as [string, string];
  E = south.agents[0]!.id;
  C = (
    await insertUser(t.db, {
      email: 'c@both.test',
      name: 'Both C',
      role: 'agent',
      passwordHash: await hashPassword(TEST_PASSWORD),
      teamIds: [north.teamId, south.teamId],
    })
  ).id;
  await insertUser(t.db, { email: 'admin@reports.test', name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  // The scripted day is in the past: the agents existed before it.
  await t.sql`update users set created_at = '2026-10-01T00:00:00Z'`;
  await t.sql`update agent_presence set status = 'busy', reason = 'manual', devices = 1 where agent_id = ${E}`;
  await t.sql`update agent_presence set status = 'available', reason = 'manual', devices = 1 where agent_id = ${C}`;

  const y = (time: string) => `2026-11-01T${time}Z`;
  const d = (time: string) => `${D}T${time}Z`;
  await presence(A, [
    [y('20:00:00'), 'available', 'offline'],
    [d('08:00:00'), 'offline', 'available'],
    [d('10:00:00'), 'available', 'available'], // a second device: no status change
    [d('12:00:00'), 'available', 'away'],
    [d('12:45:00'), 'away', 'available'],
    [d('17:30:00'), 'available', 'busy'],
    [d('18:00:00'), 'busy', 'offline'],
  ]);
  await presence(B, [
    [y('22:00:00'), 'offline', 'available'],
    [d('06:00:00'), 'available', 'offline'],
    [d('11:00:00'), 'offline', 'available'],
    [d('20:00:00'), 'available', 'offline'],
  ]);
  await presence(C, [['2026-11-03T09:00:00Z', 'away', 'available']]);

  const queue = await insertQueue(t.db, { name: 'North queue', teamId: north.teamId });
  const key = await createApiKey(t.db, { integration: 'Helpdesk', name: 'tickets', scopes: ['tickets:read'] });
  ticketsKey = key.key;
  reportsKey = (await createApiKey(t.db, { integration: 'BI', name: 'reports', scopes: ['reports:read'] })).key;
  const created: Record<string, string> = {
    T1: d('08:59:30'), T2: d('09:10:00'), T3: d('11:59:00'), T4: d('17:20:00'), T5: d('13:00:00'),
    T6: d('11:50:00'), T7: y('23:50:00'), T10: d('19:00:00'),
  };
  const ended: Record<string, [string, 'completed' | 'cancelled'] | undefined> = {
    T1: [d('09:30:20'), 'completed'], T2: [d('09:40:10'), 'completed'], T3: [d('12:20:00'), 'completed'],
    T4: [d('17:50:30'), 'completed'], T5: [d('13:10:40'), 'completed'], T6: [d('12:15:30'), 'cancelled'],
    T7: [d('00:05:00'), 'completed'], T10: undefined,
  };
  const ids: Record<string, string> = {};
  for (const [name, createdAt] of Object.entries(created)) {
    const end = ended[name];
    const [row] = await t.sql<{ id: string }[]>`
      insert into tickets (integration_id, external_id, queue_id, channel, subject, state, agent_id, created_at, queued_at, ended_at)
      values (${key.integrationId}, ${name}, ${queue.id}, 'chat', ${name}, ${end ? end[1] : 'assigned'},
              ${end ? null : B}, ${createdAt}, ${createdAt}, ${end ? end[0] : null})
      returning id`;
    ids[name] = row!.id;
  }
  const steps: Step[] = [
    [y('23:50:00'), 'T7', 'created', null], [y('23:50:10'), 'T7', 'offered', B], [y('23:55:00'), 'T7', 'accepted', B],
    [d('00:05:00'), 'T7', 'completed', B],
    [d('08:59:30'), 'T1', 'created', null], [d('09:00:00'), 'T1', 'offered', A], [d('09:00:20'), 'T1', 'accepted', A],
    [d('09:10:00'), 'T2', 'created', null], [d('09:10:05'), 'T2', 'offered', A], [d('09:10:10'), 'T2', 'accepted', A],
    [d('09:30:20'), 'T1', 'completed', A], [d('09:40:10'), 'T2', 'completed', A],
    [d('11:50:00'), 'T6', 'created', null], [d('11:50:00'), 'T6', 'offered', A], [d('11:50:30'), 'T6', 'accepted', A],
    [d('11:59:00'), 'T3', 'created', null], [d('11:59:10'), 'T3', 'offered', A], [d('11:59:40'), 'T3', 'offer_expired', A],
    [d('11:59:45'), 'T3', 'offered', B], [d('12:00:00'), 'T3', 'accepted', B],
    [d('12:10:30'), 'T6', 'released', A], [d('12:11:00'), 'T6', 'offered', B], [d('12:11:30'), 'T6', 'accepted', B],
    [d('12:15:30'), 'T6', 'cancelled', B], [d('12:20:00'), 'T3', 'completed', B],
    [d('13:00:00'), 'T5', 'created', null], [d('13:00:00'), 'T5', 'offered', A], [d('13:00:05'), 'T5', 'declined', A],
    [d('13:00:10'), 'T5', 'offered', B], [d('13:00:40'), 'T5', 'accepted', B], [d('13:10:40'), 'T5', 'completed', B],
    [d('17:20:00'), 'T4', 'created', null], [d('17:20:00'), 'T4', 'offered', A], [d('17:20:30'), 'T4', 'accepted', A],
    [d('17:50:30'), 'T4', 'completed', A],
    [d('19:00:00'), 'T10', 'created', null], [d('19:00:00'), 'T10', 'offered', B], [d('19:00:20'), 'T10', 'accepted', B],
  ];
  const stateAfter: Record<string, string> = {
    created: 'queued', offered: 'offered', accepted: 'assigned', offer_expired: 'queued', declined: 'queued',
    released: 'queued', completed: 'completed', cancelled: 'cancelled',
  };
  for (const [when, ticket, type, agent] of steps) {
    await t.sql`insert into ticket_events (ticket_id, integration_id, type, state, agent_id, version, at)
                values (${ids[ticket]!}, ${key.integrationId}, ${type}, ${stateAfter[type]!}, ${agent}, 1, ${when})`;
  }

  node = await startTestNode(t.url);
  adminCookie = await signIn(node.url, 'admin@reports.test', TEST_PASSWORD);
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

/** Figures as the hand computation gives them; unlisted statuses are 0. */
function figures(f: {
  seconds: Partial<Figures['seconds']>;
  working: number;
  staffedWorking: number;
  offers?: Partial<Figures['offers']>;
  handled?: number;
  waits?: [tickets: number, p50: number, p90: number];
}): Figures {
  const seconds = { available: 0, busy: 0, away: 0, offline: 0, ...f.seconds };
  const staffed = seconds.available + seconds.busy;
  return {
    seconds,
    staffedSeconds: staffed,
    workingSeconds: f.working,
    staffedWorkingSeconds: f.staffedWorking,
    occupancy: staffed > 0 ? Math.round((f.staffedWorking / staffed) * 10_000) / 10_000 : null,
    offers: { offered: 0, accepted: 0, declined: 0, missed: 0, ...f.offers },
    handled: f.handled ?? 0,
    wait: f.waits ? { tickets: f.waits[0], p50Seconds: f.waits[1], p90Seconds: f.waits[2] } : { tickets: 0, p50Seconds: null, p90Seconds: null },
  };
}

// A: 8 h + 6 h offline, 4 h + 4 h 45 min available, 45 min away, 30 min busy.
const agentA = figures({
  seconds: { offline: 28_800 + 21_600, available: 14_400 + 17_100, away: 2_700, busy: 1_800 },
  working: 2_390 + 1_200 + 1_800,
  staffedWorking: 2_390 + 570 + 1_800,
  offers: { offered: 6, accepted: 4, declined: 1, missed: 1 },
  handled: 3,
  waits: [4, 30, 44], // 10 30 30 50: p50 between 30 and 30, p90 = 30 + 0.7 × 20
});
// B: 6 h + 9 h available, 5 h + 4 h offline.
const agentB = figures({
  seconds: { available: 21_600 + 32_400, offline: 18_000 + 14_400 },
  working: 300 + 1_200 + 600 + 17_980,
  staffedWorking: 300 + 1_200 + 600 + 3_580,
  offers: { offered: 4, accepted: 4 },
  handled: 3,
  waits: [3, 40, 56], // 20 40 60: p90 = 40 + 0.8 × 20
});
const agentC = figures({ seconds: { away: 86_400 }, working: 0, staffedWorking: 0 });
const agentE = figures({ seconds: { busy: 86_400 }, working: 0, staffedWorking: 0 });
const teamNorth = figures({
  seconds: { available: 85_500, busy: 1_800, away: 2_700 + 86_400, offline: 50_400 + 32_400 },
  working: 5_390 + 20_080,
  staffedWorking: 4_760 + 5_680,
  offers: { offered: 10, accepted: 8, declined: 1, missed: 1 },
  handled: 6,
  waits: [7, 30, 54], // 10 20 30 30 40 50 60: p90 = 50 + 0.4 × 10
});
const teamSouth = figures({ seconds: { away: 86_400, busy: 86_400 }, working: 0, staffedWorking: 0 });
const everyone = figures({
  seconds: { available: 85_500, busy: 1_800 + 86_400, away: 2_700 + 86_400, offline: 50_400 + 32_400 },
  working: 25_470,
  staffedWorking: 10_440,
  offers: { offered: 10, accepted: 8, declined: 1, missed: 1 },
  handled: 6,
  waits: [7, 30, 54],
});

const pick = <T extends Figures>(row: T | undefined): Figures => {
  if (!row) throw new Error('row missing');
  const { seconds, staffedSeconds, workingSeconds, staffedWorkingSeconds, occupancy, offers, handled, wait } = row;
  return { seconds, staffedSeconds, workingSeconds, staffedWorkingSeconds, occupancy, offers, handled, wait };
};

describe('a scripted day', () => {
  it('gives each agent the hand-computed figures, to the second', async () => {
    const report = await httpClient(node.url, adminCookie).reports.agents.query(range);
    expect(report.range).toEqual({ ...range, from: `${D}T00:00:00.000Z`, to: '2026-11-03T00:00:00.000Z', timeZone: 'UTC' });
    const byId = new Map(report.agents.map((a) => [a.agentId, a]));
    expect(pick(byId.get(A))).toEqual(agentA);
    expect(pick(byId.get(B))).toEqual(agentB);
    expect(pick(byId.get(C))).toEqual(agentC);
    expect(pick(byId.get(E))).toEqual(agentE);
    expect(report.total).toEqual(everyone);
    expect(byId.get(C)?.teams).toEqual(['North', 'South']);
  });

  it('gives each team its agents together, and the total counts an agent of two teams once', async () => {
    const report = await keyClient(node.url, reportsKey).reports.teams.query(range);
    expect(report.teams.map((row) => [row.name, row.agents])).toEqual([['North', 3], ['South', 2]]);
    expect(pick(report.teams[0])).toEqual(teamNorth);
    expect(pick(report.teams[1])).toEqual(teamSouth);
    expect(report.total).toEqual(everyone);
  });

  it('gives the same figures in one overview as in the three reports', async () => {
    const admin = httpClient(node.url, adminCookie);
    const [overview, agents, teams, daily] = await Promise.all([
      admin.reports.overview.query(range),
      admin.reports.agents.query(range),
      admin.reports.teams.query(range),
      admin.reports.daily.query(range),
    ]);
    expect(overview.agents).toEqual(agents.agents);
    expect(overview.teams).toEqual(teams.teams);
    expect(overview.days).toEqual(daily.days);
    expect(overview.days.map((d) => d.day)).toEqual([D]);
    expect(overview.total).toEqual(everyone);
  });

  it('cuts days at the time zone’s midnight: Paris is UTC+1 in November', async () => {
    const report = await httpClient(node.url, adminCookie).reports.daily.query({ ...range, timeZone: 'Europe/Paris', agentId: A });
    expect(report.days.map((day) => day.day)).toEqual(['2026-11-02', '2026-11-03']);
    // 18:00–23:00 UTC is the 2nd in Paris; 23:00–24:00 UTC is the 3rd.
    expect(report.days[0]?.seconds).toEqual({ offline: 28_800 + 18_000, available: 31_500, away: 2_700, busy: 1_800 });
    expect(report.days[1]?.seconds).toEqual({ offline: 3_600, available: 0, away: 0, busy: 0 });
    expect(pick({ ...report.total })).toEqual(agentA);
  });

  it('counts a 25-hour day when the clocks go back', async () => {
    // Paris left summer time on 2026-10-25: that day lasted 25 hours. C was away throughout.
    const report = await httpClient(node.url, adminCookie).reports.daily.query({
      from: '2026-10-24T22:00:00Z',
      to: '2026-10-26T23:00:00Z',
      timeZone: 'Europe/Paris',
      agentId: C,
    });
    expect(report.days.map((day) => [day.day, day.seconds.away])).toEqual([
      ['2026-10-25', 90_000],
      ['2026-10-26', 86_400],
    ]);
  });

  it('is the same in CSV: one line per agent, seconds and counts as the report has them', async () => {
    const report = await httpClient(node.url, adminCookie).reports.agents.query(range);
    const lines = reportCsv('agents', report).trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'agent_id,name,email,teams,available_s,busy_s,away_s,offline_s,staffed_s,working_s,occupancy_pct,offered,accepted,declined,missed,handled,wait_tickets,wait_p50_s,wait_p90_s',
    );
    const a = lines.find((line) => line.startsWith(A));
    expect(a).toBe(`${A},North agent 1,agent1@north.test,North,31500,1800,2700,50400,33300,5390,14.29,6,4,1,1,3,4,30,44`);
    expect(lines.at(-1)).toBe(`total,,,,85500,88200,89100,82800,173700,25470,6.01,10,8,1,1,6,7,30,54`);
  });
});

describe('who may read reports', () => {
  it('shows a supervisor the agents of their teams only', async () => {
    const cookie = await signIn(node.url, north.supervisor.email, TEST_PASSWORD);
    const report = await httpClient(node.url, cookie).reports.agents.query(range);
    expect(report.agents.map((a) => a.agentId).sort()).toEqual([A, B, C].sort());
    const teams = await httpClient(node.url, cookie).reports.teams.query(range);
    expect(teams.teams.map((row) => row.name)).toEqual(['North']);
    expect(pick(teams.teams[0])).toEqual(teamNorth);
    await expect(httpClient(node.url, cookie).reports.daily.query({ ...range, agentId: E })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND' },
      message: 'agentId: no such agent in your teams',
    });
    const other = await httpClient(node.url, cookie).reports.agents.query({ ...range, teamId: south.teamId });
    expect(other.agents).toEqual([]);
  });

  it('refuses agents, and keys without reports:read', async () => {
    const cookie = await signIn(node.url, north.agents[0]!.email, TEST_PASSWORD);
    await expect(httpClient(node.url, cookie).reports.agents.query(range)).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } });
    await expect(keyClient(node.url, ticketsKey).reports.agents.query(range)).rejects.toMatchObject({
      data: { code: 'FORBIDDEN' },
      message: 'This API key lacks the reports:read scope',
    });
    await expect(httpClient(node.url).reports.agents.query(range)).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
  });
});

describe('bad input', () => {
  const admin = () => httpClient(node.url, adminCookie);
  it.each([
    [{ from: range.to, to: range.from }, 'to: must be after from'],
    [{ from: '2025-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' }, 'to: at most 366 days after from'],
    [{ from: '2026-11-02', to: range.to }, 'from: an ISO 8601 time with its offset'],
    [{ from: '0000-01-01T00:00:00Z', to: '0000-01-02T00:00:00Z' }, 'from: a time between 1970 and 9999'],
    [{ ...range, timeZone: 'Mars/Olympus_Mons' }, 'timeZone: an IANA time zone'],
    [{ ...range, teamId: 'north' }, 'teamId:'],
  ])('%j is refused, naming the field', async (input, message) => {
    const error = await admin()
      .reports.agents.query(input as typeof range)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ data: { code: 'BAD_REQUEST' } });
    expect((error as Error).message).toContain(message);
  });

  it('cuts a range that ends in the future at now', async () => {
    const before = Date.now();
    const report = await admin().reports.agents.query({ from: `${D}T00:00:00Z`, to: new Date(Date.now() + 86_400_000).toISOString() });
    const to = Date.parse(report.range.to);
    expect(to).toBeGreaterThanOrEqual(before - 1_000);
    expect(to).toBeLessThanOrEqual(Date.now() + 1_000);
    // Every agent has a status for every second from the start of D to now.
    const span = (to - Date.parse(`${D}T00:00:00Z`)) / 1000;
    for (const row of report.agents) {
      const sum = row.seconds.available + row.seconds.busy + row.seconds.away + row.seconds.offline;
      expect(Math.abs(sum - span)).toBeLessThan(0.05);
    }
  });
});
