// NOTIFY channels: each channel's name and payload schema, defined once for the
// sender (inside the transaction that makes the change) and the hub (receiver).
// Payloads are doorbells: ids and versions only, far below the 8000-byte limit.
import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';

function channel<T extends z.ZodType>(name: string, payload: T) {
  const encode = (value: z.infer<T>): string => JSON.stringify(payload.parse(value));
  return {
    name,
    payload,
    /** The payload as sent, checked against the schema (for a statement that rings the doorbell itself). */
    encode,
    /** A `select pg_notify(...)` to run inside the writing transaction. */
    notify(value: z.infer<T>): SQL {
      return sql`select pg_notify(${name}, ${encode(value)})`;
    },
    parse(raw: string): z.infer<T> | undefined {
      try {
        const result = payload.safeParse(JSON.parse(raw));
        return result.success ? result.data : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Presence changes were committed: `n` events. One transaction rings once,
 * however many agents it changed; readers take the rows from the event log
 * after their own cursor (ids are given at commit, so the doorbell carries none).
 */
export const presenceChannel = channel('sb_presence', z.object({ n: z.number().int().positive() }));

/** Ticket events were committed: `n` of them (the ticket feed's doorbell). */
export const ticketChannel = channel('sb_tickets', z.object({ n: z.number().int().positive() }));

const endReason = z.enum(['closed', 'timeout', 'node_lost', 'forced', 'signed_out']);

/**
 * Sessions ended by someone other than the node holding their socket (a sweep,
 * another node, a supervisor, a sign-out): `ended` names device sessions whose
 * tabs must be told; `signout` names browser sign-ins (auth session hashes)
 * whose sockets must close; `webhooks` says a webhook was created or changed
 * (nodes forget which integrations have one); `keys` says API keys `h` (their
 * hashes) were revoked (nodes forget the keys they trusted and close the
 * sockets opened with those keys); `teams` says the agents of
 * teams `t` changed (membership, skills, capacity overrides) and `a` names the
 * agents whose teams may have changed (routing reads those teams again:
 * server/routing/team-changes.ts). Lists are chunked to stay under the payload limit.
 */
export const controlChannel = channel(
  'sb_control',
  z.discriminatedUnion('k', [
    z.object({ k: z.literal('ended'), s: z.array(z.string().uuid()).max(150), r: endReason }),
    z.object({ k: z.literal('signout'), h: z.array(z.string().max(64)).max(100) }),
    z.object({ k: z.literal('webhooks') }),
    z.object({ k: z.literal('keys'), h: z.array(z.string().max(64)).max(100).optional() }),
    z.object({ k: z.literal('teams'), t: z.array(z.string().uuid()).max(50), a: z.array(z.string().uuid()).max(50) }),
    // A readiness check's own notification (server/ops/health.ts): every node hears it and ignores it.
    z.object({ k: z.literal('ping'), p: z.string().uuid() }),
  ]),
);
export type ControlMessage = z.infer<typeof controlChannel.payload>;

/** Splits a list into chunks that each fit one notification. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
