// The fault suite's world: a workspace seeded in bulk (thousands of agents,
// each with a browser sign-in whose cookie token its tab presents; a desk team
// with a queue; a supervisor; an integration's key), and a cluster of real
// node processes on it (server/main.ts, as `npm start` runs it) that can be
// killed, stopped and started again on the same port under the same name.
import { insertTeam, insertUser } from '../../db/queries/people';
import { insertQueue } from '../../db/queries/queues';
import { createApiKey } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import type { Db, Sql } from '../../db/client';
import { insertAgentsInBulk } from '../testing/bulk-agents';
import { freePort, spawnNode, type NodeProcess } from '../testing/spawn-node';
import { TEST_PASSWORD } from '../testing/database';

export type Crew = { teamId: string; agentIds: string[]; tokens: string[] };

/** `count` agents in a new team `name`, each signed in once (one cookie token each). Bulk SQL: thousands take a second. */
export async function seedCrew(sql: Sql, db: Db, params: { name: string; count: number }): Promise<Crew> {
  const team = await insertTeam(db, { name: params.name });
  const { ids, tokens } = await sql.begin((tx) =>
    insertAgentsInBulk(tx, { teamId: team.id, emailPrefix: params.name.toLowerCase(), domain: 'faults.test', name: params.name, count: params.count }),
  );
  return { teamId: team.id, agentIds: ids, tokens };
}

/** A supervisor of `teamIds` (signs in with TEST_PASSWORD), a queue for the first team, and a ticketing system's key. */
export async function seedDesk(db: Db, params: { teamIds: string[]; queueTeamId: string }) {
  const supervisor = 'supervisor@faults.test';
  await insertUser(db, { email: supervisor, name: 'Fault supervisor', role: 'supervisor', passwordHash: await hashPassword(TEST_PASSWORD), teamIds: params.teamIds });
  await insertQueue(db, { name: 'Desk chat', teamId: params.queueTeamId, capacity: { chat: 3, email: 5, phone: 1, task: 5 } });
  const { key } = await createApiKey(db, { integration: 'Fault desk', name: 'fault suite', scopes: ['tickets:write', 'tickets:read'] });
  return { supervisor, key };
}

/** Node processes on one database, each on its own port under its own name, restartable in place. */
export class Cluster {
  private readonly nodes: Array<{ name: string; port: number; process: NodeProcess | undefined }> = [];
  /** The output of every process that ran, in order of start, for the report of a failed run. */
  private readonly ran: Array<{ name: string; output: () => string }> = [];

  constructor(private readonly env: Record<string, string>) {}

  async start(count: number): Promise<void> {
    for (let i = 1; i <= count; i++) this.nodes.push({ name: `node-${i}`, port: await freePort(), process: undefined });
    // One at a time: the first migrates; starting them together on two cores only slows each.
    for (let i = 0; i < count; i++) await this.startNode(i);
  }

  get urls(): string[] {
    return this.nodes.map((n) => `http://127.0.0.1:${n.port}`);
  }

  /** Nodes whose process is running: where the front sends a connection (it skips a node that refuses it). */
  get runningUrls(): string[] {
    return this.nodes.filter((n) => n.process).map((n) => `http://127.0.0.1:${n.port}`);
  }

  name(i: number): string {
    return this.nodes[i]!.name;
  }

  pid(i: number): number {
    const pid = this.nodes[i]?.process?.child.pid;
    if (!pid) throw new Error(`node ${i + 1} is not running`);
    return pid;
  }

  async startNode(i: number): Promise<void> {
    const node = this.nodes[i]!;
    node.process = await spawnNode({ ...this.env, PORT: String(node.port), NODE_NAME: node.name, SEED: 'none' });
    this.ran.push({ name: node.name, output: node.process.output });
  }

  /** Every node process's output so far, each under a heading. */
  logs(): string {
    return this.ran.map((r) => `==== ${r.name}\n${r.output()}`).join('\n');
  }

  /** SIGKILL: the process dies at once, its sockets reset, its row left as it was. */
  kill(i: number): Promise<number | null> {
    const node = this.nodes[i]!;
    const stopped = node.process!.stop('SIGKILL');
    node.process = undefined;
    return stopped;
  }

  /** SIGTERM, as a deploy stops a node; resolves with the exit code. */
  stop(i: number): Promise<number | null> {
    const node = this.nodes[i]!;
    const stopped = node.process!.stop('SIGTERM');
    node.process = undefined;
    return stopped;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.process?.stop('SIGKILL')));
  }
}
