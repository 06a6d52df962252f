// Sign-in: checks a password, issues a browser session (an opaque random token
// in an HttpOnly cookie; only its SHA-256 is stored), resolves and ends it.
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../db/client';
import { retryingLostConnection } from '../../db/retry';
import {
  deleteAuthSession,
  deleteAuthSessionsOfUser,
  expireAuthSessions,
  findSessionUser,
  findUserByEmail,
  findUserById,
  insertAuthSession,
  setPasswordHash,
  type SessionUser,
} from '../../db/queries/people';
import { signOutAgentDevices } from '../presence/store';
import { chunks, controlChannel } from '../realtime/channels';
import { decoyHash, hashPassword, verifyPassword } from './password';
import { checkLoginAllowed, clearAccountFailures, recordLoginFailure, type ThrottleSettings } from './throttle';

export const SESSION_COOKIE = 'sb_session';

export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError';
  constructor(message = 'Email or password is incorrect') {
    super(message);
  }
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Checks an email and password and makes a browser sign-in. Refused before any
 * password check while the account or the address is throttled; a failure
 * counts against both (server/auth/throttle.ts). A deactivated user's correct
 * password fails like a wrong one: the answer does not say who exists.
 */
export async function login(
  db: Db,
  params: { email: string; password: string; ttlMs: number; address: string | undefined; throttle: ThrottleSettings },
): Promise<{ user: SessionUser; token: string; expiresAt: Date }> {
  const keys = await checkLoginAllowed(db, params);
  const found = await findUserByEmail(db, { email: params.email });
  // Verify against a decoy when the email is unknown, so timing does not reveal which emails exist.
  const ok = await verifyPassword(found?.passwordHash ?? (await decoyHash()), params.password);
  if (!found || !ok || found.deactivatedAt) {
    await recordLoginFailure(db, keys, params.throttle);
    throw new InvalidCredentialsError();
  }
  await clearAccountFailures(db, keys);
  const user: SessionUser = { id: found.id, email: found.email, name: found.name, role: found.role };
  return { user, ...(await newSignIn(db, { userId: user.id, ttlMs: params.ttlMs })) };
}

async function newSignIn(db: Db, params: { userId: string; ttlMs: number }): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + params.ttlMs);
  await insertAuthSession(db, { id: hashToken(token), userId: params.userId, expiresAt });
  return { token, expiresAt };
}

export function userForToken(db: Db, token: string | undefined, idleMs: number): Promise<SessionUser | undefined> {
  if (!token) return Promise.resolve(undefined);
  // Every signed-in request starts here: a connection cut under it (a database restart) is asked
  // again rather than failing the agent's click. Asking twice only renews last use twice.
  return retryingLostConnection(() => findSessionUser(db, { sessionHash: hashToken(token), idleMs }));
}

export class WeakPasswordError extends Error {
  override name = 'WeakPasswordError';
}

/** What a new password must be: long enough, and not the old one. */
export function checkNewPassword(password: string, old?: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new WeakPasswordError(`newPassword: at least ${MIN_PASSWORD_LENGTH} characters`);
  if (old !== undefined && password === old) throw new WeakPasswordError('newPassword: the same as the current password');
}
export const MIN_PASSWORD_LENGTH = 10;

/**
 * Changes the signed-in user's password, after checking the current one (a
 * wrong one counts as a failed sign-in), then does what signing out
 * everywhere does — every sign-in of the user ends and every socket opened
 * with one closes — and makes a new sign-in for the browser that asked.
 */
export async function changePassword(
  deps: { db: Db },
  params: {
    user: SessionUser;
    currentPassword: string;
    newPassword: string;
    ttlMs: number;
    address: string | undefined;
    throttle: ThrottleSettings;
  },
): Promise<{ token: string; expiresAt: Date }> {
  const { db } = deps;
  const keys = await checkLoginAllowed(db, { email: params.user.email, address: params.address });
  const found = await findUserById(db, { id: params.user.id });
  if (!found || !(await verifyPassword(found.passwordHash, params.currentPassword))) {
    await recordLoginFailure(db, keys, params.throttle);
    throw new InvalidCredentialsError('currentPassword: incorrect');
  }
  checkNewPassword(params.newPassword, params.currentPassword);
  await setPasswordHash(db, { userId: found.id, passwordHash: await hashPassword(params.newPassword) });
  await signOut(deps, { user: params.user, authSessionId: '', everywhere: true });
  return newSignIn(db, { userId: found.id, ttlMs: params.ttlMs });
}

/**
 * Ends the browser sign-ins that ran out (absolute lifetime or idle timeout):
 * their agents' device sessions end (`signed_out`) and every node closes the
 * sockets opened with them. Run by the presence sweep, on one node at a time.
 */
export async function expireSignIns(db: Db, params: { idleMs: number }): Promise<number> {
  const expired = await expireAuthSessions(db, params);
  for (const signIn of expired) {
    if (signIn.role === 'agent') await signOutAgentDevices(db, { agentId: signIn.userId, authSessionId: signIn.id });
  }
  await closeSocketsOf(db, expired.map((s) => s.id));
  return expired.length;
}

/** Tells every node to close the sockets opened with these browser sign-ins (their hashes). */
async function closeSocketsOf(db: Db, authSessionIds: string[]): Promise<void> {
  for (const part of chunks(authSessionIds, 100)) await db.execute(controlChannel.notify({ k: 'signout', h: part }));
}

/**
 * Signs a browser out (or, `everywhere`, every browser of the user): deletes
 * the sign-ins, ends the agent's device sessions under them (`signed_out`),
 * and tells every node to close the sockets opened with them.
 */
export async function signOut(
  deps: { db: Db },
  params: { user: SessionUser; authSessionId: string; everywhere?: boolean },
): Promise<void> {
  const { db } = deps;
  let ids = [params.authSessionId];
  if (params.everywhere) ids = await deleteAuthSessionsOfUser(db, { userId: params.user.id });
  else await deleteAuthSession(db, { sessionHash: params.authSessionId });
  if (params.user.role === 'agent') {
    // Through the database and the control channel, so any process can do it (a node, the CLI).
    await signOutAgentDevices(db, {
      agentId: params.user.id,
      authSessionId: params.everywhere ? undefined : params.authSessionId,
    });
  }
  await closeSocketsOf(db, ids);
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
