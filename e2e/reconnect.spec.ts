// The pages come through a restart of their node (issue 7, item 2): the tab
// shows that it is reconnecting, reconnects to the node's successor on the same
// port by itself (capped backoff, app/lib/trpc.ts), resumes its device session
// (same session, no offline in between, heartbeats again) and resumes its live
// views from the last event it had. The node that restarts is test-scoped; the
// worker's `node`, on the same database, stays up: a supervisor there watches
// the agent never go offline, and an agent there makes a change while the
// roster's node is down, which the roster, back on the restarted node, shows
// without a reload, from a replay after its `lastEventId` (read off the
// WebSocket frames), not from a new snapshot. A roster with nothing to catch up
// on must still show itself live again.
import type { Page, WebSocket } from '@playwright/test';
import { expect, test as base } from './fixtures';
import { freePort, spawnNode, type NodeProcess } from '../server/testing/spawn-node';

/**
 * Every node of this file's worker runs these, the restartable one and the
 * worker's (whose presence sweep would otherwise end the stopped node's sessions
 * after the fixtures' 1.5 s grace). Measured here, a stop takes ~0.1 s and a
 * start ~1.5 s, and the tab needs up to its 5 s backoff cap to find the new
 * node: 15 s of grace covers the outage with room to spare on a loaded machine.
 * Heartbeats every 2 s, so their resumption shows within the test; the session
 * TTL outlasts the outage too (a sweep would end the session `timeout`).
 */
const TIMING = { HEARTBEAT_INTERVAL_MS: '2000', SESSION_TTL_MS: '20000', DISCONNECT_GRACE_MS: '15000' };

/** A node that stops and starts again on the same port, as a supervisor restarting it would. */
type RestartableNode = {
  /** The process running now (the first one until a restart): what `signIn` signs in through. */
  running: () => NodeProcess;
  /** Stops the node (SIGTERM, a clean exit); resolves with how long it took, in ms. */
  stop: () => Promise<number>;
  /** Starts its successor on the same port; resolves with how long it took to listen, in ms. */
  start: () => Promise<number>;
};

const test = base.extend<{ restartable: RestartableNode }>({
  restartable: async ({ databaseUrl, sql }, use) => {
    void sql; // the worker's node migrates and seeds first
    const port = await freePort();
    const env = { DATABASE_URL: databaseUrl, NODE_NAME: 'node-restarted', PORT: String(port), ...TIMING };
    let running: NodeProcess | undefined = await spawnNode(env);
    const url = running.url;
    await use({
      running: () => {
        if (!running) throw new Error('the node is stopped');
        return running;
      },
      stop: async () => {
        const started = performance.now();
        expect(await running!.stop('SIGTERM')).toBe(0);
        running = undefined;
        return Math.round(performance.now() - started);
      },
      start: async () => {
        const started = performance.now();
        running = await spawnNode(env);
        expect(running.url).toBe(url);
        return Math.round(performance.now() - started);
      },
    });
    if (running) expect(await running.stop('SIGTERM')).toBe(0);
  },
});

test.use({ nodeEnv: TIMING });

/**
 * After the node is back: 5 s for the tab's next attempt (its backoff cap, jitter
 * only shortens it), then the connection and the page's update, with a margin.
 */
const BACK_WITHIN_MS = 8_000;

/** Records how long the page took to show `text` in `locator` (for the report), and asserts it. */
async function timeUntil(locator: ReturnType<Page['getByRole']>, text: string, timeout: number): Promise<number> {
  const started = performance.now();
  await expect(locator).toHaveText(text, { timeout });
  return Math.round(performance.now() - started);
}

function note(type: string, description: string) {
  test.info().annotations.push({ type, description });
  console.log(`${type}: ${description}`);
}

