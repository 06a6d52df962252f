// Sign-in throttling, shared by every node through the database: failed
// sign-ins are counted per account and per client address over a window
// (LOGIN_THROTTLE_WINDOW_MS); once either count reaches its limit, sign-ins
// for that account, or from that address, are refused until the window ends,
// before any password is checked (so a flood costs no argon2 work either).
// Addresses are counted under a keyed hash (the key made once per
// installation, in instance_secrets), never stored as such: docs/privacy.md.
import { createHmac, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import type { Env } from '../env';

export type ThrottleSettings = Pick<Env, 'LOGIN_MAX_FAILURES_PER_ACCOUNT' | 'LOGIN_MAX_FAILURES_PER_ADDRESS' | 'LOGIN_THROTTLE_WINDOW_MS'>;

export class LoginThrottledError extends Error {
  override name = 'LoginThrottledError';
  constructor(
    readonly what: 'account' | 'address',
    readonly retryAfterSeconds: number,
  ) {
    super(
      what === 'account'
        ? `Too many failed sign-ins for this account: try again in ${minutes(retryAfterSeconds)}`
        : `Too many failed sign-ins from this address: try again in ${minutes(retryAfterSeconds)}`,
    );
  }
}

const minutes = (seconds: number) => (seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`);

const ADDRESS_SECRET = 'address-hash';
const secrets = new WeakMap<object, Promise<string>>();

/** The installation's address-hashing key: made by whichever node needs it first, then read by all. */
function addressSecret(db: DbOrTx): Promise<string> {
  let secret = secrets.get(db);
  if (!secret) {
    secret = (async () => {
      await db.execute(sql`insert into instance_secrets (name, value) values (${ADDRESS_SECRET}, ${randomBytes(32).toString('base64url')})
                           on conflict (name) do nothing`);
      const [row] = await db.execute<{ value: string }>(sql`select value from instance_secrets where name = ${ADDRESS_SECRET}`);
      if (!row) throw new Error('instance secret address-hash missing after insert');
      return row.value;
    })();
    secret.catch(() => secrets.delete(db)); // a failed read is tried again next time
    secrets.set(db, secret);
  }
  return secret;
}

type Keys = { account: string; address: string | undefined };

async function keysOf(db: DbOrTx, params: { email: string; address: string | undefined }): Promise<Keys> {
  const account = `account:${params.email.trim().toLowerCase()}`;
  if (!params.address) return { account, address: undefined };
  const hashed = createHmac('sha256', await addressSecret(db)).update(params.address).digest('base64url');
  return { account, address: `address:${hashed}` };
}

/** Throws LoginThrottledError when the account or the address is refused for now. */
export async function checkLoginAllowed(db: DbOrTx, params: { email: string; address: string | undefined }): Promise<Keys> {
  const keys = await keysOf(db, params);
  const rows = await db.execute<{ key: string; wait: number }>(sql`
    select key, ceil(extract(epoch from blocked_until - now()))::int as wait
      from login_throttle
     where key in (${keys.account}, ${keys.address ?? keys.account}) and blocked_until > now()
     order by wait desc`);
  const blocked = rows[0];
  if (blocked) throw new LoginThrottledError(blocked.key === keys.account ? 'account' : 'address', Math.max(1, blocked.wait));
  return keys;
}

/** Counts a failed sign-in against the account and the address; the one that reaches its limit is refused until its window ends. */
export async function recordLoginFailure(db: DbOrTx, keys: Keys, settings: ThrottleSettings): Promise<void> {
  const windowMs = settings.LOGIN_THROTTLE_WINDOW_MS;
  const count = async (key: string, limit: number) => {
    await db.execute(sql`
      insert into login_throttle as t (key, failures, window_started_at, blocked_until)
      values (${key}, 1, now(), case when 1 >= ${limit}::int then now() + ${windowMs}::int * interval '1 ms' end)
      on conflict (key) do update set
        failures = case when t.window_started_at <= now() - ${windowMs}::int * interval '1 ms' then 1 else t.failures + 1 end,
        window_started_at = case when t.window_started_at <= now() - ${windowMs}::int * interval '1 ms' then now() else t.window_started_at end,
        blocked_until = case
          when (case when t.window_started_at <= now() - ${windowMs}::int * interval '1 ms' then 1 else t.failures + 1 end) >= ${limit}::int
          then greatest(t.blocked_until, now() + ${windowMs}::int * interval '1 ms')
          else t.blocked_until end`);
  };
  await count(keys.account, settings.LOGIN_MAX_FAILURES_PER_ACCOUNT);
  if (keys.address) await count(keys.address, settings.LOGIN_MAX_FAILURES_PER_ADDRESS);
}

/** A successful sign-in clears its account's count (the address's stands: it may be guessing at many accounts). */
export async function clearAccountFailures(db: DbOrTx, keys: Keys): Promise<void> {
  await db.execute(sql`delete from login_throttle where key = ${keys.account}`);
}
