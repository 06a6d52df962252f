// API keys for integrations (ticketing systems): `Authorization: Bearer sbk_…`.
// A key is shown once, at creation; only its SHA-256 is stored. Each key has
// scopes, an optional expiry, a last-used time (renewed at most once a minute)
// and can be revoked, which takes effect at once: on its next request (each
// node remembers valid keys briefly, and forgets them all on a revocation:
// KeyCache), and on its open sockets, which every node closes.
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import { apiKeys, integrations } from '../../db/schema';
import { controlChannel } from '../realtime/channels';
import { Remembered } from '../realtime/remembered';

export const SCOPES = ['tickets:write', 'tickets:read', 'presence:read', 'reports:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export type KeyPrincipal = {
  keyId: string;
  integrationId: string;
  integration: string;
  scopes: Scope[];
  /** When the key stops working (ms since the epoch), if ever: sockets opened with it close then. */
  expiresAt: number | null;
};

const KEY_PREFIX = 'sbk_';
/** What a key is known by, in the database and in each node's socket registry. */
export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Whether a key may be made to expire at `at`: in the future, and within a
 * century (PostgreSQL takes dates no earlier than 4713 BC, and the driver
 * misreads years before 100 when it reads them back: a key list would fail).
 */
export function validKeyExpiry(at: Date): boolean {
  const ms = at.getTime();
  return Number.isFinite(ms) && ms > Date.now() && ms < Date.now() + 100 * 365 * 86_400_000;
}
export const KEY_EXPIRY_RULE = 'a time in the future, within 100 years';

export class UnknownIntegrationError extends Error {
  override name = 'UnknownIntegrationError';
}

/** Creates a key for an integration (created on first use of its name); the plaintext key is returned only here. */
export async function createApiKey(
  db: DbOrTx,
  params: { integration: string; name: string; scopes: Scope[]; expiresAt?: Date; createdBy?: string },
): Promise<{ id: string; key: string; prefix: string; integrationId: string }> {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const prefix = key.slice(0, 12);
  return db.transaction(async (tx) => {
    await tx.insert(integrations).values({ name: params.integration }).onConflictDoNothing({ target: integrations.name });
    const [integration] = await tx.select({ id: integrations.id }).from(integrations).where(eq(integrations.name, params.integration));
    if (!integration) throw new UnknownIntegrationError(`integration: ${params.integration} could not be created`);
    const [row] = await tx
      .insert(apiKeys)
      .values({
        integrationId: integration.id,
        name: params.name,
        prefix,
        hash: hashKey(key),
        scopes: [...new Set(params.scopes)],
        expiresAt: params.expiresAt ?? null,
        createdBy: params.createdBy ?? null,
      })
      .returning({ id: apiKeys.id });
    if (!row) throw new Error('api key insert returned nothing');
    return { id: row.id, key, prefix, integrationId: integration.id };
  });
}

/** Keys whose last-used time this process is writing now. */
const touching = new Set<string>();

/** The principal of a presented key, or undefined if unknown, revoked or expired. */
export async function authenticateKey(db: DbOrTx, key: string): Promise<KeyPrincipal | undefined> {
  return (await readKey(db, key))?.principal;
}

/** How long a node trusts a key it read, should the notice of its revocation be missed. */
const KEY_TTL_MS = 10_000;

/**
 * The keys this node authenticated lately, by hash, so that a ticketing
 * system's requests do not each read their key first (a round trip before
 * every create). Only valid keys are kept, each until its expiry or
 * KEY_TTL_MS, whichever is sooner. A revocation anywhere sends a `keys`
 * control message and every node forgets them all; the node that revoked
 * forgets at once, before it answers.
 */
export class KeyCache {
  private readonly known = new Remembered<KeyPrincipal>();

  constructor(private readonly db: DbOrTx) {}

  forget(): void {
    this.known.forget();
  }

  async authenticate(key: string): Promise<KeyPrincipal | undefined> {
    const hash = hashKey(key);
    const known = this.known.get(hash);
    if (known) return known;
    const token = this.known.token;
    const read = await readKey(this.db, key);
    if (read) this.known.set(hash, read.principal, Math.min(Date.now() + KEY_TTL_MS, read.expiresAt?.getTime() ?? Infinity), token);
    return read?.principal;
  }
}

async function readKey(db: DbOrTx, key: string): Promise<{ principal: KeyPrincipal; expiresAt: Date | null } | undefined> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return undefined;
  const [row] = await db
    .select({
      keyId: apiKeys.id,
      integrationId: apiKeys.integrationId,
      integration: integrations.name,
      scopes: apiKeys.scopes,
      expiresAt: apiKeys.expiresAt,
      usedRecently: sql<boolean>`${apiKeys.lastUsedAt} > now() - interval '1 minute'`,
    })
    .from(apiKeys)
    .innerJoin(integrations, eq(integrations.id, apiKeys.integrationId))
    .where(
      and(
        eq(apiKeys.hash, hashKey(key)),
        isNull(apiKeys.revokedAt),
        sql`(${apiKeys.expiresAt} is null or ${apiKeys.expiresAt} > now())`,
      ),
    );
  if (!row) return undefined;
  if (!row.usedRecently && !touching.has(row.keyId)) {
    // Once per key at a time and only if still stale: a burst of requests on one key would otherwise
    // queue on that key's row lock, each one waiting for the last one's update to commit.
    touching.add(row.keyId);
    try {
      await db
        .update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(and(eq(apiKeys.id, row.keyId), sql`(${apiKeys.lastUsedAt} is null or ${apiKeys.lastUsedAt} <= now() - interval '1 minute')`));
    } finally {
      touching.delete(row.keyId);
    }
  }
  return {
    principal: {
      keyId: row.keyId,
      integrationId: row.integrationId,
      integration: row.integration,
      scopes: row.scopes as Scope[],
      expiresAt: row.expiresAt?.getTime() ?? null,
    },
    expiresAt: row.expiresAt,
  };
}

export type KeyInfo = {
  id: string;
  name: string;
  prefix: string;
  integration: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
};

export async function listApiKeys(db: DbOrTx): Promise<KeyInfo[]> {
  const rows = await db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      integration: integrations.name,
      scopes: apiKeys.scopes,
      createdAt: apiKeys.createdAt,
      expiresAt: apiKeys.expiresAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .innerJoin(integrations, eq(integrations.id, apiKeys.integrationId))
    .orderBy(desc(apiKeys.createdAt));
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return rows.map((r) => ({
    ...r,
    createdAt: r.createdAt.toISOString(),
    expiresAt: iso(r.expiresAt),
    lastUsedAt: iso(r.lastUsedAt),
    revokedAt: iso(r.revokedAt),
  }));
}

/** Revokes a key; returns false if there is no such key or it was already revoked. */
export async function revokeApiKey(db: DbOrTx, params: { id: string }): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiKeys.id, params.id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id, hash: apiKeys.hash });
    // Every node forgets the keys it trusted (KeyCache) and closes the sockets opened with this one.
    if (rows.length > 0) await tx.execute(controlChannel.notify({ k: 'keys', h: rows.map((r) => r.hash) }));
    return rows.length > 0;
  });
}

/** The key a request presents: `Authorization: Bearer …` (HTTP) or a WebSocket's connection params. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}
