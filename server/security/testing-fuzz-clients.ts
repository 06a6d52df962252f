// The fuzz test's clients: principals (a signed-in user of a role, or an API
// key), one call over HTTP (a tRPC query, mutation or SSE subscription, or a
// raw request) and one over a raw WebSocket speaking tRPC's JSON-RPC messages,
// each answered with a verdict: the tRPC code of the answer, and what was
// wrong with it if anything was (a 5xx, INTERNAL_SERVER_ERROR, a body that is
// not JSON, no answer, the server closing the socket).
import { randomBytes } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import type { Db } from '../../db/client';
import { insertAuthSession } from '../../db/queries/people';
import { hashToken, SESSION_COOKIE } from '../auth/service';
import { toJson, type RawHttpCase, type WsCallCase, type WsFrameCase } from './testing-fuzz-inputs';

export type Role = 'agent' | 'supervisor' | 'admin' | 'key';

/** Who calls: a browser sign-in (its cookie) or an integration's API key. */
export type Principal = { role: Role; userId: string | undefined; cookie: string | undefined; key: string | undefined };

/** What one call came to: the answer's tRPC code (`OK` for a result), and a problem when the answer broke the rules. */
export type Verdict = { code: string; problem?: string };

/** Codes of an answer that refused the caller before validation (and the handler) had their say. */
export const REFUSALS = new Set(['UNAUTHORIZED', 'FORBIDDEN']);

const ANSWER_TIMEOUT_MS = 20_000;
/** How long an SSE subscription that started is listened to for an error before it is dropped. */
const SSE_LISTEN_MS = 50;

/**
 * A new sign-in for a user, made the way auth.login makes one once the
 * password checked out. Used after a fuzzed call ended the principal's own
 * sign-in (auth.logout, logoutEverywhere, changePassword…): a thousand
 * sign-outs in a row must not cost a thousand argon2 verifications.
 */
export async function freshSignIn(db: Db, userId: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await insertAuthSession(db, { id: hashToken(token), userId, expiresAt: new Date(Date.now() + 3_600_000) });
  return `${SESSION_COOKIE}=${token}`;
}

/** The headers a principal sends: its cookie (with this site's Origin, as a browser page would) or its key. */
export function principalHeaders(principal: Principal, origin: string): Record<string, string> {
  if (principal.key) return { authorization: `Bearer ${principal.key}` };
  return principal.cookie ? { cookie: principal.cookie, origin } : {};
}

type ErrorShape = { code?: unknown; message?: unknown; data?: { code?: unknown; httpStatus?: unknown } };

/** What is wrong with a tRPC error shape, if anything: only client errors (4xx) may be answered. */
export function serverErrorIn(error: ErrorShape): string | undefined {
  const code = error.data?.code;
  const status = error.data?.httpStatus;
  if (error.code === -32603 || code === 'INTERNAL_SERVER_ERROR' || typeof status !== 'number' || status < 400 || status >= 500) {
    return `${String(code)} (${String(error.code)}, HTTP ${String(status)}): ${String(error.message).slice(0, 500)}`;
  }
  return undefined;
}

// ---- HTTP --------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

type HttpAnswer = { status: number; headers: IncomingHttpHeaders; body: string };

/**
 * One request, and one retry of it when it went out on a kept-alive socket the
 * node closed meanwhile (an idle socket's close racing its reuse, which any
 * HTTP client must retry): what `reusedSocket` is for.
 */