/** Starts recording every text the element at `selector` shows from now on; the function returned reads them. */
async function textsShown(page: Page, selector: string): Promise<() => Promise<string[]>> {
  const key = await page.evaluate((selector) => {
    const seen: string[] = [];
    const shown = ((window as unknown as { shown?: string[][] }).shown ??= []);
    shown.push(seen);
    const element = document.querySelector(selector)!;
    new MutationObserver(() => seen.push(element.textContent ?? '')).observe(element, { characterData: true, childList: true, subtree: true });
    return shown.length - 1;
  }, selector);
  return () => page.evaluate((key) => (window as unknown as { shown: string[][] }).shown[key]!, key);
}

test('an agent tab keeps its device session through a restart of its node, and its heartbeats resume', async ({
  signIn,
  restartable,
  node,
  sql,
}) => {
  const roster = await signIn('supervisor@example.com', node);
  const ada = roster.getByRole('row', { name: 'Ada Brooks' });
  const agent = await signIn('agent1@example.com', restartable.running());
  const connection = agent.getByRole('status', { name: 'Connection' });
  await expect(connection).toHaveText('Connected');
  await expect(agent.getByLabel('Current status')).toHaveText('Available');
  await expect(ada.getByTestId('status')).toHaveText('Available');
  const supervisorSaw = await textsShown(roster, 'tr[aria-label="Ada Brooks"] [data-testid="status"]');
  const agentSaw = await textsShown(agent, '[aria-label="Connection"]');

  const live = () => sql<Array<{ id: string; node_id: string; generation: number; last_seen_at: Date }>>`
    select s.id, s.node_id, s.generation, s.last_seen_at
      from device_sessions s join users u on u.id = s.agent_id
     where u.email = 'agent1@example.com' and s.ended_at is null`;
  const [before, ...others] = await live();
  expect(others).toHaveLength(0);
  const [{ last }] = await sql<[{ last: number }]>`select coalesce(max(id), 0)::int as last from presence_events`;

  note('stop', `${await restartable.stop()} ms`);
  await expect(connection).toHaveText('Reconnecting…');
  // Nothing to click while the socket is down: a click would open a socket outside the backoff.
  await expect(agent.getByLabel('Set status')).toBeDisabled();
  note('start', `${await restartable.start()} ms`);
  note('agent page connected again after the start', `${await timeUntil(connection, 'Connected', BACK_WITHIN_MS)} ms`);

  // The same session, attached to the restarted node (a new node id), never ended.
  await expect
    .poll(async () => {
      const rows = await live();
      return rows.map((s) => ({ id: s.id, moved: s.node_id !== before!.node_id, reattached: s.generation > before!.generation }));
    })
    .toEqual([{ id: before!.id, moved: true, reattached: true }]);
  const offline = await sql`select e.id from presence_events e join users u on u.id = e.agent_id
                             where u.email = 'agent1@example.com' and e.id > ${last} and e.status = 'offline'`;
  expect(offline).toHaveLength(0);
  expect(await supervisorSaw()).toEqual([]); // the agent never looked offline, nor anything else

  // Heartbeats (every 2 s) move last_seen_at on past the reattach, which set it once.
  const [attached] = await live();
  await expect
    .poll(async () => (await live())[0]!.last_seen_at.getTime() - attached!.last_seen_at.getTime(), { timeout: 8_000 })
    .toBeGreaterThanOrEqual(1_500);

  // The agent's own live view was resumed too: a change shows on the page through it.
  await agent.getByLabel('Set status').selectOption('busy');
  await expect(agent.getByLabel('Current status')).toHaveText('Busy');
  await expect(ada.getByTestId('status')).toHaveText('Busy');
  // Reconnected once, to stay: no socket opened first and then replaced (a flicker back to "Reconnecting…").
  expect(await agentSaw()).toEqual(['Reconnecting…', 'Connected']);
});

type WatchRequest = { id: number; lastEventId?: string };
type Frame = { id?: number; method?: string; params?: { path?: string; lastEventId?: string } };

