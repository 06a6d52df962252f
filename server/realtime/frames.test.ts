// The live views' own frames (frames.ts), on a real node over a raw
// WebSocket: requests as any tRPC client may send them — batched, with or
// without jsonrpc, string or numeric ids — get frames a tRPC client reads as
// its own, each under its own request's id; a stopped subscription gets no
// more; the node counts what it wrote itself.
import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../node';
import { changeAgent } from '../presence/store';
import { signIn } from '../testing/clients';
import { startTestNode } from '../testing/node';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { trackedFrame } from './frames';
import { deliveryStats } from './mailbox';

describe('trackedFrame', () => {
  it('is the envelope tRPC sends for a tracked event', () => {
    const data = { type: 'agents', eventId: 7, changes: [{ eventId: 7, row: { name: 'Ada "A" Lovelace' } }] };
    for (const target of [{ id: 3, jsonrpc: false }, { id: 'sub-1', jsonrpc: true }]) {
      // What the ws adapter builds: result { type: 'data', id, data: { id, data } } around the yielded value.
      const envelope = { id: target.id, ...(target.jsonrpc ? { jsonrpc: '2.0' } : {}), result: { type: 'data', id: '7', data: { id: '7', data } } };
      expect(JSON.parse(trackedFrame(target, '7', JSON.stringify(data)))).toEqual(envelope);
    }
  });
});

describe('roster.watch over a raw socket', () => {
  let t: TestDatabase;
  let node: RunningNode;
  let team: Awaited<ReturnType<typeof seedTeam>>;

  beforeAll(async () => {
    t = await createTestDatabase();
    team = await seedTeam(t.db, { team: 'Frames', agents: 2 });
    node = await startTestNode(t.url);
  });
  afterAll(async () => {
    await node?.stop();
    await t?.drop();
  });

  type Frame = { id: string | number | null; jsonrpc?: string; result?: { type: string; id?: string; data?: { id: string; data: { type: string; changes?: Array<{ row: { agentId: string; version: number } }> } } } };

  it('writes each request its own frames, in tRPC’s format, until it is stopped', async () => {
    const socket = new WebSocket(`${node.url.replace('http', 'ws')}/api/trpc`, {
      headers: { cookie: await signIn(node.url, team.supervisor.email, TEST_PASSWORD) },
    });
    const frames: Frame[] = [];
    socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
    await once(socket, 'open');
    const of = (id: string | number, type: string) => frames.filter((f) => f.id === id && f.result?.type === type);
    const written = deliveryStats.framesWritten;

    // Two requests in one batch, as tRPC's client sends them when they leave together.
    socket.send(JSON.stringify([
      { id: 1, method: 'subscription', params: { path: 'roster.watch', input: undefined } },
      { id: 'b', jsonrpc: '2.0', method: 'subscription', params: { path: 'roster.watch', input: { teamId: team.teamId } } },
    ]));
    await expect.poll(() => [of(1, 'data').length, of('b', 'data').length]).toEqual([1, 1]);
    for (const id of [1, 'b']) {
      expect(of(id, 'started')).toHaveLength(1);
      const [snapshot] = of(id, 'data');
      expect(snapshot!.result!.data!.data.type).toBe('snapshot');
      expect(snapshot!.result!.id).toBe(snapshot!.result!.data!.id);
    }
    expect(of('b', 'data')[0]!.jsonrpc).toBe('2.0');
    expect(of(1, 'data')[0]!).not.toHaveProperty('jsonrpc');

    // Forced, with a note: a new version of the agent's row, device or not.
    const agent = team.agents[0]!;
    const force = async (note: string) =>
      (await changeAgent(node.services.db, { agentId: agent.id, manual: { status: 'away', reason: 'forced', note } })).version;
    const versions = (id: string | number) =>
      of(id, 'data').flatMap((f) => f.result!.data!.data.changes ?? []).filter((c) => c.row.agentId === agent.id).map((c) => c.row.version);
    const first = await force('first');
    await expect.poll(() => [versions(1), versions('b')]).toEqual([[first], [first]]);
    expect(deliveryStats.framesWritten - written).toBe(4);

    // Stopped: tRPC says so, and the node writes that request nothing more.
    socket.send(JSON.stringify({ id: 1, method: 'subscription.stop' }));
    await expect.poll(() => of(1, 'stopped').length).toBe(1);
    const second = await force('second');
    await expect.poll(() => versions('b')).toEqual([first, second]);
    expect(versions(1)).toEqual([first]);

    // Resuming from the last id seen (as tRPC's client does on reconnect) replays what came after it.
    const resumeFrom = of('b', 'data')[1]!.result!.id!;
    socket.send(JSON.stringify({ id: 2, method: 'subscription', params: { path: 'roster.watch', input: { teamId: team.teamId }, lastEventId: resumeFrom } }));
    await expect.poll(() => versions(2)).toEqual([second]);
    expect(of(2, 'data').map((f) => f.result!.data!.data.type)).toEqual(['agents']);
    socket.close();
  });
});
