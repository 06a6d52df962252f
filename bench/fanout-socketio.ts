// The baseline under the same fan-out load: two Socket.IO servers
// (bench/fanout-socketio-server.ts) joined by @socket.io/postgres-adapter on
// the same kind of database. Every agent is a socket.io-client socket
// (WebSocket transport, like the product's devices), even-numbered agents on
// server a, odd on b; a status change is `setStatus` with an acknowledgement.
// The subscribers are socket.io-client sockets that `watch` (join the roster
// room), alternately on a and b, again after any reconnect.
import { performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { Workspace } from './fanout-seed';
import type { Ledger } from './fanout-ledger';
import type { RunningSystem, ServerReport } from './fanout-load';
import type { SocketIoStats } from './fanout-socketio-server';
import { spawnServerProcess, type ServerProcess } from './lib/server-process';
import { SERVER_ENV } from './presence-modes';

const SERVER_NAMES = ['socketio-a', 'socketio-b'] as const;
/** Sockets connecting at once, over both servers (as for the product's devices). */
const CONNECT_BATCH = 200;
const CONNECT_TIMEOUT_MS = 30_000;
const ANSWER_TIMEOUT_MS = 30_000;

type AgentEvent = { type: 'agent'; row: { agentId: string; version: number } };

function connect(url: string, token: string, reconnection: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection, auth: { token }, timeout: CONNECT_TIMEOUT_MS });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

export async function startSocketIo(params: {
  databaseUrl: string;
  workspace: Workspace;
  ledger: Ledger;
  subscriberNodes: readonly number[];
}): Promise<RunningSystem> {
  const { workspace, ledger } = params;
  const servers: Array<ServerProcess<SocketIoStats>> = [];
  const agents: Array<Socket | undefined> = [];
  const subscribers: Socket[] = [];
  const trouble = { connects: 0, errors: [] as string[], agentsDropped: 0 };
  const stop = async (): Promise<ServerReport[]> => {
    for (const socket of [...subscribers.splice(0), ...agents.splice(0)]) socket?.close();
    const reports: ServerReport[] = [];
    for (const [i, server] of servers.entries()) {
      const exitCode = await server.stop();
      reports.push({ name: SERVER_NAMES[i] ?? `server ${i}`, exitCode, outputCount: server.outputCount(), output: server.output });
    }
    servers.splice(0);
    return reports;
  };

  try {
    for (const name of SERVER_NAMES) {
      servers.push(
        await spawnServerProcess<SocketIoStats>({
          script: 'bench/fanout-socketio-server.ts',
          label: `the ${name} server`,
          env: { [SERVER_ENV.databaseUrl]: params.databaseUrl },
          readyTimeoutMs: 30_000,
        }),
      );
    }
    const urls = servers.map((s) => `http://127.0.0.1:${s.port}`);

    const connectStarted = performance.now();
    const failures: Record<string, number> = {};
    for (let first = 0; first < workspace.agents.length; first += CONNECT_BATCH) {
      const batch = workspace.agents.slice(first, first + CONNECT_BATCH);
      const results = await Promise.allSettled(batch.map((agent, i) => connect(urls[(first + i) % 2] ?? '', agent.token, false)));
      for (const result of results) {
        if (result.status === 'fulfilled') {
          agents.push(result.value);
          result.value.once('disconnect', (reason) => {
            if (reason !== 'io client disconnect') trouble.agentsDropped += 1;
          });
        } else {
          agents.push(undefined);
          const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
          failures[reason] = (failures[reason] ?? 0) + 1;
        }
      }
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;

    await Promise.all(
      params.subscriberNodes.map(async (node, index) => {
        const socket = await connect(urls[node] ?? '', workspace.watcherTokens[index] ?? '', true);
        subscribers.push(socket);
        socket.on('agent', (event: AgentEvent) => {
          const at = performance.now();
          ledger.received(index, { agentId: event.row.agentId, version: event.row.version }, at);
        });
        const watch = async () => {
          trouble.connects += 1;
          await socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('watch');
        };
        socket.on('connect', () => void watch().catch((error: Error) => trouble.errors.push(error.message)));
        await watch();
      }),
    );

    return {
      servers: servers.map((s, i) => ({ name: SERVER_NAMES[i] ?? `server ${i}`, pid: s.pid })),
      agents: workspace.agents,
      nodeOf: (index) => index % 2,
      setStatus: async (index, status) => {
        const socket = agents[index];
        if (!socket?.connected) throw new Error(`agent ${index} is not connected`);
        const answer = (await socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('setStatus', status)) as
          | { changed: boolean; version: number }
          | { error: string };
        if ('error' in answer) throw new Error(answer.error);
        return answer;
      },
      connected: {
        agents: workspace.agents.length,
        attached: agents.filter(Boolean).length,
        seconds: connectSeconds,
        failures,
      },
      trouble: () => ({
        reconnects: Math.max(0, trouble.connects - params.subscriberNodes.length),
        resyncs: 0,
        errors: [...trouble.errors],
        agentsDropped: trouble.agentsDropped,
      }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
