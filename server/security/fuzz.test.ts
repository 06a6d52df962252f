// Fuzzing: every procedure of the router (enumerated when the test runs, so a
// new one is fuzzed without a line here) gets FUZZ_RUNS (default 1,000)
// fast-check cases over HTTP and as many over a raw WebSocket, against a real
// node on a real database. Every answer must be a result or a client error
// (4xx: never INTERNAL_SERVER_ERROR, a 5xx, or a body that is not JSON); no
// case may go unanswered; the server may close a socket only for a reason the
// case gave it (its sign-in ended, an oversized frame); the node may log no
// procedure failure; and after each batch (one procedure on one transport)
// its process is still up and answers its health check. The node runs in a
// process of its own (startTestNode, in testing-node-process-main.ts), so an
// uncaught throw ends it as it would end a production node, and its work runs
// on the other core than the fuzzing client's. A failing case is reported
// with the procedure, the transport, the caller and fast-check's shrunk
// counterexample; FUZZ_SEED and FUZZ_PROCEDURES replay it.
//
// Each procedure is called by the principal (agent, supervisor, admin, or an
// API key with the admin scope) that a few probe calls find it lets through,
// so that the cases reach validation and the handlers; a test then checks
// that every batch got its cases, and past the sign-in checks.
//
// Batches run side by side (each a sequence of calls, so that a failure
// shrinks; together they keep the node, this process and PostgreSQL busy),
// each with its own principal, a fresh user of the role or a fresh key, so that a procedure
// ending its caller's sign-in (auth.logout, logoutEverywhere, changePassword…)
// disturbs no other batch; such a batch signs its user in again whenever a
// mutation succeeded and auth.me says the sign-in is over.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertQueue } from '../../db/queries/queues';
import { insertUser } from '../../db/queries/people';
import { createApiKey } from '../auth/api-keys';
import { hashPassword } from '../auth/password';
import { SIGNED_OUT_CLOSE_CODE } from '../realtime/sockets';
import { signIn } from '../testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../testing/database';
import { appRouter } from '../trpc/router';
import {
  FuzzSocket,
  freshSignIn,
  healthy,
  httpCall,
  httpRaw,
  REFUSALS,
  signedIn,
  type Principal,
  type Role,
  type Verdict,
} from './testing-fuzz-clients';
import { inputArbitrary, nearValid, rawHttpCase, toJson, wsFrameCase, type Known, type RawHttpCase, type WsCallCase, type WsFrameCase } from './testing-fuzz-inputs';
import { startNodeProcess, type NodeProcess } from './testing-node-process';
import { proceduresOf, type ProcedureInfo } from './testing-zod';

/** Cases per procedure per transport: 1,000 in CI and by default; FUZZ_RUNS to change it. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
/** Batches at once: with fewer, the two processes wait on each other; with more, nothing more is done. */
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 16);
/** FUZZ_SEED replays a reported failure; otherwise every run fuzzes anew (the seed is in any report). */
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** The principals tried on each procedure, in the order a tie between them is settled. */
const PROBE_ORDER: Role[] = ['agent', 'supervisor', 'admin', 'key'];
/** A well-formed call sent after a malformed WebSocket frame, whose answer says the frame was dealt with. */
const SENTINEL_PATH = 'auth.me';

type Transport = 'http' | 'ws';
type Batch = { procedure: ProcedureInfo; transport: Transport };
type BatchResult = Batch & { role: Role; runs: number; reached: number; ms: number; codes: Map<string, number>; failure?: string };

/** FUZZ_PROCEDURES, a regular expression, fuzzes only the procedures whose paths it matches: to replay a report (with FUZZ_SEED). */
const ONLY = process.env.FUZZ_PROCEDURES === undefined ? undefined : new RegExp(process.env.FUZZ_PROCEDURES);
const procedures = proceduresOf(appRouter).filter((procedure) => !ONLY || ONLY.test(procedure.path));

let t: TestDatabase;
let node: NodeProcess;
let known: Known;
let passwordHash: string;
/** The team the fuzzing agents and supervisors belong to. */
let fuzzTeamId: string;
let principals = 0;
const roles = new Map<string, Role>();
const results: BatchResult[] = [];

