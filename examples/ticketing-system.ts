// A small ticketing system, played against a running Switchboard with its typed
// client (`switchboard/client`): it asks who is available, opens a few tickets,
// follows their events until every one has ended (completed by an agent, or
// cancelled after waiting too long), and prints a summary. With WEBHOOK_SECRET
// and WEBHOOK_PORT it also receives the same events as webhooks and checks each
// signature. Documentation that runs: see examples/README.md.
import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import {
  createSwitchboardClient,
  followTicketEvents,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  TRPCClientError,
  verifyWebhookSignature,
  type TicketDelta,
} from 'switchboard/client';

const USAGE = `usage: node --import tsx examples/ticketing-system.ts [--tickets N] [--queue NAME] [--cancel-after-ms MS] [--timeout-ms MS]
  env: SWITCHBOARD_KEY (required; scopes tickets:write and tickets:read), SWITCHBOARD_URL (default http://localhost:3000),
       WEBHOOK_SECRET and WEBHOOK_PORT (optional, together: receive the events as webhooks too and verify them)`;

const CHANNELS = ['chat', 'email', 'phone', 'task'] as const;
const SUBJECTS = ['Refund not received', 'Cannot sign in', 'Wrong invoice address', 'Parcel arrived damaged', 'Change of plan'];
const ENDED = new Set(['completed', 'cancelled']);

/** What this ticketing system knows of each of its tickets, by its own id (externalId). */
type Ticket = {
  externalId: string;
  channel: (typeof CHANNELS)[number];
  priority: number;
  id?: string;
  createdAt?: number;
  acceptedAt?: number;
  state: string;
  /** Whether the webhook brought its last event too (with webhooks only). */
  endHeardByWebhook: boolean;
};

class UsageError extends Error {}

const OPTIONS = {
  tickets: { type: 'string', default: '5' },
  queue: { type: 'string', default: 'billing' },
  'cancel-after-ms': { type: 'string' },
  'timeout-ms': { type: 'string', default: '300000' },
  help: { type: 'boolean' },
} as const;

