// auth.*: sign in (sets the session cookie), sign out, who am I.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { login, sessionCookie, signOut } from '../../auth/service';
import { authedProcedure, publicProcedure, router } from '../init';

export const authRouter = router({
  login: publicProcedure
    .input(z.object({ email: z.string().trim().email().max(320), password: z.string().min(1).max(1024) }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.transport !== 'http') {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'auth.login must be called over HTTP (it sets a cookie)' });
      }
      const ttlMs = ctx.services.env.AUTH_SESSION_TTL_MS;
      const session = await login(ctx.services.db, { ...input, ttlMs });
      ctx.setCookie(sessionCookie(session.token, { maxAgeMs: ttlMs, secure: ctx.secure }));
      return { user: session.user };
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