/** An error with its causes, for a report. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'string' ? error : JSON.stringify(error);
  const code = (error as { code?: unknown }).code;
  const own = `${error.name}${code === undefined ? '' : ` ${String(code)}`}: ${error.message.slice(0, 400)}\n${error.stack?.split('\n').slice(1, 4).join('\n') ?? ''}`;
  return error.cause === undefined ? own : `${own}\ncaused by ${describeError(error.cause)}`;
}

beforeAll(async () => {
  t = await createTestDatabase();
  passwordHash = await hashPassword(TEST_PASSWORD);
  const fuzz = await seedTeam(t.db, { team: 'Fuzz', agents: 1 });
  fuzzTeamId = fuzz.teamId;
  const victims = await seedTeam(t.db, { team: 'Victim', agents: 2 });
  node = await startNodeProcess(t.url, {
    // The fuzzing client sends thousands of messages a second on one socket,
    // and fails sign-ins by the hundred from one address: the WebSocket
    // message rate limit and the sign-in throttle are tested elsewhere
    // (server/security/websocket.test.ts, server/auth/sessions.test.ts), so
    // they are raised here for every case to reach validation and the handlers.
    WS_MESSAGES_PER_SECOND: '1000000',
    WS_MESSAGE_BURST: '1000000',
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '10000',
    LOGIN_MAX_FAILURES_PER_ADDRESS: '100000',
  });

  // Rows that exist, for near-valid input to reach: teams, users, queues, a
  // ticket, keys. Ids of the fuzzing principals themselves are left out, so
  // that admin.* cases change victims, not the callers.
  const fuzzQueue = await insertQueue(t.db, { name: 'Fuzz queue', teamId: fuzz.teamId });
  const victimQueue = await insertQueue(t.db, { name: 'Victim queue', teamId: victims.teamId });
  const victimKey = await createApiKey(t.db, { integration: 'Victim desk', name: 'victim', scopes: ['tickets:read'] });
  const probeKey = await createApiKey(t.db, { integration: 'Fuzz desk', name: 'probe', scopes: ['admin'] });
  const ticket = await httpCall(node.url, { role: 'key', userId: undefined, cookie: undefined, key: probeKey.key }, { path: 'tickets.create', type: 'mutation' }, {
    externalId: 'fuzz-1',
    queue: 'Fuzz queue',
    channel: 'chat',
    subject: 'Fuzzing',
  });
  expect(ticket).toEqual({ code: 'OK' });
  const [ticketRow] = await t.sql<Array<{ id: string }>>`select id from tickets where external_id = 'fuzz-1'`;
  known = {
    uuids: [fuzz.teamId, victims.teamId, ...victims.agents.map((a) => a.id), victims.supervisor.id, fuzzQueue.id, victimQueue.id, victimKey.id, ticketRow!.id],
    strings: ['Fuzz', 'Victim', 'Fuzz queue', 'Victim queue', 'Fuzz desk', 'Victim desk', 'fuzz-1', 'chat', TEST_PASSWORD, '1', '0'],
    emails: [...victims.agents.map((a) => a.email), victims.supervisor.email, 'nobody@example.com'],
  };

  // Who calls each procedure: of one principal per role, the one that the
  // most of a few probe calls (no input, near-valid inputs) get past the
  // sign-in and role checks with; the first in PROBE_ORDER on a tie.
  const base = new Map<Role, Principal>();
  for (const role of PROBE_ORDER) base.set(role, await newPrincipal(role));
  for (const procedure of procedures) {
    const inputs = [undefined, ...(procedure.inputs[0] ? fc.sample(nearValid(procedure.inputs[0], known), { numRuns: 4, seed: 42 }) : [])];
    let best: { role: Role; passed: number } | undefined;
    for (const role of PROBE_ORDER) {
      const principal = base.get(role)!;
      let passed = 0;
      for (const input of inputs) {
        const verdict = await httpCall(node.url, principal, procedure, input);
        await keepSignedIn(principal, procedure, verdict);
        if (!REFUSALS.has(verdict.code)) passed++;
      }
      if (passed > (best?.passed ?? 0)) best = { role, passed };
    }
    // None let through: fuzzed as an admin, and reported by the reach check below.
    roles.set(procedure.path, best?.role ?? 'admin');
  }
}, 120_000);

afterAll(async () => {
  await node?.stop();
  await t?.drop();
});

/** A fresh caller of a role: a user of the Fuzz team signed in over HTTP, or an API key with the admin scope. */
async function newPrincipal(role: Role): Promise<Principal> {
  const n = ++principals;
  if (role === 'key') {
    const { key } = await createApiKey(t.db, { integration: 'Fuzz desk', name: `fuzz ${n}`, scopes: ['admin'] });
    return { role, userId: undefined, cookie: undefined, key };
  }
  const email = `fuzz-${role}-${n}@fuzz.test`;
  const { id } = await insertUser(t.db, { email, name: `Fuzz ${role} ${n}`, role, passwordHash });
  // In the Fuzz team, if admin.* cases have not deleted it.
  if (role !== 'admin') {
    await t.sql`insert into team_members (team_id, user_id, role) select id, ${id}, ${role} from teams where id = ${fuzzTeamId}`;
  }
  return { role, userId: id, cookie: await signIn(node.url, email, TEST_PASSWORD), key: undefined };
}

