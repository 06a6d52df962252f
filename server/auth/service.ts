// Sign-in: checks a password, issues a browser session (an opaque random token
// in an HttpOnly cookie; only its SHA-256 is stored), resolves and ends it.
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../db/client';
import {
  deleteAuthSession,
  deleteAuthSessionsOfUser,
  findSessionUser,
  findUserByEmail,
  insertAuthSession,
  type SessionUser,
} from '../../db/queries/people';
import type { PresenceEngine } from '../presence/engine';
import { chunks, controlChannel } from '../realtime/channels';
import { decoyHash, verifyPassword } from './password';

export const SESSION_COOKIE = 'sb_session';

export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError';
  constructor() {
    super('Email or password is incorrect');
  }
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');

export async function login(
  db: Db,
  params: { email: string; password: string; ttlMs: number },
): Promise<{ user: SessionUser; token: string; expiresAt: Date }> {
  const found = await findUserByEmail(db, { email: params.email });
  // Verify against a decoy when the email is unknown, so timing does not reveal which emails exist.
  const ok = await verifyPassword(found?.passwordHash ?? (await decoyHash()), params.password);
  if (!found || !ok) throw new InvalidCredentialsError();
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + params.ttlMs);
  await insertAuthSession(db, { id: hashToken(token), userId: found.id, expiresAt });
  const user: SessionUser = { id: found.id, email: found.email, name: found.name, role: found.role };
  return { user, token, expiresAt };
}

export function userForToken(db: Db, token: string | undefined): Promise<SessionUser | undefined> {
  if (!token) return Promise.resolve(undefined);
  return findSessionUser(db, { sessionHash: hashToken(token) });
}

/**
 * Signs a browser out (or, `everywhere`, every browser of the user): deletes
 * the sign-ins, ends the agent's device sessions under them (`signed_out`),
 * and tells every node to close the sockets opened with them.
 */
export async function signOut(
  deps: { db: Db; engine: PresenceEngine },
  params: { user: SessionUser; authSessionId: string; everywhere?: boolean },
): Promise<void> {
  const { db, engine } = deps;
  let ids = [params.authSessionId];
  if (params.everywhere) ids = await deleteAuthSessionsOfUser(db, { userId: params.user.id });
  else await deleteAuthSession(db, { sessionHash: params.authSessionId });
  if (params.user.role === 'agent') {
    await engine.signOutDevices({
      agentId: params.user.id,
      authSessionId: params.everywhere ? undefined : params.authSessionId,
    });
  }
  for (const part of chunks(ids, 100)) await db.execute(controlChannel.notify({ k: 'signout', h: part }));
}

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function sessionCookie(token: string, options: { maxAgeMs: number; secure: boolean }): string {
  const maxAge = Math.max(0, Math.floor(options.maxAgeMs / 1000));
  return [
    `${SESSION_COOKIE}=${token}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${maxAge}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
