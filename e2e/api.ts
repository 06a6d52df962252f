// Calls to the API as a ticketing system makes them: plain HTTP and JSON, no
// tRPC client; and the few steps the routing tests share.
import { expect } from '@playwright/test';

export type Answer<T> = { status: number; data?: T; error?: { message: string; data: { code: string } } };

/** One tRPC call over plain HTTP, as a ticketing system makes it (no tRPC client). */
export async function call<T>(
  base: string,
  procedure: string,
  options: { type: 'query' | 'mutation'; input?: unknown; key?: string; cookie?: string },
): Promise<Answer<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  // A signed-in change must say it comes from this site's pages, as a browser's would.
  if (options.cookie) Object.assign(headers, { cookie: options.cookie, origin: base });
  const query = options.type === 'query' && options.input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(options.input))}` : '';
  const res = await fetch(`${base}/api/trpc/${procedure}${query}`, {
    method: options.type === 'query' ? 'GET' : 'POST',
    headers,
    body: options.type === 'mutation' ? JSON.stringify(options.input ?? {}) : undefined,
  });
  const body = (await res.json()) as { result?: { data: T }; error?: Answer<T>['error'] };
  return { status: res.status, data: body.result?.data, error: body.error };
}

/** The demo admin's session cookie, signed in over HTTP as a script would. */
export async function adminCookie(base: string): Promise<string> {
  const login = await fetch(`${base}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ email: 'admin@example.com', password: 'switchboard' }),
  });
  expect(login.status).toBe(200);
  return login.headers.get('set-cookie')!.split(';')[0]!;
}

/** What a script does to get a key: sign in as the admin over HTTP, then keys.create. */
export async function createKeyAsAdmin(base: string, input: { integration: string; name: string; scopes: string[] }): Promise<string> {
  const created = await call<{ key: string }>(base, 'keys.create', { type: 'mutation', cookie: await adminCookie(base), input });
  expect(created.status).toBe(200);
  return created.data!.key;
}

type NewTicket = { externalId: string; subject: string; url?: string };

export async function createTicket(base: string, key: string, ticket: NewTicket): Promise<string> {
  const created = await call<{ id: string }>(base, 'tickets.create', {
    type: 'mutation',
    key,
    input: { queue: 'billing', channel: 'chat', skills: ['fr'], ...ticket },
  });
  expect(created.status).toBe(200);
  return created.data!.id;
}

/** A name no earlier run on the same database has used. */
export const unique = (name: string) => `${name}-${Date.now().toString(36)}`;
