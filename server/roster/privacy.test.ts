// Integration: the privacy rule table (PRIVACY_RULES in server/roster/visibility.ts,
// and the same table in docs/privacy.md) checked cell by cell on the wire. One
// agent, Ana, with a live device, an assigned ticket and a supervisor's forced
// away with a note, is looked at by every kind of viewer through the real
// procedures (roster.list, roster.watch's snapshot, roster.devices, team.list,
// team.watch's snapshot, presence.watchSelf, availability.get); each viewer
// must get exactly the keys and values the table gives it — with Ana's exact
// last-seen time shown, and again with it hidden.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUser } from '../../db/queries/people';
import { insertQueue } from '../../db/queries/queues';
import { agentDevices, rosterSnapshot, type DeviceRow, type RosterRow } from '../../db/queries/roster';
import { createApiKey } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import type { RunningNode } from '../node';
import { httpClient, keyClient, keySocketClient, openDevice, signIn, socketClient, type Device } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';
import { FIELDS, PRIVACY_RULES, VIEWERS, type Field, type Shown, type Viewer } from './visibility';

let t: TestDatabase;
let node: RunningNode;
let green: Awaited<ReturnType<typeof seedTeam>>;
let gold: Awaited<ReturnType<typeof seedTeam>>;
let ana: { id: string; email: string };
let device: Device;
let presenceKey: string;
let ticketsKey: string;
const cookies = {} as Record<'admin' | 'supervisor' | 'otherSupervisor' | 'teammate' | 'otherAgent' | 'self', string>;
const QUEUE = 'Green chat';

beforeAll(async () => {
  t = await createTestDatabase();
  green = await seedTeam(t.db, { team: 'Green', agents: 2 });
  gold = await seedTeam(t.db, { team: 'Gold', agents: 1 });
  ana = green.agents[0]!;
  await insertUser(t.db, { email: 'admin@privacy.test', name: 'Admin', role: 'admin', passwordHash: await hashPassword(TEST_PASSWORD) });
  await insertQueue(t.db, { name: QUEUE, teamId: green.teamId, offerMode: 'auto_accept' });
  // No keep-alive pings or lease ends during the test: a ping's answer renews a device's last-seen time.
  node = await startTestNode(t.url, { WS_PING_MS: '600000', SESSION_TTL_MS: '600000' });
  const emails = {
    admin: 'admin@privacy.test',
    supervisor: green.supervisor.email,
    otherSupervisor: gold.supervisor.email,
    teammate: green.agents[1]!.email,
    otherAgent: gold.agents[0]!.email,
    self: ana.email,
  };
  for (const [viewer, email] of Object.entries(emails)) cookies[viewer as keyof typeof cookies] = await signIn(node.url, email, TEST_PASSWORD);
  presenceKey = (await createApiKey(t.db, { integration: 'Desk', name: 'presence', scopes: ['presence:read'] })).key;
  ticketsKey = (await createApiKey(t.db, { integration: 'Desk', name: 'tickets', scopes: ['tickets:write', 'tickets:read'] })).key;

  // Ana: a live device (available), a ticket she holds, then forced away with a note.
  device = await openDevice(node.url, cookies.self);
  const desk = keyClient(node.url, ticketsKey);
  const { id } = await desk.tickets.create.mutate({ externalId: randomUUID(), queue: QUEUE, channel: 'chat', subject: 'Help' });
  // Offered and accepted (auto_accept) in the transaction that creates it.
  expect(await desk.tickets.get.query({ id })).toMatchObject({ state: 'assigned', agent: { id: ana.id } });
  expect((await truth()).row.load).toEqual({ chat: 1 });
  await httpClient(node.url, cookies.supervisor).presence.force.mutate({ agentId: ana.id, status: 'away', note: 'dentist at 3' });
});
afterAll(async () => {
  await device?.close();
  await node?.stop();
  await t?.drop();
});

type Row = Record<string, unknown> & { agentId: string };
const codeOf = (error: unknown) => (error instanceof TRPCClientError ? (error.data?.code as string) : String(error));

/** Ana as she is in the database, and her live devices. */
async function truth(): Promise<{ row: RosterRow; devices: DeviceRow[] }> {
  const { rows } = await rosterSnapshot(t.db, { agentId: ana.id });
  return { row: rows[0]!, devices: await agentDevices(t.db, { agentId: ana.id }) };
}

/** The keys of a roster row each field of the table is carried by. */
const ROW_KEYS: Record<Exclude<Field, 'deviceLabels' | 'deviceActivity'>, Array<keyof RosterRow>> = {
  name: ['name'],
  email: ['email'],
  teams: ['teamIds', 'teams'],
  status: ['status'],
  reason: ['reason'],
  since: ['since'],
  devices: ['devices'],
  lastSeen: ['lastSeenAt'],
  forced: ['forcedBy', 'note'],
  load: ['load'],
  hideLastSeen: ['hideLastSeen'],
};

