'use client';
// The browser's tRPC client: one WebSocket per tab for presence and live views,
// plain HTTP for auth.* (it sets and clears the session cookie).
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink } from '@trpc/client';
import type { AppRouter } from '@/server/trpc/router';
import { reconnectDelayMs } from '@/server/client/retry';

type Client = ReturnType<typeof createTRPCClient<AppRouter>>;
let client: Client | undefined;
const socketListeners = new Set<(open: boolean) => void>();
let socketOpen = false;

export function trpc(): Client {
  if (client) return client;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const wsClient = createWSClient({
    url: `${scheme}://${location.host}/api/trpc`,
    // Connect on the first subscription, not on pages that need none (login).
    // (closeMs 0 made tRPC re-arm a timer many times a second while any subscription was open.)
    lazy: { enabled: true, closeMs: 10_000 },
    // Capped exponential backoff with jitter, so a restarted server is not stampeded.
    retryDelayMs: (attempt) => reconnectDelayMs(attempt),
    onOpen: () => {
      socketOpen = true;
      socketListeners.forEach((l) => l(true));
    },
    onClose: () => {
      socketOpen = false;
      socketListeners.forEach((l) => l(false));
    },
  });
  client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.path.startsWith('auth.'),
        true: httpBatchLink({ url: '/api/trpc' }),
        false: wsLink({ client: wsClient }),
      }),
    ],
  });
  return client;
}

/** Whether the tab's WebSocket is open now. */
export function socketIsOpen(): boolean {
  return socketOpen;
}

/** Calls `listener` with true when the tab's WebSocket opens and false when it closes. */
export function onSocket(listener: (open: boolean) => void): () => void {
  socketListeners.add(listener);
  return () => socketListeners.delete(listener);
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Stable for this browser (all its tabs). */
export function deviceId(): string {
  let id = localStorage.getItem('sb-device-id');
  if (!id) localStorage.setItem('sb-device-id', (id = randomId()));
  return id;
}

/** Stable for this tab across reloads, so a reload reattaches to the same session. */
export function tabSessionId(): string {
  let id = sessionStorage.getItem('sb-session-id');
  if (!id) sessionStorage.setItem('sb-session-id', (id = randomId()));
  return id;
}
