// Real clients for tests: sign in over HTTP for a session cookie, then open a
// tRPC WebSocket carrying it, as a browser tab would.
import { createTRPCClient, createWSClient, httpLink, wsLink, type TRPCClient } from '@trpc/client';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { SessionEvent } from '../presence/session';
import type { AppRouter } from '../trpc/router';

export async function signIn(baseUrl: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: baseUrl },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('sign-in set no cookie');
  return cookie;
}

export type SocketClient = {
  trpc: TRPCClient<AppRouter>;
  close: () => Promise<void>;
};

/**
 * A tRPC client over one WebSocket, authenticated with `cookie` (or none). It
 * reconnects after 100 ms, or as `retryDelayMs` says (the pages' backoff, say).
 */
export function socketClient(
  baseUrl: string,
  cookie?: string,
  userAgent = 'node-test',
  options: { retryDelayMs?: (attempt: number) => number } = {},
): SocketClient {
  class CookieSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { ...(cookie ? { cookie } : {}), 'user-agent': userAgent } });
    }
  }
  const wsClient = createWSClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/api/trpc`,
    WebSocket: CookieSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: options.retryDelayMs ?? (() => 100),
  });
  return {
    trpc: createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] }),
    close: () => wsClient.close(),
  };
}

/** A tRPC client over plain HTTP. */
export function httpClient(baseUrl: string, cookie?: string): TRPCClient<AppRouter> {
  return createTRPCClient<AppRouter>({
    // A browser page of this site says so in its Origin header; signed-in changes need it.
    links: [httpLink({ url: `${baseUrl}/api/trpc`, headers: { origin: baseUrl, ...(cookie ? { cookie } : {}) } })],
  });
}

/** A tRPC client of an integration: plain HTTP with `Authorization: Bearer <key>`. */
export function keyClient(baseUrl: string, key: string): TRPCClient<AppRouter> {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl}/api/trpc`, headers: { authorization: `Bearer ${key}` } })],
  });
}

/** An integration's WebSocket client (subscriptions such as tickets.events), authenticated by its key. */
export function keySocketClient(baseUrl: string, key: string): SocketClient {
  class KeySocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization: `Bearer ${key}` } });
    }
  }
  const wsClient = createWSClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/api/trpc`,
    WebSocket: KeySocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 100,
  });
  return { trpc: createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] }), close: () => wsClient.close() };
}

/** Collects a subscription's data, for assertions with expect.poll. */
export function collect<T>(): { items: T[]; push: (item: T) => void } {
  const items: T[] = [];
  return { items, push: (item) => items.push(item) };
}

export type Device = SocketClient & {
  sessionId: string;
  events: SessionEvent[];
  heartbeat: (activity?: 'active' | 'idle') => Promise<null>;
};

/** A device as a tab is one: a signed-in socket with an attached presence session. */
export async function openDevice(
  baseUrl: string,
  cookie: string,
  ids: { deviceId?: string; sessionId?: string } = {},
): Promise<Device> {
  const socket = socketClient(baseUrl, cookie, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36');
  const events: SessionEvent[] = [];
  const attached = new Promise<string>((resolve, reject) => {
    socket.trpc.presence.session.subscribe(
      { deviceId: ids.deviceId ?? `device-${randomUUID()}`, sessionId: ids.sessionId ?? `tab-${randomUUID()}` },
      {
        onData: (event) => {
          events.push(event);
          if (event.type === 'attached') resolve(event.sessionId);
        },
        onError: reject,
      },
    );
  });
  const sessionId = await attached;
  return {
    ...socket,
    sessionId,
    events,
    heartbeat: (activity) => socket.trpc.presence.heartbeat.mutate({ sessionId, activity }),
  };
}
