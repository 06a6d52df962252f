// NOTIFY channels: each channel's name and payload schema, defined once for the
// sender (inside the transaction that makes the change) and the hub (receiver).
// Payloads are doorbells: ids and versions only, far below the 8000-byte limit.
import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';

function channel<T extends z.ZodType>(name: string, payload: T) {
  return {
    name,
    payload,
    /** A `select pg_notify(...)` to run inside the writing transaction. */
    notify(value: z.infer<T>): SQL {
      return sql`select pg_notify(${name}, ${JSON.stringify(payload.parse(value))})`;
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

/** A presence change was committed: event `e` for agent `a`, now at version `v`. */
export const presenceChannel = channel(
  'sb_presence',
  z.object({ e: z.number().int(), a: z.string().uuid(), v: z.number().int() }),
);
