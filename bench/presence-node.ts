// Starts bench/presence-server.ts as a child process (bench/lib/server-process.ts
// does the talking: READY, engine stats, what else it prints, SIGTERM).
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { ROOT, spawnServerProcess, type ServerProcess as ChildServer } from './lib/server-process';
import { SERVER_ENV, type Mode, type ServerStats } from './presence-modes';

export { ROOT };

export type ServerProcess = ChildServer<ServerStats>;

export function spawnPresenceServer(options: {
  mode: Mode;
  databaseUrl: string;
  redisUrl?: string;
  redisKey?: string;
  /** NODE_NAME; distinct per node when several share a database (default `bench-<mode>`). */
  nodeName?: string;
  readyTimeoutMs: number;
}): Promise<ServerProcess> {
  return spawnServerProcess<ServerStats>({
    script: 'bench/presence-server.ts',
    label: `the ${options.nodeName ?? options.mode} server`,
    env: {
      [SERVER_ENV.mode]: options.mode,
      [SERVER_ENV.databaseUrl]: options.databaseUrl,
      [SERVER_ENV.redisUrl]: options.redisUrl ?? '',
      [SERVER_ENV.redisKey]: options.redisKey ?? '',
      [SERVER_ENV.nodeName]: options.nodeName ?? '',
    },
    readyTimeoutMs: options.readyTimeoutMs,
    nodeFlags: SERVER_NODE_FLAGS,
  });
}