/** After a mutation that succeeded, a cookie principal whose sign-in it ended is signed in again. */
async function keepSignedIn(principal: Principal, procedure: ProcedureInfo, verdict: Verdict): Promise<boolean> {
  if (!principal.userId || procedure.type !== 'mutation' || verdict.code !== 'OK' || (await signedIn(node.url, principal))) return false;
  principal.cookie = await freshSignIn(t.db, principal.userId);
  return true;
}

/** Whether the node process has ended (it runs alone: an uncaught throw ends it), with its last words. */
function ended(): string | undefined {
  const exit = node.exited();
  return exit && `the node process ended (${exit}): ${node.otherErrors.slice(-20).join('\n')}`;
}

const socketHeaders = (principal: Principal): Record<string, string> =>
  principal.key ? { authorization: `Bearer ${principal.key}` } : { cookie: principal.cookie! };

type HttpCase = { kind: 'call'; input: unknown } | RawHttpCase;
type WsCase = WsCallCase | WsFrameCase;

async function runBatch(batch: Batch): Promise<BatchResult> {
  const { procedure, transport } = batch;
  const started = performance.now();
  const role = roles.get(procedure.path)!;
  const principal = await newPrincipal(role);
  const result: BatchResult = { ...batch, role, runs: 0, reached: 0, ms: 0, codes: new Map() };

  // The largest hostile value, in bytes of JSON: within Node's URL limit for a
  // GET, the body limit for a POST, and the frame limit for a WebSocket message.
  // (A GET's JSON may grow ninefold percent-encoded, and a raw batch doubles it: 16 KiB is Node's header limit.)
  const budget = transport === 'ws' ? node.wsMaxPayloadBytes / 8 : procedure.type === 'mutation' ? 20_000 : 800;
  const input = inputArbitrary(procedure.inputs, known, budget);
  const inputInUrl = inputArbitrary(procedure.inputs, known, 800);

  let socket: FuzzSocket | undefined;
  let lastFrameBytes = 0;
  if (transport === 'ws') socket = await FuzzSocket.open(node.url, socketHeaders(principal));

  const send = async (c: HttpCase | WsCase): Promise<Verdict> => {
    if (transport === 'http') {
      const httpCase = c as HttpCase;
      return httpCase.kind === 'call' ? httpCall(node.url, principal, procedure, httpCase.input) : httpRaw(node.url, principal, httpCase);
    }
    const wsCase = c as WsCase;
    lastFrameBytes = wsCase.kind === 'binary' ? wsCase.bytes.length : Buffer.byteLength(wsCase.kind === 'frame' ? wsCase.text : (toJson(wsCase.input) ?? ''));
    return wsCase.kind === 'call' ? socket!.call(procedure.path, wsCase) : socket!.frame(wsCase, SENTINEL_PATH);
  };

  /**
   * After a case: a new sign-in if the case ended the principal's; a new
   * socket if the server closed this one, and a problem unless the case gave
   * it a reason to (a sign-out closes the sign-in's sockets, 4001; a frame
   * over the size limit closes its socket, 1009).
   */
  const recover = async (verdict: Verdict): Promise<string | undefined> => {
    let renewed = await keepSignedIn(principal, procedure, verdict);
    if (!socket) return undefined;
    if (renewed && !socket.closed) await socket.closedWithin(2_000); // a signed-out socket is closed by the node
    if (socket.open) return undefined;
    await socket.closedWithin(2_000);
    const closed = socket.closed;
    let problem: string | undefined;
    if (closed?.code === SIGNED_OUT_CLOSE_CODE) {
      if (!renewed && principal.userId && !(await signedIn(node.url, principal))) {
        principal.cookie = await freshSignIn(t.db, principal.userId);
        renewed = true;
      }
      if (!renewed) problem = 'the server closed the socket as signed out, but its sign-in lives on';
    } else if (!(closed?.code === 1009 && lastFrameBytes > node.wsMaxPayloadBytes)) {
      problem = `the server closed the socket (${closed ? `${closed.code} ${closed.reason}` : 'it is still closing'})`;
    }
    await socket.close();
    socket = await FuzzSocket.open(node.url, socketHeaders(principal));
    return problem;
  };

  const caseArbitrary: fc.Arbitrary<HttpCase | WsCase> =
    transport === 'http'
      ? fc.oneof(
          { weight: 9, arbitrary: input.map((value) => ({ kind: 'call' as const, input: value })) },
          { weight: 1, arbitrary: rawHttpCase(procedure.path, inputInUrl, node.httpMaxBodyBytes) },
        )
      : fc.oneof(
          {
            weight: 8,
            arbitrary: fc.record({
              kind: fc.constant('call' as const),
              input,
              // Mostly as the procedure is called; sometimes as another kind (a mutation sent as a query…).
              method: fc.oneof({ weight: 9, arbitrary: fc.constant(procedure.type) }, { weight: 1, arbitrary: fc.constantFrom('query' as const, 'mutation' as const, 'subscription' as const) }),
              // A string, as tRPC's envelope requires (a frame case sends any other kind, and tRPC answers it with id null).
              lastEventId:
                procedure.type === 'subscription'
                  ? fc.option(fc.oneof(fc.stringMatching(/^\d{1,15}$/), fc.string({ maxLength: 20 }), fc.constantFrom('-1', '1e3', '99999999999999999999')), { nil: undefined, freq: 3 })
                  : fc.constant(undefined),
              jsonrpc: fc.boolean(),
            }),
          },
          { weight: 2, arbitrary: wsFrameCase(procedure.path, input, budget) },
        );

  const details = await fc.check(
    fc.asyncProperty(caseArbitrary, async (c) => {
      const verdict = await send(c);
      result.codes.set(verdict.code, (result.codes.get(verdict.code) ?? 0) + 1);
      if (!REFUSALS.has(verdict.code)) result.reached++;
      const closedProblem = await recover(verdict);
      const problem = verdict.problem ?? closedProblem ?? ended();
      if (problem) throw new Error(problem);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  await socket?.close();
  result.runs = details.numRuns; // the cases generated (shrinking a failure runs more)

  const problems: string[] = [];
  if (details.failed) problems.push(`${fc.defaultReportMessage(details) ?? 'failed'}\nGot: ${describeError(details.errorInstance)}`);
  if (!(await healthy(node.url))) problems.push(`GET /healthz did not answer 200 after the batch${ended() ? `: ${ended()}` : ''}`);
  const logged = node.procedureFailures.filter((failure) => failure.path === procedure.path);
  if (logged.length) problems.push(`the node logged ${logged.length} procedure failure(s): ${logged.slice(0, 3).map((f) => f.error).join('\n')}`);
  if (problems.length) result.failure = `${procedure.path} over ${transport === 'http' ? 'HTTP' : 'WebSocket'} as ${role}:\n${problems.join('\n')}`;
  result.ms = Math.round(performance.now() - started);
  if (result.failure) console.error(result.failure);
  return result;
}

/** Runs the batches `concurrency` at a time, in order. */
async function runAll(batches: Batch[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        results.push(await runBatch(batch));
      }
    }),
  );
}

