// A local cluster: `npm run cluster -- --nodes 3 [--port 3000]`. Several
// Switchboard nodes on one database — DATABASE_URL, else an embedded
// PostgreSQL under DATA_DIR that this process starts once for all of them —
// each on its own port (PORT+1, PORT+2, …, named node-1, node-2, …), behind a
// round-robin front on PORT (server/cluster/front.ts) that passes HTTP and
// WebSocket upgrades. Node output is prefixed with the node's name. Stop with
// Ctrl-C (SIGINT) or SIGTERM: the front, then every node, then the database.
// For trying and testing multi-node behaviour on one machine; a deployment
// puts a real load balancer in front (README, "Several nodes").
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded';
import { startFront, type Front } from '../server/cluster/front';
import { EnvError, loadEnv } from '../server/env';
import { SERVER_NODE_FLAGS } from '../server/node-flags';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const USAGE = `usage: npm run cluster -- [--nodes N] [--port P]

  --nodes N   how many nodes (default 3, at most 16)
  --port P    the front's port (default PORT, else 3000); node i listens on P+i

Every other setting comes from the environment, as for npm start (README).`;

class UsageError extends Error {}

type NodeChild = { name: string; port: number; child: ChildProcess; exited: Promise<number | null> };

function startNodeProcess(params: { name: string; port: number; env: Record<string, string> }): Promise<NodeChild> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...params.env, PORT: String(params.port), NODE_NAME: params.name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let ready = false;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        process.stdout.write(`[${params.name}] ${line}\n`);
        if (!ready && line.includes('switchboard listening on')) {
          ready = true;
          resolve({ ...params, child, exited });
        }
      });
    }
    void exited.then((code) => {
      if (!ready) reject(new Error(`${params.name} exited with ${code} before it was ready`));
      else process.stdout.write(`[cluster] ${params.name} exited (${code})\n`);
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { nodes: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const env = loadEnv();
  const count = Number(values.nodes ?? '3');
  if (!Number.isInteger(count) || count < 1 || count > 16) throw new UsageError('--nodes: a whole number from 1 to 16');
  const port = Number(values.port ?? env.PORT);
  if (!Number.isInteger(port) || port < 1 || port + count > 65535) throw new UsageError('--port: a port number with room for the nodes after it');

  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: env.DATA_DIR, log: (line) => process.stdout.write(`[postgres] ${line}\n`) });
    await ensureDatabase(embedded.url('postgres'), 'switchboard');
    databaseUrl = embedded.url('switchboard');
  }

  const nodes: NodeChild[] = [];
  let front: Front | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await front?.stop();
    for (const node of nodes) if (node.child.exitCode === null) node.child.kill('SIGTERM');
    await Promise.all(nodes.map((node) => node.exited));
    await embedded?.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  // However this process ends (an error, a stop that hangs and is cut short), no node outlives it:
  // an orphaned node would keep its port and go on reaching for the database.
  process.once('exit', () => {
    for (const node of nodes) if (node.child.exitCode === null) node.child.kill('SIGKILL');
  });

  try {
    // Nodes listen where only the front (and this machine) reach them, and believe its forwarding headers.
    const nodeEnv = { DATABASE_URL: databaseUrl, HOST: '127.0.0.1', TRUST_PROXY: 'true' };
    // The first node alone first: it migrates and seeds an empty database; the others then start together.
    nodes.push(await startNodeProcess({ name: 'node-1', port: port + 1, env: nodeEnv }));
    const rest = Array.from({ length: count - 1 }, (_, k) => startNodeProcess({ name: `node-${k + 2}`, port: port + k + 2, env: nodeEnv }));
    nodes.push(...(await Promise.all(rest)));
    front = await startFront({ backends: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), port, host: env.HOST });
  } catch (error) {
    process.stderr.write(`cluster: ${error instanceof Error ? error.message : String(error)}\n`);
    await stop(1);
    return;
  }
  process.stdout.write(
    `[cluster] ${count} node${count > 1 ? 's' : ''} (${nodes.map((n) => `${n.name} :${n.port}`).join(', ')}) behind http://localhost:${front.port}\n`,
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof EnvError) {
    process.stderr.write(`cluster: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`cluster: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
