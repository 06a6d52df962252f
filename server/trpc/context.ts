// Request context for both transports. HTTP requests resolve the session cookie
// per request and may set cookies; a WebSocket resolves it once, at connection,
// and is refused (UNAUTHORIZED) without a valid one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import type { WebSocket } from 'ws';
import type { SessionUser } from '../../db/queries/people';
import { bearerToken, type KeyPrincipal } from '../auth/api-keys';
import { hashToken, readCookie, SESSION_COOKIE, userForToken } from '../auth/service';
import { requestIdOf } from '../ops/request-id';
import { clientAddress, isSecure, originOf, type OriginVerdict } from '../security/request';
import { KEY_REVOKED_CLOSE_CODE } from '../realtime/sockets';
import type { Services } from '../services';

export type Context = {
  services: Services;
  user: SessionUser | undefined;
  /** The integration's API key the request carries (`Authorization: Bearer`), when it carries one. */
  apiKey: KeyPrincipal | undefined;
  token: string | undefined;
  /** How the request authenticated itself: an API key (Authorization header), a sign-in cookie, or neither. */
  via: 'key' | 'cookie' | 'none';
  /** The stored id (hash) of the browser sign-in the request carries. */
  authSessionId: string | undefined;
  /** The WebSocket, for procedures called over one. */
  socket: WebSocket | undefined;
  userAgent: string | undefined;
  transport: 'http' | 'ws';
  /** Whether the client reached us over https (directly or through a trusted proxy). */
  secure: boolean;
  /** The client's IP address (for throttling sign-ins and the audit log; never stored in the clear elsewhere). */
  address: string | undefined;
  /** Whether a browser sent the request from one of our pages (server/security/request.ts). */
  origin: OriginVerdict;
  setCookie: (cookie: string) => void;
  /** The request's id over HTTP, the connection's over a WebSocket: in the logs of what it did (server/ops/request-id.ts). */
  requestId: string;
};

/** What both transports read from the request: the API key or the sign-in cookie, its user, the client. */
async function fromRequest(services: Services, req: IncomingMessage) {
  const key = bearerToken(req.headers.authorization);
  const token = key ? undefined : readCookie(req.headers.cookie, SESSION_COOKIE);
  return {
    services,
    apiKey: key ? await services.keys.authenticate(key) : undefined,
    via: key ? ('key' as const) : token ? ('cookie' as const) : ('none' as const),
    user: await userForToken(services.db, token, services.env.AUTH_SESSION_IDLE_MS),
    token,
    authSessionId: token ? hashToken(token) : undefined,
    userAgent: req.headers['user-agent'],
    secure: isSecure(req, services.env),
    address: clientAddress(req, services.env),
    origin: originOf(req, services.env),
    requestId: requestIdOf(req),
  };
}

export function httpContextFactory(services: Services) {
  return async ({ req, res }: { req: IncomingMessage; res: ServerResponse }): Promise<Context> => ({
    ...(await fromRequest(services, req)),
    socket: undefined,
    transport: 'http',
    setCookie: (cookie) => res.appendHeader('Set-Cookie', cookie),
  });
}

/** A socket opened with an API key that expires closes when it does, as a revoked key's does (server/realtime/sockets.ts). */
function closeAtExpiry(socket: WebSocket, expiresAt: number): void {
  // Timers hold at most about 24.8 days; a key that lives longer is checked again then.
  const wait = Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1);
  const timer = setTimeout(() => {
    if (Date.now() >= expiresAt) socket.close(KEY_REVOKED_CLOSE_CODE, 'API key expired');
    else closeAtExpiry(socket, expiresAt);
  }, wait);
  socket.once('close', () => clearTimeout(timer));
}

export function wsContextFactory(services: Services) {
  return async ({ req, res }: { req: IncomingMessage; res: WebSocket }): Promise<Context> => {
    const base = await fromRequest(services, req);
    if (!base.user && !base.apiKey) {
      throw new TRPCError({
        code: 'UNAUTHORIZED',
        message:
          base.via === 'key'
            ? 'This API key is not valid: unknown, revoked or expired'
            : 'Sign in first: this WebSocket carries no valid session cookie or API key',
      });
    }
    if (base.apiKey?.expiresAt != null) closeAtExpiry(res, base.apiKey.expiresAt);
    return {
      ...base,
      socket: res,
      transport: 'ws',
      setCookie: () => {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'Cookies can only be set over HTTP' });
      },
    };
  };
}