function readOptions() {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ options: OPTIONS }));
  } catch (error) {
    throw new UsageError((error as Error).message); // an unknown option, a missing value
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: a whole number from ${min} to ${max}, not "${value}"`);
    return n;
  };
  const env = process.env;
  if (!env.SWITCHBOARD_KEY) throw new UsageError('SWITCHBOARD_KEY: required (npm run switchboard -- keys create …)');
  if (Boolean(env.WEBHOOK_SECRET) !== Boolean(env.WEBHOOK_PORT)) throw new UsageError('WEBHOOK_SECRET and WEBHOOK_PORT: set both or neither');
  return {
    url: env.SWITCHBOARD_URL ?? 'http://localhost:3000',
    key: env.SWITCHBOARD_KEY,
    tickets: count('tickets', values.tickets, 1, 200),
    queue: values.queue,
    cancelAfterMs: values['cancel-after-ms'] === undefined ? undefined : count('cancel-after-ms', values['cancel-after-ms'], 0),
    timeoutMs: count('timeout-ms', values['timeout-ms'], 1),
    webhook: env.WEBHOOK_SECRET ? { secret: env.WEBHOOK_SECRET, port: count('WEBHOOK_PORT', env.WEBHOOK_PORT, 1, 65_535) } : undefined,
  };
}

const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 23)}  ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const options = readOptions();
  let closing = false;
  const switchboard = createSwitchboardClient({
    url: options.url,
    apiKey: options.key,
    onConnection: (open) => closing || log(open ? 'feed: connected' : 'feed: connection lost'),
  });
  const { api } = switchboard;

  // Who could answer? A public query (no key needed): also tells us the server is there.
  const { online, available } = await api.availability.get.query({ queue: options.queue });
  log(`queue ${options.queue}: ${online} agent(s) online, ${available} available`);
  // Does the key work, and may it read tickets? (UNAUTHORIZED or FORBIDDEN otherwise.)
  await api.tickets.list.query({ limit: 1 });

  const run = Date.now().toString(36);
  const tickets = new Map<string, Ticket>();
  for (let i = 0; i < options.tickets; i++) {
    const externalId = `demo-${run}-${i + 1}`;
    tickets.set(externalId, { externalId, channel: CHANNELS[i % CHANNELS.length]!, priority: (i % 5) + 1, state: 'new', endHeardByWebhook: false });
  }
  let finish!: (outcome: Error | 'ended' | 'timed out') => void;
  const finished = new Promise<Error | 'ended' | 'timed out'>((resolve) => (finish = resolve));
  const allEnded = () => [...tickets.values()].every((t) => ENDED.has(t.state) && (!options.webhook || t.endHeardByWebhook));

  // Follow first, then create: every event of the new tickets arrives, the first ones included.
  const follower = followTicketEvents(switchboard, {
    onEvent: (event: TicketDelta) => {
      const ticket = tickets.get(event.externalId);
      if (!ticket) return; // another run's ticket, or another client's of the same integration
      ticket.id = event.ticketId;
      ticket.state = event.state;
      if (event.type === 'accepted') ticket.acceptedAt = Date.parse(event.at);
      log(`${event.externalId}  ${event.type.padEnd(13)} agent ${event.agentId?.slice(0, 8) ?? '-'}${event.reason ? `  (${event.reason})` : ''}`);
      if (allEnded()) finish('ended');
    },
    onResync: () => log('feed: events were missed; a real system would re-read its tickets with tickets.list'),
    onError: (error) => {
      // The follower stops after UNAUTHORIZED or FORBIDDEN (a revoked key, say) and resumes by itself after anything else.
      if (error.data?.code === 'UNAUTHORIZED' || error.data?.code === 'FORBIDDEN') finish(error);
      else log(`feed: ${error.message}; resuming`);
    },
  });
  // The feed starts "now": wait until the server told it where now is, so that no event is missed.
  for (let waited = 0; follower.lastEventId() === undefined; waited += 50) {
    const refused = switchboard.ended();
    if (refused) throw refused;
    if (waited > 10_000) throw new Error(`the ticket feed did not start within 10 s (${options.url})`);
    await sleep(50);
  }

  const webhooks = { verified: 0, rejected: 0 };
  const receiver = options.webhook && (await listenForWebhooks(options.webhook, webhooks, tickets, () => allEnded() && finish('ended')));

  const timers: NodeJS.Timeout[] = [setTimeout(() => finish('timed out'), options.timeoutMs)];
  for (const [i, ticket] of [...tickets.values()].entries()) {
    const subject = SUBJECTS[i % SUBJECTS.length]!;
    const created = await createTicket(() =>
      api.tickets.create.mutate({ externalId: ticket.externalId, queue: options.queue, channel: ticket.channel, priority: ticket.priority, subject }),
    );
    ticket.id = created.id;
    ticket.createdAt = Date.parse(created.createdAt);
    const cancelAfterMs = options.cancelAfterMs;
    if (cancelAfterMs !== undefined) timers.push(setTimeout(() => void cancelIfWaiting(ticket, cancelAfterMs), cancelAfterMs));
  }
  log(`created ${tickets.size} ticket(s) in queue ${options.queue}; waiting for agents…`);

  async function cancelIfWaiting(ticket: Ticket, waitedMs: number) {
    if (ticket.acceptedAt !== undefined || ENDED.has(ticket.state)) return;
    log(`${ticket.externalId}  waited ${waitedMs} ms without an agent: cancelling`);
    try {
      await api.tickets.cancel.mutate({ id: ticket.id!, reason: `waited more than ${waitedMs} ms` });
    } catch (error) {
      // CONFLICT: accepted, completed or cancelled meanwhile; its event is on its way.
      if (!(error instanceof TRPCClientError && error.data?.code === 'CONFLICT')) finish(error as Error);
    }
  }

  const outcome = await finished;
  closing = true;
  timers.forEach(clearTimeout);
  follower.unsubscribe();
  await switchboard.close();
  if (receiver) await new Promise((resolve) => receiver.close(resolve).closeAllConnections());
  if (outcome instanceof Error) throw outcome;
  printSummary(tickets, outcome === 'timed out' ? options.timeoutMs : undefined, options.webhook ? webhooks : undefined);
}

/** tickets.create, sent again while the node is busy: it is idempotent on externalId, so a repeat never makes a second ticket. */
async function createTicket<T>(create: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await create();
    } catch (error) {
      if (!(error instanceof TRPCClientError && error.data?.code === 'TOO_MANY_REQUESTS')) throw error;
      await sleep(1_000);
    }
  }
}

/** Receives webhooks on `port`; answers a genuine one 204 at once (then works), anything else 401. */
async function listenForWebhooks(
  options: { secret: string; port: number },
  counts: { verified: number; rejected: number },
  tickets: Map<string, Ticket>,
  changed: () => void,
): Promise<Server> {
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks); // the raw bytes: the signature covers them exactly
      const signature = req.headers[SIGNATURE_HEADER] as string | undefined;
      if (!verifyWebhookSignature(options.secret, signature, req.headers[TIMESTAMP_HEADER] as string | undefined, body, 300)) {
        counts.rejected++;
        log(`webhook: REJECTED, the signature does not match (is WEBHOOK_SECRET the webhook's secret?)`);
        return void res.writeHead(401).end();
      }
      res.writeHead(204).end();
      const event = JSON.parse(body.toString('utf8')) as { deliveryId: string; type: string; ticket: { externalId: string } };
      if (seen.has(event.deliveryId)) return; // delivered at least once: a repeat has the same deliveryId
      seen.add(event.deliveryId);
      counts.verified++;
      const ticket = tickets.get(event.ticket.externalId);
      if (!ticket) return;
      log(`webhook: ${event.ticket.externalId}  ${event.type}  (signature verified)`);
      if (ENDED.has(event.type)) ticket.endHeardByWebhook = true;
      changed();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, resolve));
  log(`webhooks: listening on port ${options.port}`);
  return server;
}