/** The row the table says `viewer` gets of `row`; undefined when it gets no row of the agent at all. */
function expectedRow(viewer: Viewer, row: RosterRow): Row | undefined {
  const shownAtAll = (Object.keys(ROW_KEYS) as Array<keyof typeof ROW_KEYS>).some((f) => ['yes', 'day if hidden'].includes(PRIVACY_RULES[f][viewer]));
  if (!shownAtAll) return undefined;
  const out: Record<string, unknown> = { agentId: row.agentId, version: row.version };
  for (const [field, keys] of Object.entries(ROW_KEYS) as Array<[keyof typeof ROW_KEYS, Array<keyof RosterRow>]>) {
    const shown: Shown = PRIVACY_RULES[field][viewer];
    if (shown === 'yes') for (const key of keys) out[key] = row[key];
    if (shown === 'day if hidden') {
      const [key] = keys as ['since' | 'lastSeenAt'];
      const exact = row[key];
      out[key] = row.hideLastSeen ? null : exact;
      out[key === 'since' ? 'sinceDay' : 'lastSeenDay'] = exact === null ? null : exact.slice(0, 10);
    }
  }
  return out as Row;
}

type Seen = { rows: Array<{ via: string; row: Row | undefined }>; devices: { via: string; devices?: DeviceRow[]; refused?: string } };

const rowOf = (rows: readonly Row[]) => rows.find((r) => r.agentId === ana.id);

/** The first event of a live view (its snapshot), then stop. */
function snapshotOf(subscribe: (onData: (data: { type: string; rows?: Row[] }) => void, onError: (e: unknown) => void) => { unsubscribe(): void }) {
  return new Promise<Row[]>((resolve, reject) => {
    const sub = subscribe(
      (data) => {
        if (data.type !== 'snapshot') return;
        sub.unsubscribe();
        resolve(data.rows ?? []);
      },
      reject,
    );
  });
}

async function devicesVia(call: () => Promise<DeviceRow[]>): Promise<Seen['devices']> {
  try {
    return { via: 'roster.devices', devices: await call() };
  } catch (error) {
    return { via: 'roster.devices', refused: codeOf(error) };
  }
}

/** What `viewer` gets of Ana through the procedures it may call. */
async function seenBy(viewer: Exclude<Viewer, 'public'>): Promise<Seen> {
  if (viewer === 'integration') {
    const api = keyClient(node.url, presenceKey);
    const { rows } = await api.roster.list.query();
    return { rows: [{ via: 'roster.list', row: rowOf(rows as Row[]) }], devices: await devicesVia(() => api.roster.devices.query({ agentId: ana.id })) };
  }
  const cookie = cookies[viewer];
  const api = httpClient(node.url, cookie);
  const socket = socketClient(node.url, cookie);
  try {
    if (viewer === 'self') {
      const first = await new Promise<{ row: RosterRow; devices: DeviceRow[] }>((resolve, reject) => {
        const sub = socket.trpc.presence.watchSelf.subscribe(undefined, {
          onData: ({ data }) => {
            sub.unsubscribe();
            resolve(data);
          },
          onError: reject,
        });
      });
      return { rows: [{ via: 'presence.watchSelf', row: first.row as unknown as Row }], devices: { via: 'presence.watchSelf', devices: first.devices } };
    }
    if (viewer === 'teammate' || viewer === 'otherAgent') {
      const list = await api.team.list.query();
      const watched = await snapshotOf((onData, onError) => socket.trpc.team.watch.subscribe(undefined, { onData: ({ data }) => onData(data as never), onError }));
      return {
        rows: [
          { via: 'team.list', row: rowOf(list.rows as unknown as Row[]) },
          { via: 'team.watch', row: rowOf(watched) },
        ],
        devices: await devicesVia(() => api.roster.devices.query({ agentId: ana.id })),
      };
    }
    const list = await api.roster.list.query();
    const watched = await snapshotOf((onData, onError) => socket.trpc.roster.watch.subscribe(undefined, { onData: ({ data }) => onData(data as never), onError }));
    return {
      rows: [
        { via: 'roster.list', row: rowOf(list.rows as Row[]) },
        { via: 'roster.watch', row: rowOf(watched) },
      ],
      devices: await devicesVia(() => api.roster.devices.query({ agentId: ana.id })),
    };
  } finally {
    await socket.close();
  }
}