const label = (r: Batch) => `${r.procedure.path} over ${r.transport === 'http' ? 'HTTP' : 'WebSocket'}`;

describe('hostile input the fuzzing found', () => {
  it('refuses a live-view request whose team id is an object that cannot be made a string, and the node lives on', async () => {
    // Once thrown, uncaught, from the node's own reader of subscription requests (server/realtime/frames.ts),
    // which reads every request before tRPC does, whoever sends it: the end of the process. (team.watch,
    // for agents, refuses this supervisor before reading the input; roster.watch refuses the input.)
    const socket = await FuzzSocket.open(node.url, socketHeaders(await newPrincipal('supervisor')));
    const input = { teamId: { toString: 1, valueOf: 1 } };
    for (const path of ['roster.watch', 'team.watch']) {
      expect(await socket.call(path, { kind: 'call', input, method: 'subscription', lastEventId: undefined, jsonrpc: false })).toEqual({
        code: path === 'roster.watch' ? 'BAD_REQUEST' : 'FORBIDDEN',
      });
    }
    await socket.close();
    expect(ended()).toBeUndefined();
    expect(await healthy(node.url)).toBe(true);
  });

  it('refuses ticket metadata holding, however deep, text PostgreSQL cannot store (a NUL, an unpaired surrogate), as bad input', async () => {
    // jsonb takes neither: the insert used to fail, answered as a server error. The check of
    // every input (init.ts) walks it whole, however deep.
    const key = await newPrincipal('key');
    /** Creates a ticket with this metadata (or this metadata's JSON text, for what JSON.stringify cannot nest). */
    const create = async (metadata: unknown, metadataJson = JSON.stringify(metadata)) => {
      const fields = JSON.stringify({ externalId: `meta-${++principals}`, queue: 'Fuzz queue', channel: 'chat', subject: 'Help' });
      const res = await fetch(`${node.url}/api/trpc/tickets.create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
        body: `${fields.slice(0, -1)},"metadata":${metadataJson}}`,
      });
      return { status: res.status, message: ((await res.json()) as { error?: { message: string } }).error?.message };
    };
    const deep = (leaf: unknown, depth: number): unknown => (depth === 0 ? leaf : { a: deep(leaf, depth - 1) });
    const refused = { status: 400, message: expect.stringMatching(/^Invalid input: metadata\.a\.a\.a.*: must not contain a NUL character \(U\+0000\) or an unpaired UTF-16 surrogate$/) };
    expect(await create({ a: deep('\u0000', 40) })).toEqual(refused);
    expect(await create({ a: deep({ 'x\u0000': 1 }, 40) })).toEqual(refused);
    expect(await create({ a: deep(['ok', '\ud800'], 40) })).toEqual(refused);
    expect(await create({ a: deep('😀 \ud83d\ude00', 40) })).toEqual({ status: 200, message: undefined });
    // Far deeper than a recursive walk would go.
    expect(await create(undefined, `${'{"a":'.repeat(20_000)}"\\u0000"${'}'.repeat(20_000)}`)).toEqual(refused);
  });
});

describe(`fuzzing every procedure (${RUNS} cases per procedure per transport)`, () => {
  it('answers every case on HTTP and WebSocket with a result or a client error, and stays healthy', async () => {
    const started = performance.now();
    // The batches that mostly wait first (subscriptions, listened to for a while each; mutations
    // without input, such as the sign-outs, each followed by a new sign-in), so the run ends on short ones.
    const slow = (p: ProcedureInfo) => (p.type === 'subscription' ? 0 : p.type === 'mutation' && p.inputs.length === 0 ? 1 : 2);
    const batches = [...procedures]
      .sort((a, b) => slow(a) - slow(b))
      .flatMap((procedure) => (['http', 'ws'] as const).map((transport) => ({ procedure, transport })));
    await runAll(batches, CONCURRENCY);
    const failures = results.filter((r) => r.failure).map((r) => r.failure!);
    const cases = results.reduce((sum, r) => sum + r.runs, 0);
    console.info(`fuzzed ${procedures.length} procedures over HTTP and WebSocket, ${cases} cases, in ${Math.round(performance.now() - started)} ms`);
    // Each batch's caller, reach and answers, when asked for (FUZZ_REPORT=1) or when something failed.
    if (process.env.FUZZ_REPORT || failures.length) {
      console.info(
        results
          .map((r) => `${label(r).padEnd(48)} as ${r.role.padEnd(10)} ${String(r.runs).padStart(5)} cases, ${String(r.reached).padStart(5)} past sign-in, ${String(r.ms).padStart(6)} ms  ${[...r.codes].map(([c, n]) => `${c}:${n}`).join(' ')}`)
          .join('\n'),
      );
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 600_000);

  it('fuzzed every procedure of the router on both transports, past the sign-in checks', () => {
    const expected = procedures.flatMap((p) => [`${p.path} over HTTP`, `${p.path} over WebSocket`]).sort();
    expect(results.map(label).sort()).toEqual(expected);
    const short = results.filter((r) => r.runs < RUNS || r.reached === 0).map((r) => `${label(r)} as ${r.role}: ${r.runs} cases, ${r.reached} past sign-in`);
    expect(short).toEqual([]);
  });

  it('logged no procedure failure, and its process lives on and answers its health check', async () => {
    if (node.otherErrors.length) console.info(`the node's other error output while fuzzing:\n${node.otherErrors.slice(0, 20).join('\n')}`);
    expect(node.procedureFailures).toEqual([]);
    expect(ended()).toBeUndefined();
    expect(await healthy(node.url)).toBe(true);
  });
});
