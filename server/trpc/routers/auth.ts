// auth.*: sign in (sets the session cookie), sign out, who am I.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { changePassword, login, MIN_PASSWORD_LENGTH, sessionCookie, signOut } from '../../auth/service';
import { authedProcedure, publicProcedure, router } from '../init';

export const authRouter = router({
  login: publicProcedure
    .input(z.object({ email: z.string().trim().email().max(320), password: z.string().min(1).max(1024) }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.transport !== 'http') {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'auth.login must be called over HTTP (it sets a cookie)' });
      }
      // Login CSRF: another site must not sign a visitor's browser in (as its own account).
      if (ctx.origin === 'foreign') throw new TRPCError({ code: 'FORBIDDEN', message: 'Origin: sign in from this site’s own login page' });
      const { env, db } = ctx.services;
      const session = await login(db, { ...input, ttlMs: env.AUTH_SESSION_TTL_MS, address: ctx.address, throttle: env });
      ctx.setCookie(sessionCookie(session.token, { maxAgeMs: env.AUTH_SESSION_TTL_MS, secure: ctx.secure }));
      return { user: session.user };
    }),

  /** Changes the password; every sign-in of the user ends (sockets close), and this browser gets a new one. */
  changePassword: authedProcedure
    .input(
      z.object({
        currentPassword: z.string().min(1).max(1024),
        newPassword: z.string().min(MIN_PASSWORD_LENGTH).max(1024),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      if (ctx.transport !== 'http') {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'auth.changePassword must be called over HTTP (it sets a cookie)' });
      }
      const { env } = ctx.services;
      const session = await changePassword(ctx.services, {
        user: ctx.user,
        ...input,
        ttlMs: env.AUTH_SESSION_TTL_MS,
        address: ctx.address,
        throttle: env,
      });
      ctx.setCookie(sessionCookie(session.token, { maxAgeMs: env.AUTH_SESSION_TTL_MS, secure: ctx.secure }));
      return { ok: true as const };
    }),

  /** Signs this browser out: its sign-in, its device sessions, its sockets on every node. */
  logout: publicProcedure.mutation(async ({ ctx }) => {
    if (ctx.user && ctx.authSessionId) await signOut(ctx.services, { user: ctx.user, authSessionId: ctx.authSessionId });
    if (ctx.transport === 'http') ctx.setCookie(sessionCookie('', { maxAgeMs: 0, secure: ctx.secure }));
    return { ok: true as const };
  }),

  /** Signs every browser of the user out. */
  logoutEverywhere: authedProcedure.mutation(async ({ ctx }) => {
    await signOut(ctx.services, { user: ctx.user, authSessionId: ctx.authSessionId ?? '', everywhere: true });
    if (ctx.transport === 'http') ctx.setCookie(sessionCookie('', { maxAgeMs: 0, secure: ctx.secure }));
    return { ok: true as const };
  }),

  me: publicProcedure.query(({ ctx }) => ({ user: ctx.user ?? null })),
});
