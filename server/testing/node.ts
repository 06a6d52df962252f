// An in-process node (API only, no pages) on a test database, quiet, on a free
// port: what integration tests drive with real HTTP and WebSocket clients.
import { randomUUID } from 'node:crypto';
import { loadEnv } from '../env';
import { createLogger } from '../log';
import { startNode, type RunningNode } from '../node';

export function startTestNode(databaseUrl: string, env: Record<string, string> = {}): Promise<RunningNode> {
  return startNode({
    // Each its own name: a node registering under a live node's name takes it for its own earlier run and marks it stopped.
    env: loadEnv({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', SEED: 'none', NODE_NAME: `test-${randomUUID().slice(0, 8)}`, ...env }),
    log: createLogger({}, true),
    pages: false,
  });
}