/** Device details are served whole or not at all: labels and activity share one rule per viewer. */
function expectDevices(viewer: Viewer, seen: Seen['devices'], devices: DeviceRow[]) {
  const labels = PRIVACY_RULES.deviceLabels[viewer];
  expect(PRIVACY_RULES.deviceActivity[viewer], `${viewer}: labels and activity are one procedure's`).toBe(labels);
  if (labels === 'yes') expect(seen, `${viewer} via ${seen.via}`).toStrictEqual({ via: seen.via, devices });
  else expect(seen.devices, `${viewer} via ${seen.via}`).toBeUndefined();
}

const PEOPLE = (Object.keys(VIEWERS) as Viewer[]).filter((v): v is Exclude<Viewer, 'public'> => v !== 'public');

describe.each([
  { hidden: false, title: 'with her last-seen time shown' },
  { hidden: true, title: 'with her last-seen time hidden' },
])('what each viewer sees of an agent $title', ({ hidden }) => {
  beforeAll(async () => {
    await httpClient(node.url, cookies.self).presence.setPrivacy.mutate({ hideLastSeen: hidden });
    expect((await truth()).row.hideLastSeen).toBe(hidden);
  });

  it.each(PEOPLE)('%s: exactly the fields and values of the rule table, by every procedure it may call', async (viewer) => {
    const { row, devices } = await truth();
    const seen = await seenBy(viewer);
    for (const { via, row: got } of seen.rows) expect(got, `${viewer} via ${via}`).toStrictEqual(expectedRow(viewer, row));
    expectDevices(viewer, seen.devices, devices);
  });

  it('public: counts of the queue’s agents and nothing else, for an anonymous caller', async () => {
    expect(Object.values(PRIVACY_RULES).map((rule) => rule.public)).toEqual(Object.keys(FIELDS).map((f) => (f === 'status' ? 'counted' : 'no')));
    const res = await fetch(`${node.url}/api/trpc/availability.get?input=${encodeURIComponent(JSON.stringify({ queue: QUEUE }))}`);
    expect(res.status).toBe(200);
    // Green: Ana away (forced) with a device, her teammate offline.
    expect(((await res.json()) as { result: { data: unknown } }).result.data).toStrictEqual({ queue: QUEUE, online: 1, available: 0 });
    const anonymous = httpClient(node.url);
    await expect(anonymous.roster.list.query().catch(codeOf)).resolves.toBe('UNAUTHORIZED');
    await expect(anonymous.team.list.query().catch(codeOf)).resolves.toBe('UNAUTHORIZED');
    await expect(anonymous.roster.devices.query({ agentId: ana.id }).catch(codeOf)).resolves.toBe('UNAUTHORIZED');
  });
});

describe('who reaches the roster list and device lists', () => {
  it('gives an integration key with presence:read every team’s agents, and refuses a key without it (FORBIDDEN)', async () => {
    const { rows } = await keyClient(node.url, presenceKey).roster.list.query();
    expect(rows.map((r) => r.agentId).sort()).toEqual([...green.agents, ...gold.agents].map((a) => a.id).sort());
    const narrowed = await keyClient(node.url, presenceKey).roster.list.query({ teamId: gold.teamId });
    expect(narrowed.rows.map((r) => r.agentId)).toEqual([gold.agents[0]!.id]);
    await expect(keyClient(node.url, ticketsKey).roster.list.query().catch(codeOf)).resolves.toBe('FORBIDDEN');
  });

  it('keeps device lists and the live roster to signed-in supervisors: a key is UNAUTHORIZED, another team’s supervisor NOT_FOUND, an agent FORBIDDEN', async () => {
    await expect(keyClient(node.url, presenceKey).roster.devices.query({ agentId: ana.id }).catch(codeOf)).resolves.toBe('UNAUTHORIZED');
    await expect(httpClient(node.url, cookies.otherSupervisor).roster.devices.query({ agentId: ana.id }).catch(codeOf)).resolves.toBe('NOT_FOUND');
    await expect(httpClient(node.url, cookies.teammate).roster.devices.query({ agentId: ana.id }).catch(codeOf)).resolves.toBe('FORBIDDEN');
    const socket = keySocketClient(node.url, presenceKey);
    const refused = await new Promise<string>((resolve) => {
      socket.trpc.roster.watch.subscribe(undefined, { onData: () => resolve('data'), onError: (error) => resolve(codeOf(error)) });
    });
    expect(refused).toBe('UNAUTHORIZED');
    await socket.close();
  });
});

