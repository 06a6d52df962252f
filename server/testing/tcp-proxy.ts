// A TCP proxy for fault tests: a node given the proxy's address instead of the
// database's can be cut off from the database while everything else (other
// nodes, the test itself) still reaches it, and joined again.
//
// A network partition rarely refuses anything: packets are lost, so a new
// connection waits for its connect timeout and an open one for its TCP
// timeouts. `cut()` models that by default (open connections destroyed, so
// the driver notices the cut at once as it would a restart; new ones accepted
// and then never answered). `freeze` keeps open connections as a partition
// does; `refuse` resets new ones (a host with nothing listening); `close`
// accepts them and closes them at once, cleanly (a TCP proxy or balancer
// whose database is gone).
import { connect, createServer, type Socket } from 'node:net';

export type CutOptions = {
  /** Connections open at the cut: destroyed (default), or kept open passing nothing until restore. */
  open?: 'destroy' | 'freeze';
  /** Connections made during the cut: accepted and left unanswered until restore (default), reset, or closed at once. */
  fresh?: 'hang' | 'refuse' | 'close';
};

export type TcpProxy = {
  port: number;
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  urlFor: (databaseUrl: string) => string;
  /** Connections between the proxy and its target now. */
  readonly open: number;
  /** Connections accepted since the start, cut or not: how often clients (re)connect. */
  readonly accepted: number;
  cut: (options?: CutOptions) => void;
  restore: () => void;
  close: () => Promise<void>;
};

type Pair = { client: Socket; upstream: Socket | undefined };

/** A proxy in front of the PostgreSQL server of `databaseUrl` (the tests' own: the machine's, or an embedded one). */
export async function startTcpProxy(databaseUrl: string): Promise<TcpProxy> {
  const postgresAt = new URL(databaseUrl);
  const target = { host: postgresAt.hostname, port: Number(postgresAt.port || 5432) };
  const pairs = new Set<Pair>();
  let cut: Required<CutOptions> | undefined;
  let accepted = 0;

  const join = (pair: Pair) => {
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => destroy(pair)).on('close', () => destroy(pair));
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
  };
  const destroy = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };
  /** Stops passing bytes either way; they wait in the sockets' buffers, as unacknowledged packets do. */
  const freeze = (pair: Pair) => {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  };
  const thaw = (pair: Pair) => {
    if (!pair.upstream) return join(pair);
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    accepted += 1;
    const pair: Pair = { client, upstream: undefined };
    if (cut?.fresh === 'refuse') return void client.resetAndDestroy();
    if (cut?.fresh === 'close') return void client.on('error', () => {}).end().resume();
    pairs.add(pair);
    client.on('error', () => destroy(pair)).on('close', () => destroy(pair));
    if (!cut) join(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the proxy has no port');

  return {
    port: address.port,
    urlFor: (databaseUrl) => {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(address.port);
      return url.toString();
    },
    get open() {
      return [...pairs].filter((p) => p.upstream).length;
    },
    get accepted() {
      return accepted;
    },
    cut: (options = {}) => {
      cut = { open: options.open ?? 'destroy', fresh: options.fresh ?? 'hang' };
      for (const pair of pairs) {
        if (cut.open === 'destroy') destroy(pair);
        else freeze(pair);
      }
    },
    restore: () => {
      if (!cut) return;
      cut = undefined;
      for (const pair of pairs) thaw(pair);
    },
    close: async () => {
      for (const pair of pairs) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
