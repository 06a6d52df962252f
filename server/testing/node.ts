// An in-process node (API only, no pages) on a test database, quiet, on a free
// port: what integration tests drive with real HTTP and WebSocket clients.
import { loadEnv } from '../env';
import { createLogger } from '../log';
import { startNode, type RunningNode } from '../node';

export function startTestNode(databaseUrl: string, env: Record<string, string> = {}): Promise<RunningNode> {
  return startNode({
    env: loadEnv({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', SEED: 'none', ...env }),
    log: createLogger({}, true),
    pages: false,
  });
}
