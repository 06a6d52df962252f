// keys.*: integrations' API keys, managed by admins (audited). The key itself is returned once, by create.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createKey, revokeKey } from '../../admin/integrations';
import { byUser } from '../../audit/log';
import { KEY_EXPIRY_RULE, listApiKeys, SCOPES, validKeyExpiry } from '../../auth/api-keys';
import { adminProcedure, router } from '../init';

export const keysRouter = router({
  create: adminProcedure
    .input(
      z.object({
        integration: z.string().trim().min(1).max(100),
        name: z.string().trim().min(1).max(100),
        scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
        expiresAt: z.iso
          .datetime()
          .max(40)
          .refine((value) => validKeyExpiry(new Date(value)), KEY_EXPIRY_RULE)
          .optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      createKey(ctx.services.db, byUser(ctx.user, ctx.address), {
        ...input,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : undefined,
        createdBy: ctx.user.id,
      }),
    ),
  list: adminProcedure.query(({ ctx }) => listApiKeys(ctx.services.db)),
  revoke: adminProcedure.input(z.object({ id: z.string().uuid() })).mutation(async ({ ctx, input }) => {
    if (!(await revokeKey(ctx.services.db, byUser(ctx.user, ctx.address), input))) {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'id: no such active key' });
    }
    ctx.services.keys.forget(); // here at once; the other nodes on the control message
    return { ok: true as const };
  }),
});