describe('hiding the last-seen time', () => {
  it('reaches a teammate’s and a supervisor’s live views at once, and a teammate resuming from before it', async () => {
    await httpClient(node.url, cookies.self).presence.setPrivacy.mutate({ hideLastSeen: false });
    const teammate = socketClient(node.url, cookies.teammate);
    const supervisor = socketClient(node.url, cookies.supervisor);
    const teamSeen: Row[] = [];
    const rosterSeen: Row[] = [];
    let from = '';
    const teamSub = teammate.trpc.team.watch.subscribe(undefined, {
      onData: ({ id, data }) => {
        if (data.type === 'snapshot') from = id;
        else teamSeen.push(...data.changes.map((c) => c.row as unknown as Row).filter((r) => r.agentId === ana.id));
      },
    });
    const rosterSub = supervisor.trpc.roster.watch.subscribe(undefined, {
      onData: ({ data }) => {
        if (data.type === 'agents') rosterSeen.push(...data.changes.map((c) => c.row as Row).filter((r) => r.agentId === ana.id));
      },
    });
    await expect.poll(() => from).not.toBe('');

    const answer = await httpClient(node.url, cookies.self).presence.setPrivacy.mutate({ hideLastSeen: true });
    expect(answer).toEqual({ hideLastSeen: true, changed: true });
    const { row } = await truth();
    await expect.poll(() => teamSeen.length).toBe(1);
    expect(teamSeen[0]).toStrictEqual(expectedRow('teammate', row));
    expect(teamSeen[0]).toMatchObject({ lastSeenAt: null, lastSeenDay: row.lastSeenAt!.slice(0, 10), since: null });
    await expect.poll(() => rosterSeen.length).toBe(1);
    expect(rosterSeen[0]).toStrictEqual(expectedRow('supervisor', row));
    expect(rosterSeen[0]?.lastSeenAt).toBe(row.lastSeenAt);

    // A teammate who was cut off before the change gets it replayed, day only.
    const resumed: Row[] = [];
    const again = socketClient(node.url, cookies.teammate);
    const resumedSub = again.trpc.team.watch.subscribe(
      { lastEventId: from },
      { onData: ({ data }) => data.type === 'agents' && resumed.push(...data.changes.map((c) => c.row as unknown as Row)) },
    );
    await expect.poll(() => resumed.find((r) => r.agentId === ana.id)).toStrictEqual(expectedRow('teammate', row));
    for (const sub of [teamSub, rosterSub, resumedSub]) sub.unsubscribe();
    await Promise.all([teammate.close(), supervisor.close(), again.close()]);
  });

  it('records nothing when the choice is made again, and reads it back in the agent’s own view', async () => {
    const [before] = await t.sql`select count(*)::int as n from presence_events where agent_id = ${ana.id}`;
    const answer = await httpClient(node.url, cookies.self).presence.setPrivacy.mutate({ hideLastSeen: true });
    expect(answer).toEqual({ hideLastSeen: true, changed: false });
    const [after] = await t.sql`select count(*)::int as n from presence_events where agent_id = ${ana.id}`;
    expect(after?.n).toBe(before?.n);
    const seen = await seenBy('self');
    expect(seen.rows[0]?.row?.hideLastSeen).toBe(true);
  });

  it('is an agent’s choice only: refused to supervisors (FORBIDDEN) and anonymous callers (UNAUTHORIZED), and names a bad field', async () => {
    await expect(httpClient(node.url, cookies.supervisor).presence.setPrivacy.mutate({ hideLastSeen: true }).catch(codeOf)).resolves.toBe('FORBIDDEN');
    await expect(httpClient(node.url).presence.setPrivacy.mutate({ hideLastSeen: true }).catch(codeOf)).resolves.toBe('UNAUTHORIZED');
    const res = await fetch(`${node.url}/api/trpc/presence.setPrivacy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: node.url, cookie: cookies.self },
      body: JSON.stringify({ hideLastSeen: 'yes' }),
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { message: string } };
    expect(error.message).toMatch(/^Invalid input: hideLastSeen: /);
  });
});

describe('docs/privacy.md', () => {
  it('holds the rule table the code enforces, cell for cell', () => {
    const doc = readFileSync(new URL('../../docs/privacy.md', import.meta.url), 'utf8');
    expect(doc).toContain(rulesTable());
  });
});

/** The rule table as docs/privacy.md writes it. */
function rulesTable(): string {
  const cell: Record<Shown, string> = { yes: 'yes', no: '—', 'day if hidden': 'day if hidden', counted: 'counted' };
  const viewers = Object.keys(VIEWERS) as Viewer[];
  const lines = [
    `| | ${viewers.map((v) => VIEWERS[v]).join(' | ')} |`,
    `|---|${viewers.map(() => ':-:').join('|')}|`,
    ...(Object.keys(FIELDS) as Field[]).map((f) => `| ${FIELDS[f]} | ${viewers.map((v) => cell[PRIVACY_RULES[f][v]]).join(' | ')} |`),
  ];
  return lines.join('\n');
}
