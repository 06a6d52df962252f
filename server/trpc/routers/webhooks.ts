// webhooks.*: an integration's webhook and its delivery log, managed by admins (changes audited).
// The signing secret is returned only when made: by set, at creation or with rotateSecret.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { setWebhookRecorded } from '../../admin/integrations';
import { byUser } from '../../audit/log';
import { getWebhook, listDeliveries } from '../../webhooks/store';
import { adminProcedure, router } from '../init';

const integration = z.string().trim().min(1).max(100);

const httpUrl = z
  .string()
  .trim()
  .max(2000)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'an http:// or https:// URL');

/** Services answer undefined for an integration that does not exist. */
function found<T>(value: T | undefined): T {
  if (value === undefined) throw new TRPCError({ code: 'NOT_FOUND', message: 'integration: no such integration' });
  return value;
}

export const webhooksRouter = router({
  set: adminProcedure
    .input(z.object({ integration, url: httpUrl, enabled: z.boolean().optional(), rotateSecret: z.boolean().optional() }))
    .mutation(async ({ ctx, input }) => found(await setWebhookRecorded(ctx.services.db, byUser(ctx.user, ctx.address), input))),

  get: adminProcedure.input(z.object({ integration })).query(async ({ ctx, input }) => found(await getWebhook(ctx.services.db, input))),

  deliveries: adminProcedure
    .input(
      z.object({
        integration,
        limit: z.number().int().min(1).max(200).default(50),
        /** The last log id of the previous page. */
        before: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
      }),
    )
    .query(async ({ ctx, input }) => found(await listDeliveries(ctx.services.db, input))),
});
