// The product under the fan-out load: two Switchboard nodes on one database
// (bench/presence-server.ts in batched mode: the product as `npm start` runs
// it, pages off). Every agent is a real device — a WebSocket holding a
// presence.session (bench/presence-devices.ts) — even-numbered agents on node
// a, odd on node b; a status change is presence.setStatus over that socket.
// The subscribers are tRPC WebSocket clients (server/testing/clients.ts) of
// roster.watch, alternately on a and b, each starting from its snapshot.
import { performance } from 'node:perf_hooks';
import { socketClient, type SocketClient } from '../server/testing/clients';
import type { Workspace } from './fanout-seed';
import type { Ledger } from './fanout-ledger';
import type { RunningSystem, ServerReport } from './fanout-load';
import { DeviceFleet } from './presence-devices';
import { spawnPresenceServer, type ServerProcess } from './presence-node';

const NODE_NAMES = ['bench-fanout-a', 'bench-fanout-b'] as const;
/** Devices attaching at once, over both nodes. */
const CONNECT_BATCH = 200;
const ATTACH_TIMEOUT_MS = 30_000;
const SNAPSHOT_TIMEOUT_MS = 60_000;
/** The devices send no heartbeats: their keep-alive answers keep the sessions live (see docs/api.md). */
const HEARTBEAT_INTERVAL_MS = 15_000;

export async function startSwitchboard(params: {
  databaseUrl: string;
  workspace: Workspace;
  ledger: Ledger;
  subscriberNodes: readonly number[];
}): Promise<RunningSystem> {
  const { workspace, ledger } = params;
  const servers: ServerProcess[] = [];
  const fleets: DeviceFleet[] = [];
  const subscribers: SocketClient[] = [];
  const trouble = { starts: 0, snapshots: 0, errors: [] as string[] };
  const stop = async (): Promise<ServerReport[]> => {
    await Promise.all(subscribers.splice(0).map((s) => s.close().catch(() => undefined)));
    for (const fleet of fleets.splice(0)) fleet.close();
    const reports: ServerReport[] = [];
    for (const [i, server] of servers.entries()) {
      const exitCode = await server.stop();
      reports.push({ name: NODE_NAMES[i] ?? `node ${i}`, exitCode, outputCount: server.outputCount(), output: server.output });
    }
    servers.splice(0);
    return reports;
  };

  try {
    // One after the other, as a deployment rolls out (both migrate on start).
    for (const nodeName of NODE_NAMES) {
      servers.push(await spawnPresenceServer({ mode: 'batched', databaseUrl: params.databaseUrl, nodeName, readyTimeoutMs: 60_000 }));
    }
    const urls = servers.map((s) => `http://127.0.0.1:${s.port}`);

    const connectStarted = performance.now();
    for (const [node, url] of urls.entries()) {
      fleets.push(
        new DeviceFleet({
          url: `${url.replace(/^http/, 'ws')}/api/trpc`,
          tokens: workspace.agents.filter((_, i) => i % 2 === node).map((a) => a.token),
          intervalMs: HEARTBEAT_INTERVAL_MS,
          jitter: 0,
          attachTimeoutMs: ATTACH_TIMEOUT_MS,
        }),
      );
    }
    const connected = await Promise.all(fleets.map((fleet) => fleet.connectAll(CONNECT_BATCH / fleets.length)));
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const failures: Record<string, number> = {};
    for (const result of connected) for (const [reason, n] of result.failures) failures[reason] = (failures[reason] ?? 0) + n;

    await Promise.all(
      params.subscriberNodes.map(async (node, index) => {
        const client = socketClient(urls[node] ?? '', `sb_session=${workspace.watcherTokens[index]}`, 'bench-fanout-watcher');
        subscribers.push(client);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`subscriber ${index} had no snapshot in ${SNAPSHOT_TIMEOUT_MS} ms`)), SNAPSHOT_TIMEOUT_MS);
          client.trpc.roster.watch.subscribe(undefined, {
            onStarted: () => (trouble.starts += 1),
            onData: ({ data }) => {
              const at = performance.now();
              if (data.type === 'snapshot') {
                trouble.snapshots += 1;
                for (const row of data.rows) ledger.knows(index, row.agentId, row.version, data.eventId);
                clearTimeout(timer);
                resolve();
              } else {
                for (const { eventId, row } of data.changes) ledger.received(index, { agentId: row.agentId, version: row.version, eventId }, at);
              }
            },
            onError: (error) => {
              trouble.errors.push(error.message);
              clearTimeout(timer);
              reject(error);
            },
          });
        });
      }),
    );

    return {
      servers: servers.map((s, i) => ({ name: NODE_NAMES[i] ?? `node ${i}`, pid: s.pid })),
      agents: workspace.agents,
      nodeOf: (index) => index % 2,
      setStatus: async (index, status) => {
        const fleet = fleets[index % 2];
        if (!fleet) throw new Error('not connected');
        const answer = (await fleet.mutate(Math.floor(index / 2), 'presence.setStatus', { status })) as { changed?: unknown; version?: unknown };
        if (typeof answer?.changed !== 'boolean' || typeof answer.version !== 'number') throw new Error('unexpected answer to presence.setStatus');
        return { changed: answer.changed, version: answer.version };
      },
      connected: {
        agents: workspace.agents.length,
        attached: connected.reduce((n, r) => n + r.attached, 0),
        seconds: connectSeconds,
        failures,
      },
      // onStarted fires once per (re)subscription; a second snapshot means a reconnect fell back to one.
      trouble: () => ({
        reconnects: Math.max(0, trouble.starts - params.subscriberNodes.length),
        resyncs: Math.max(0, trouble.snapshots - params.subscriberNodes.length),
        errors: [...trouble.errors],
        agentsDropped: fleets.reduce((n, f) => n + f.totals.ended + f.totals.closedAfterAttach, 0),
      }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
