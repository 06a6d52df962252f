// The one initTRPC of the server: plain JSON (no transformer, so any HTTP
// client can call it), error messages that name the offending field, the
// mapping of service errors to tRPC codes, and the base procedures whose
// middleware narrows the context by role.
import { initTRPC, TRPCError } from '@trpc/server';
import type { SessionUser } from '../../db/queries/people';
import { AdminConflictError, AdminInputError, AdminNotFoundError } from '../admin/errors';
import type { KeyPrincipal, Scope } from '../auth/api-keys';
import { InvalidCredentialsError, WeakPasswordError } from '../auth/service';
import { LoginThrottledError } from '../auth/throttle';
import { NotAllowedError } from '../presence/actions';
import { NodeCutOffError, SessionNotLiveError } from '../presence/engine';
import { NotAnAgentError } from '../presence/store';
import { ReportInputError } from '../reports/report';
import { BusyError, RoutingNotFoundError, TicketStateError } from '../routing/errors';
import type { Context } from './context';

type Issue = { path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>; message: string };

function issuesOf(cause: unknown): Issue[] | undefined {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  return Array.isArray(issues) ? (issues as Issue[]) : undefined;
}

const fieldName = (issue: Issue) =>
  (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.') || 'input';
// zod prefixes type errors with "Invalid input: "; the whole message already says so once.
const issueText = (issue: Issue) => issue.message.replace(/^Invalid input: /, '');

const t = initTRPC.context<Context>().create({
  // Never send stack traces to clients.
  isDev: false,
  errorFormatter({ shape, error }) {
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      // The cause (a database error with its statement and parameters, say) is logged, never sent.
      return { ...shape, message: 'Internal server error' };
    }
    if (error.cause instanceof SyntaxError) {
      // tRPC reports an unparseable body as BAD_REQUEST; say what it is.
      return {
        ...shape,
        code: -32700,
        message: `Malformed JSON in the request: ${error.cause.message}`,
        data: { ...shape.data, code: 'PARSE_ERROR' as const },
      };
    }
    const issues = error.code === 'BAD_REQUEST' ? issuesOf(error.cause) : undefined;
    if (!issues) return shape;
    return {
      ...shape,
      message: `Invalid input: ${issues.map((i) => `${fieldName(i)}: ${issueText(i)}`).join('; ')}`,
      data: { ...shape.data, issues: issues.map((i) => ({ field: fieldName(i), message: issueText(i) })) },
    };
  },
});

/** Service errors are plain named errors; this is the one place they become tRPC codes. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof InvalidCredentialsError) {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: cause.message, cause });
    }
    if (cause instanceof LoginThrottledError) {
      throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: cause.message, cause });
    }
    if (cause instanceof WeakPasswordError) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid input: ${cause.message}`, cause });
    }
    if (cause instanceof NotAnAgentError || cause instanceof SessionNotLiveError) {
      throw new TRPCError({ code: 'NOT_FOUND', message: cause.message, cause });
    }
    if (cause instanceof NodeCutOffError) {
      // This node cannot reach its database (decision 035); another can: the client should reconnect.
      throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: cause.message, cause });
    }
    if (cause instanceof RoutingNotFoundError) {
      throw new TRPCError({ code: 'NOT_FOUND', message: cause.message, cause });
    }
    if (cause instanceof BusyError) {
      throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: cause.message, cause });
    }
    if (cause instanceof TicketStateError) {
      throw new TRPCError({ code: 'CONFLICT', message: cause.message, cause });
    }
    if (cause instanceof NotAllowedError) {
      throw new TRPCError({ code: 'FORBIDDEN', message: cause.message, cause });
    }
    if (cause instanceof AdminNotFoundError) throw new TRPCError({ code: 'NOT_FOUND', message: cause.message, cause });
    if (cause instanceof AdminConflictError) throw new TRPCError({ code: 'CONFLICT', message: cause.message, cause });
    if (cause instanceof AdminInputError) throw new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
    if (cause instanceof ReportInputError) throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid input: ${cause.message}`, cause });
  }
  return result;
});

/**
 * Cross-site request forgery: a change made over HTTP with a sign-in cookie
 * must come from one of our own pages, as the browser's Origin (or
 * Sec-Fetch-Site) header says (auth.login checks its own, see there). SameSite=Lax already keeps the
 * cookie off other sites' POSTs; this also refuses sibling subdomains and old
 * browsers. API keys are not ambient credentials and need no such proof; over
 * a WebSocket the origin was checked at the upgrade (server/node.ts).
 */
const sameOriginChanges = t.middleware(({ ctx, type, next }) => {
  if (type === 'mutation' && ctx.transport === 'http' && ctx.via === 'cookie' && ctx.origin !== 'same') {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message:
        ctx.origin === 'foreign'
          ? 'Origin: changes signed in by cookie are accepted only from this site’s own pages'
          : 'Origin: a change signed in by cookie must say where it comes from (send the Origin header of this site), or use an API key',
    });
  }
  return next();
});