/** The roster.watch requests a page sends and the first data answering each, socket by socket. */
function watchFrames(page: Page) {
  const sockets: Array<{ requests: WatchRequest[]; answers: Map<number, unknown> }> = [];
  page.on('websocket', (ws: WebSocket) => {
    const socket = { requests: [] as WatchRequest[], answers: new Map<number, unknown>() };
    sockets.push(socket);
    ws.on('framesent', ({ payload }) => {
      const sent = JSON.parse(String(payload)) as Frame | Frame[];
      for (const m of Array.isArray(sent) ? sent : [sent]) {
        if (m.method === 'subscription' && m.params?.path === 'roster.watch') socket.requests.push({ id: m.id!, lastEventId: m.params.lastEventId });
      }
    });
    ws.on('framereceived', ({ payload }) => {
      const text = String(payload);
      if (text === 'PING' || text === 'PONG') return;
      // A tracked event's data is `{ id, data }`: the id is what the client resumes from.
      const got = JSON.parse(text) as { id?: number; result?: { type?: string; data?: { data?: unknown } } };
      const request = socket.requests.find((r) => r.id === got.id);
      if (request && got.result?.type === 'data' && !socket.answers.has(request.id)) socket.answers.set(request.id, got.result.data?.data);
    });
  });
  return sockets;
}

test('a roster on a restarted node shows a change made elsewhere while it was down, resumed from its last event', async ({
  signIn,
  restartable,
  node,
  sql,
}) => {
  const roster = await signIn('supervisor@example.com', restartable.running());
  const connection = roster.getByRole('status', { name: 'Connection' });
  const row = roster.getByRole('row', { name: 'Ben Carter' });
  const frames = watchFrames(roster);
  const agent = await signIn('agent2@example.com', node);
  await expect(row.getByTestId('status')).toHaveText('Available');
  await expect(connection).toHaveText('Live');

  note('stop', `${await restartable.stop()} ms`);
  await expect(connection).toHaveText('Reconnecting…');
  await agent.getByLabel('Set status').selectOption('busy');
  await expect(agent.getByLabel('Current status')).toHaveText('Busy');
  const [busy] = await sql<[{ id: number }]>`select max(e.id)::int as id from presence_events e join users u on u.id = e.agent_id
                                              where u.email = 'agent2@example.com' and e.status = 'busy'`;
  expect(busy?.id).toBeGreaterThan(0);
  await expect(row.getByTestId('status')).toHaveText('Available'); // nothing reaches a page whose node is down

  note('start', `${await restartable.start()} ms`);
  note('roster live again after the start', `${await timeUntil(connection, 'Live', BACK_WITHIN_MS)} ms`);
  await expect(row.getByTestId('status')).toHaveText('Busy');

  // The page's first socket got a snapshot; its socket to the restarted node asked
  // to resume after the last event it had, and got the change, not a new snapshot.
  const [first, ...later] = frames;
  expect(first?.requests).toHaveLength(1);
  expect(first?.answers.get(first.requests[0]!.id)).toMatchObject({ type: 'snapshot' });
  const resumed = later.find((s) => s.requests.length > 0 && s.answers.size > 0);
  expect(resumed?.requests[0]?.lastEventId).toMatch(/^\d+$/);
  expect(Number(resumed!.requests[0]!.lastEventId)).toBeLessThan(busy!.id);
  expect(resumed!.answers.get(resumed!.requests[0]!.id)).toMatchObject({
    type: 'agents',
    changes: expect.arrayContaining([
      expect.objectContaining({ eventId: busy!.id, row: expect.objectContaining({ name: 'Ben Carter', status: 'busy' }) }),
    ]),
  });
});

test('a roster on a restarted node shows itself live again when nothing changed while it was down', async ({ signIn, restartable }) => {
  const roster = await signIn('supervisor@example.com', restartable.running());
  const connection = roster.getByRole('status', { name: 'Connection' });
  await expect(roster.getByRole('row', { name: 'Ben Carter' })).toBeVisible();
  await expect(connection).toHaveText('Live');

  note('stop', `${await restartable.stop()} ms`);
  await expect(connection).toHaveText('Reconnecting…');
  note('start', `${await restartable.start()} ms`);
  // Resumed after its last event, the view gets no data: only the server's start says it is live.
  note('roster live again after the start, nothing changed', `${await timeUntil(connection, 'Live', BACK_WITHIN_MS)} ms`);
});
