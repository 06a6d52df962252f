// Integration: who sees what of whom. Agents see their teammates' statuses (and
// since and last seen) and nothing more; supervisors see full rows, and devices,
// of their own teams only. The whole rule table: server/roster/privacy.test.ts.
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../node';
import { changeAgent } from '../presence/store';
import { httpClient, openDevice, signIn, socketClient } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { startTestNode } from '../testing/node';

let t: TestDatabase;
let node: RunningNode;
let green: Awaited<ReturnType<typeof seedTeam>>;
let gold: Awaited<ReturnType<typeof seedTeam>>;

beforeAll(async () => {
  t = await createTestDatabase();
  green = await seedTeam(t.db, { team: 'Green', agents: 3 });
  gold = await seedTeam(t.db, { team: 'Gold', agents: 2 });
  node = await startTestNode(t.url);
});
afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

const TEAMMATE_KEYS = ['agentId', 'lastSeenAt', 'lastSeenDay', 'name', 'since', 'sinceDay', 'status', 'teamIds', 'teams', 'version'];
const codeOf = (error: unknown) => (error instanceof TRPCClientError ? error.data?.code : String(error));
const setStatus = (agentId: string, status: 'busy' | 'away') =>
  changeAgent(node.services.db, { agentId, manual: { status, reason: 'manual' } });

describe('an agent’s view of their team', () => {
  it('lists teammates (themselves included) with status, since and last seen only', async () => {
    const cookie = await signIn(node.url, green.agents[0]!.email, TEST_PASSWORD);
    const { rows } = await httpClient(node.url, cookie).team.list.query();
    expect(rows.map((r) => r.agentId).sort()).toEqual(green.agents.map((a) => a.id).sort());
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(TEAMMATE_KEYS);
  });

  it('streams teammates’ changes and never another team’s, without devices, reason or note', async () => {
    const cookie = await signIn(node.url, green.agents[0]!.email, TEST_PASSWORD);
    const client = socketClient(node.url, cookie);
    const seen: Array<{ type: string; agentId?: string; keys?: string[] }> = [];
    const sub = client.trpc.team.watch.subscribe(undefined, {
      onData: ({ data }) => {
        if (data.type === 'snapshot') seen.push({ type: data.type });
        else for (const { row } of data.changes) seen.push({ type: 'change', agentId: row.agentId, keys: Object.keys(row).sort() });
      },
    });
    await expect.poll(() => seen.length).toBe(1);
    await setStatus(gold.agents[0]!.id, 'busy');
    await setStatus(green.agents[1]!.id, 'busy');
    await setStatus(gold.agents[1]!.id, 'away');
    await setStatus(green.agents[2]!.id, 'away');
    await expect.poll(() => seen.length).toBe(3);
    expect(seen.slice(1).map((e) => e.agentId)).toEqual([green.agents[1]!.id, green.agents[2]!.id]);
    expect(seen[1]?.keys).toEqual(TEAMMATE_KEYS);
    sub.unsubscribe();
    await client.close();
  });

  it('is refused the supervisor’s roster and device lists (FORBIDDEN)', async () => {
    const api = httpClient(node.url, await signIn(node.url, green.agents[0]!.email, TEST_PASSWORD));
    await expect(api.roster.list.query().catch(codeOf)).resolves.toBe('FORBIDDEN');
    await expect(api.roster.devices.query({ agentId: green.agents[1]!.id }).catch(codeOf)).resolves.toBe('FORBIDDEN');
  });

  it('is an agent’s view only: a supervisor asking for it is refused (FORBIDDEN)', async () => {
    const api = httpClient(node.url, await signIn(node.url, green.supervisor.email, TEST_PASSWORD));
    await expect(api.team.list.query().catch(codeOf)).resolves.toBe('FORBIDDEN');
  });
});

describe('roster.devices', () => {
  it('lists a supervised agent’s live devices, and hides another team’s agent (NOT_FOUND)', async () => {
    const agent = green.agents[2]!;
    const device = await openDevice(node.url, await signIn(node.url, agent.email, TEST_PASSWORD));
    const green$ = httpClient(node.url, await signIn(node.url, green.supervisor.email, TEST_PASSWORD));
    const devices = await green$.roster.devices.query({ agentId: agent.id });
    expect(devices).toEqual([expect.objectContaining({ sessionId: device.sessionId, activity: 'active', label: expect.any(String) })]);

    const gold$ = httpClient(node.url, await signIn(node.url, gold.supervisor.email, TEST_PASSWORD));
    await expect(gold$.roster.devices.query({ agentId: agent.id }).catch(codeOf)).resolves.toBe('NOT_FOUND');
    await device.close();
  });
});