function printSummary(tickets: Map<string, Ticket>, timedOutMs: number | undefined, webhooks?: { verified: number; rejected: number }) {
  const all = [...tickets.values()];
  const count = (test: (t: Ticket) => boolean) => all.filter(test).length;
  console.log(
    `\nsummary: ${all.length} created, ${count((t) => t.acceptedAt !== undefined)} accepted, ${count((t) => t.state === 'completed')} completed, ` +
      `${count((t) => t.state === 'cancelled')} cancelled${timedOutMs ? `; timed out after ${timedOutMs} ms, ${count((t) => !ENDED.has(t.state))} still open` : ''}`,
  );
  for (const t of all) {
    const wait = t.acceptedAt !== undefined && t.createdAt !== undefined ? `waited ${t.acceptedAt - t.createdAt} ms for an agent` : 'never accepted';
    console.log(`  ${t.externalId}  ${t.channel.padEnd(5)}  priority ${t.priority}  ${t.state.padEnd(9)}  ${wait}`);
  }
  if (!webhooks) return;
  const unheard = count((t) => ENDED.has(t.state) && !t.endHeardByWebhook);
  console.log(`webhooks: ${webhooks.verified} verified, ${webhooks.rejected} rejected${unheard ? `; the end of ${unheard} ticket(s) not received` : ''}`);
}

/** One line for what went wrong: the key refused, the server unreachable, a bad option. */
function explain(error: unknown, url: string): string {
  if (error instanceof UsageError) return `${error.message}\n${USAGE}`;
  if (!(error instanceof TRPCClientError)) return error instanceof Error ? error.message : String(error);
  const code = error.data?.code;
  if (code === 'UNAUTHORIZED') return `SWITCHBOARD_KEY was refused by ${url}: ${error.message}`;
  if (code === 'FORBIDDEN') return `SWITCHBOARD_KEY may not do this (it needs tickets:write and tickets:read): ${error.message}`;
  if (code) return `${code}: ${error.message}`;
  // No answer from a Switchboard: fetch failed (ECONNREFUSED, ENOTFOUND…), or something else answered.
  const cause = (error.cause as { cause?: { code?: string } } | undefined)?.cause?.code;
  return `cannot reach Switchboard at ${url} (${cause ?? error.message})`;
}

main().catch((error: unknown) => {
  console.error(`ticketing-system: ${explain(error, process.env.SWITCHBOARD_URL ?? 'http://localhost:3000')}`);
  process.exit(1);
});