/** A NUL character, or a UTF-16 surrogate without its pair. */
// eslint-disable-next-line no-control-regex -- the NUL character is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

type Visit = { value: unknown; key: string; parent: Visit | undefined };

/** A visit's field path, e.g. `metadata.tags.2`, shortened in the middle when it is very deep. */
function pathOf(visit: Visit): string {
  const keys: string[] = [];
  for (let at: Visit | undefined = visit; at && at.parent; at = at.parent) keys.push(at.key);
  const path = keys.reverse().join('.');
  return path.length > 200 ? `${path.slice(0, 100)}…${path.slice(-60)}` : path;
}

/**
 * The path of the first string (value or key) in `value` that PostgreSQL
 * cannot store, if any. Walks with a stack of its own, not recursion, so that
 * any depth a body within HTTP_MAX_BODY_BYTES can hold is walked whole.
 */
function unstorablePath(value: unknown): string | undefined {
  const stack: Visit[] = [{ value, key: '', parent: undefined }];
  for (let visit = stack.pop(); visit; visit = stack.pop()) {
    const item = visit.value;
    if (typeof item === 'string') {
      if (UNSTORABLE.test(item)) return pathOf(visit);
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, child] of Object.entries(item)) {
        const next = { value: child, key, parent: visit };
        if (UNSTORABLE.test(key)) return pathOf(next);
        stack.push(next);
      }
    }
  }
  return undefined;
}

/**
 * PostgreSQL stores no NUL character in text or jsonb, and jsonb no unpaired
 * surrogate: a string holding one would fail its insert as a server error,
 * wherever it went. Refused here, for every procedure, as bad input naming
 * the field, before any schema or handler sees it.
 */
const storableInput = t.middleware(async ({ getRawInput, next }) => {
  // An unreadable body is for the input's own parser to report (a procedure without input ignores it).
  const raw = await getRawInput().catch(() => undefined);
  const field = unstorablePath(raw);
  if (field !== undefined) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `Invalid input: ${field || 'input'}: must not contain a NUL character (U+0000) or an unpaired UTF-16 surrogate`,
    });
  }
  return next();
});

export const router = t.router;
export const publicProcedure = t.procedure.use(sameOriginChanges).use(storableInput).use(mapErrors);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in first' });
  return next({ ctx: { ...ctx, user: ctx.user as SessionUser } });
});

export const agentProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'agent') throw new TRPCError({ code: 'FORBIDDEN', message: 'Only agents have presence' });
  return next();
});

export const supervisorProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role === 'agent') throw new TRPCError({ code: 'FORBIDDEN', message: 'Supervisors and admins only' });
  return next();
});

/** The answer to a key that was sent but is unknown, revoked or expired: not "send a key". */
const DEAD_KEY = 'This API key is not valid: unknown, revoked or expired';

/** Refuses a key without `scope` (a key with `admin` has every scope). */
function requireScope(key: KeyPrincipal, scope: Scope): void {
  if (!key.scopes.includes(scope) && !key.scopes.includes('admin')) {
    throw new TRPCError({ code: 'FORBIDDEN', message: `This API key lacks the ${scope} scope` });
  }
}

/** Calls by an integration's API key with `scope`. */
export function keyProcedure(scope: Scope) {
  return publicProcedure.use(({ ctx, next }) => {
    if (!ctx.apiKey) {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: ctx.via === 'key' ? DEAD_KEY : 'Send an API key: Authorization: Bearer <key>' });
    }
    requireScope(ctx.apiKey, scope);
    return next({ ctx: { ...ctx, apiKey: ctx.apiKey } });
  });
}

/** Who called a procedure open to both: an integration's key, or a signed-in supervisor or admin. */
export type KeyOrSupervisor = { key: KeyPrincipal; user?: undefined } | { user: SessionUser; key?: undefined };

/** Calls by an integration's API key with `scope`, or by a signed-in supervisor or admin: `ctx.caller` says which. */
export function keyOrSupervisorProcedure(scope: Scope) {
  return publicProcedure.use(({ ctx, next }) => {
    if (ctx.apiKey) {
      requireScope(ctx.apiKey, scope);
      return next({ ctx: { ...ctx, caller: { key: ctx.apiKey } as KeyOrSupervisor } });
    }
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: ctx.via === 'key' ? DEAD_KEY : 'Send an API key or sign in' });
    if (ctx.user.role === 'agent') throw new TRPCError({ code: 'FORBIDDEN', message: 'Supervisors and admins only' });
    return next({ ctx: { ...ctx, caller: { user: ctx.user } as KeyOrSupervisor } });
  });
}

export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: 'Admins only' });
  return next();
});