async function httpRequest(url: string, options: Parameters<typeof httpRequestOnce>[1]): Promise<HttpAnswer> {
  try {
    return await httpRequestOnce(url, options);
  } catch (error) {
    if (!(error as { reusedSocket?: boolean }).reusedSocket || (error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    return httpRequestOnce(url, options);
  }
}

function httpRequestOnce(
  url: string,
  options: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    /** Called with the body so far as an event stream arrives; `stop` hangs up and answers with what came. */
    stream?: (sofar: string, stop: () => void) => void;
  },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    // Framed by its length whatever the method: Node sends a DELETE's or OPTIONS's body unframed otherwise.
    const headers = options.body === undefined ? options.headers : { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) };
    const req = request(url, { method: options.method, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      const streaming = String(res.headers['content-type']).includes('text/event-stream');
      const stop = () => {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      };
      res.on('data', (chunk: string) => {
        body += chunk;
        if (streaming) options.stream?.(body, stop);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(options.body);
  });
}

/**
 * Checks a JSON answer of tRPC (one result or error, or a batch of them). The
 * body must be JSON; its content-type is not held to it, as tRPC itself
 * answers a refused content type (415) with a JSON body labelled text/plain.
 */
function verdictOfJson(answer: HttpAnswer, method: string): Verdict {
  const { status, body } = answer;
  if (status >= 500) return { code: `HTTP ${status}`, problem: `HTTP ${status}: ${body.slice(0, 500)}` };
  // No body to check: a HEAD, a 204, or Node refusing a request head too large (431) before any of our code runs.
  if (method === 'HEAD' || status === 204 || status === 431) return { code: `HTTP ${status}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { code: `HTTP ${status}`, problem: `HTTP ${status} (${String(answer.headers['content-type'])}) with a body that is not JSON: ${body.slice(0, 300)}` };
  }
  const items = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ error?: ErrorShape; result?: unknown }>;
  const codes: string[] = [];
  for (const item of items) {
    if (item?.error) {
      const problem = serverErrorIn(item.error);
      if (problem) return { code: String(item.error.data?.code), problem };
      codes.push(String(item.error.data?.code));
    } else codes.push('OK');
  }
  return { code: codes.find((c) => c !== 'OK') ?? 'OK' };
}

/** The complete events of an SSE body so far: `event:` (default `message`) and `data:`. */
function sseEvents(body: string): Array<{ event: string; data: string }> {
  const complete = body.slice(0, body.lastIndexOf('\n\n') + 1);
  return complete
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim());
      return { event: field('event')[0] ?? 'message', data: field('data').join('\n') };
    });
}

/** Whether an SSE stream said something beyond its greeting and keep-alives. */
const saidSomething = (body: string) => sseEvents(body).some((e) => e.event !== 'connected' && e.event !== 'ping');

/** Checks an SSE answer: a `serialized-error` event must be a client error. */
function verdictOfStream(answer: HttpAnswer): Verdict {
  if (answer.status >= 500) return { code: `HTTP ${answer.status}`, problem: `HTTP ${answer.status}: ${answer.body.slice(0, 500)}` };
  for (const { event, data } of sseEvents(answer.body)) {
    if (event !== 'serialized-error') continue;
    const error = JSON.parse(data) as ErrorShape;
    return { code: String(error.data?.code), problem: serverErrorIn(error) };
  }
  return { code: 'OK' };
}

/**
 * A GET that may be answered with an SSE stream (a subscription): read until
 * it says something beyond its greeting, or SSE_LISTEN_MS after it began (a
 * subscription that started may yield nothing for long), then hang up.
 */
async function getMaybeStream(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Verdict> {
  let timer: NodeJS.Timeout | undefined;
  const answer = await httpRequest(url, {
    method,
    headers,
    body,
    stream: (sofar, stop) => {
      timer ??= setTimeout(stop, SSE_LISTEN_MS);
      if (saidSomething(sofar)) stop();
    },
  }).finally(() => clearTimeout(timer));
  if (String(answer.headers['content-type']).includes('text/event-stream')) return verdictOfStream(answer);
  return verdictOfJson(answer, method);
}

const inputQuery = (input: unknown) => {
  const json = toJson(input);
  return json === undefined ? '' : `?input=${encodeURIComponent(json)}`;
};

/** One call of a procedure as tRPC's HTTP link makes it: GET for queries (and SSE subscriptions), POST for mutations. */
export async function httpCall(
  base: string,
  principal: Principal,
  procedure: { path: string; type: string },
  input: unknown,
): Promise<Verdict> {
  const url = `${base}/api/trpc/${procedure.path}`;
  const headers = principalHeaders(principal, base);
  try {
    if (procedure.type !== 'mutation') return await getMaybeStream(`${url}${inputQuery(input)}`, 'GET', headers);
    const body = toJson(input);
    return verdictOfJson(
      await httpRequest(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body }),
      'POST',
    );
  } catch (error) {
    return { code: 'NO ANSWER', problem: `no answer: ${(error as Error).message}` };
  }
}

/** One request a tRPC client would not make (odd method, path, query string, body or content type). */
export async function httpRaw(base: string, principal: Principal, raw: RawHttpCase): Promise<Verdict> {
  const url = `${base}/api/trpc/${raw.path}${raw.query === undefined ? '' : `?${raw.query}`}`;
  const headers: Record<string, string> = { ...principalHeaders(principal, base), ...(raw.contentType ? { 'content-type': raw.contentType } : {}) };
  try {
    return await getMaybeStream(url, raw.method, headers, raw.method === 'GET' || raw.method === 'HEAD' ? undefined : raw.body);
  } catch (error) {
    return { code: 'NO ANSWER', problem: `no answer: ${(error as Error).message}` };
  }
}

/** Whether a principal's sign-in still works (auth.me knows its user). */
export async function signedIn(base: string, principal: Principal): Promise<boolean> {
  const answer = await httpRequest(`${base}/api/trpc/auth.me`, { method: 'GET', headers: principalHeaders(principal, base) });
  const body = JSON.parse(answer.body) as { result?: { data?: { user?: unknown } } };
  return Boolean(body.result?.data?.user);
}

export async function healthy(base: string): Promise<boolean> {
  try {
    return (await httpRequest(`${base}/healthz`, { method: 'GET', headers: {} })).status === 200;
  } catch {
    return false;
  }
}

// ---- WebSocket ----------------------------------------------------------------

type Reply = { id?: unknown; result?: { type?: string }; error?: ErrorShape };
type Waiter = { accept: (reply: Reply) => boolean; resolve: (reply: Reply | undefined) => void };

/**
 * A raw tRPC WebSocket: requests by id, many in flight; every message the
 * server sends is read, and any server error in any of them is kept (a
 * subscription can fail after the call that started it was answered).
 */
export class FuzzSocket {
  readonly serverErrors: string[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly closeWaiters: Array<() => void> = [];
  private next = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.read(String(data)));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const resolve of this.closeWaiters.splice(0)) resolve();
      for (const waiters of this.waiters.values()) for (const waiter of waiters) waiter.resolve(undefined);
      this.waiters.clear();
    });
    ws.on('error', () => {}); // the close that follows says what happened
  }

  static open(base: string, headers: Record<string, string>): Promise<FuzzSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/trpc`, { headers });
      ws.once('open', () => resolve(new FuzzSocket(ws)));
      ws.once('error', reject);
    });
  }

  private read(text: string): void {
    if (text === 'PING') return void this.ws.send('PONG');
    if (text === 'PONG') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.serverErrors.push(`a message that is not JSON: ${text.slice(0, 200)}`);
      return;
    }
    for (const reply of (Array.isArray(parsed) ? parsed : [parsed]) as Reply[]) {
      if (reply?.error) {
        const problem = serverErrorIn(reply.error);
        if (problem) this.serverErrors.push(`id ${JSON.stringify(reply.id)}: ${problem}`);
      }
      const key = JSON.stringify(reply?.id ?? null);
      const waiters = this.waiters.get(key);
      const index = waiters?.findIndex((w) => w.accept(reply)) ?? -1;
      if (waiters && index >= 0) {
        const [waiter] = waiters.splice(index, 1);
        if (waiters.length === 0) this.waiters.delete(key);
        waiter!.resolve(reply);
      }
    }
  }

  /** The next reply to `id` that `accept` takes, or undefined after the timeout or the socket's close. */
  private reply(id: string, accept: (reply: Reply) => boolean = () => true, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Reply | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const key = JSON.stringify(id);
      const timer = setTimeout(() => {
        const waiters = this.waiters.get(key);
        waiters?.splice(waiters.indexOf(waiter), 1);
        if (waiters?.length === 0) this.waiters.delete(key);
        resolve(undefined);
      }, timeoutMs);
      const waiter: Waiter = {
        accept,
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      };
      const waiters = this.waiters.get(key);
      if (waiters) waiters.push(waiter);
      else this.waiters.set(key, [waiter]);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  closedWithin(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const closed = this.closedWithin(2_000).then(() => undefined);
    this.ws.close();
    return closed;
  }

  /**
   * One call as tRPC's wsLink makes it. A subscription that starts is stopped
   * at once (`subscription.stop`), and its end (`stopped`, or an error) awaited.
   */
  async call(path: string, call: WsCallCase): Promise<Verdict> {
    const id = `fz:${++this.next}`;
    const message = { id, ...(call.jsonrpc ? { jsonrpc: '2.0' } : {}), method: call.method, params: { path, input: call.input, lastEventId: call.lastEventId } };
    this.ws.send(toJson(message)!);
    const reply = await this.reply(id);
    if (!reply) return { code: 'NO ANSWER', problem: this.closed ? undefined : `no answer within ${ANSWER_TIMEOUT_MS} ms` };
    if (reply.error) return { code: String(reply.error.data?.code), problem: serverErrorIn(reply.error) };
    if (call.method === 'subscription' && (reply.result?.type === 'started' || reply.result?.type === 'data')) {
      const end = this.reply(id, (r) => Boolean(r.error) || r.result?.type === 'stopped');
      this.ws.send(JSON.stringify({ id, method: 'subscription.stop' }));
      const ended = await end;
      if (!ended && !this.closed) return { code: 'OK', problem: `the subscription did not stop within ${ANSWER_TIMEOUT_MS} ms of subscription.stop` };
      if (ended?.error) return { code: String(ended.error.data?.code), problem: serverErrorIn(ended.error) };
    }
    return { code: 'OK' };
  }

  /**
   * A message a tRPC client would not send. Its answer cannot always be told
   * apart (it may have no id), so a well-formed call follows it, and the frame
   * counts as handled once that is answered; any server error among the
   * replies is in `serverErrors`.
   */
  async frame(frame: WsFrameCase, sentinelPath: string): Promise<Verdict> {
    const before = this.serverErrors.length;
    if (frame.kind === 'binary') this.ws.send(frame.bytes, { binary: true });
    else this.ws.send(frame.text);
    const id = `fz:${++this.next}`;
    this.ws.send(JSON.stringify({ id, method: 'query', params: { path: sentinelPath } }));
    const reply = await this.reply(id);
    const problem = this.serverErrors.slice(before).join('; ') || undefined;
    if (!reply) return { code: 'NO ANSWER', problem: problem ?? (this.closed ? undefined : `no answer within ${ANSWER_TIMEOUT_MS} ms`) };
    return { code: 'FRAME', problem };
  }
}
