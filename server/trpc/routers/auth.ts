// auth.*: sign in (sets the session cookie), sign out, who am I.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { login, logout, sessionCookie } from '../../auth/service';
import { publicProcedure, router } from '../init';

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

  logout: publicProcedure.mutation(async ({ ctx }) => {
    await logout(ctx.services.db, ctx.token);
    if (ctx.transport === 'http') ctx.setCookie(sessionCookie('', { maxAgeMs: 0, secure: ctx.secure }));
    return { ok: true as const };
  }),

  me: publicProcedure.query(({ ctx }) => ({ user: ctx.user ?? null })),
});
