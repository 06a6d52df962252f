// The process entry point: reads the configuration, starts one node, and stops
// it on SIGTERM/SIGINT (exit 0 within 5 s). A bad setting, a port in use or an
// unreachable database prints one clear line and exits 1.
import { fileURLToPath } from 'node:url';
import { EnvError, loadEnv } from './env';
import { createLogger } from './log';
import { startNode, StartupError } from './node';

const STOP_DEADLINE_MS = 5_000;

function fatal(message: string): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let env;
  try {
    env = loadEnv();
  } catch (error) {
    if (error instanceof EnvError) fatal(error.message);
    throw error;
  }
  const dev = process.argv.includes('--dev');
  const log = createLogger({ node: env.NODE_NAME ?? `:${env.PORT}` });
  // Next.js prints these without our frames and carries on. A rejection nobody handled is a bug
  // to find (logged with its stack); an uncaught exception leaves the process in an unknown
  // state, so it exits, and its clients reconnect to another node or to its restart.
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason }));
  process.on('uncaughtException', (error) => {
    log.error('uncaught exception: exiting', { error });
    process.exit(1);
  });
  const dir = fileURLToPath(new URL('..', import.meta.url));

  let node;
  try {
    node = await startNode({ env, log, pages: { dev, dir } });
  } catch (error) {
    if (error instanceof StartupError) fatal(error.message);
    fatal(error instanceof Error ? error.message : String(error));
  }

  const shutdown = (signal: string) => {
    log.info('stopping', { signal });
    setTimeout(() => {
      process.stderr.write('switchboard: stop took longer than 5 s, exiting anyway\n');
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    node
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        log.error('stop failed', { error });
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // Announced only once the signals are handled: a supervisor (or a test) may stop the node as soon as it reads this.
  log.info(`switchboard listening on ${node.url}`, { nodeId: node.nodeId, dev });
}

void main();
