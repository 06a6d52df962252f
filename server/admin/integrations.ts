// API keys and webhooks made, revoked or changed by an admin or the command
// line, recorded in the audit log. A key's and a webhook's secrets are never
// recorded; a webhook's URL is recorded without its query (it may carry a token).
import type { Db } from '../../db/client';
import { findKeyLabel } from '../../db/queries/admin';
import { recordAudit, type AuditBy } from '../audit/log';
import { createApiKey, revokeApiKey, type Scope } from '../auth/api-keys';
import { setWebhook } from '../webhooks/store';

export async function createKey(
  db: Db,
  by: AuditBy,
  input: { integration: string; name: string; scopes: Scope[]; expiresAt?: Date; createdBy?: string },
): Promise<Awaited<ReturnType<typeof createApiKey>>> {
  return db.transaction(async (tx) => {
    const created = await createApiKey(tx, input);
    await recordAudit(tx, {
      ...by,
      action: 'key.create',
      targetType: 'key',
      targetId: created.id,
      details: {
        integration: input.integration,
        name: input.name,
        prefix: created.prefix,
        scopes: [...new Set(input.scopes)],
        expiresAt: input.expiresAt?.toISOString() ?? null,
      },
    });
    return created;
  });
}

/** Revokes a key; false if there is no such active key. */
export async function revokeKey(db: Db, by: AuditBy, input: { id: string }): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (!(await revokeApiKey(tx, input))) return false;
    const key = await findKeyLabel(tx, input);
    await recordAudit(tx, { ...by, action: 'key.revoke', targetType: 'key', targetId: input.id, details: { ...key } });
    return true;
  });
}

/** Creates or changes an integration's webhook (undefined: no such integration). */
export async function setWebhookRecorded(
  db: Db,
  by: AuditBy,
  input: Parameters<typeof setWebhook>[1],
): ReturnType<typeof setWebhook> {
  // setWebhook runs its own transaction on the pool: the row follows it.
  const result = await setWebhook(db, input);
  if (!result) return result;
  await recordAudit(db, {
    ...by,
    action: 'webhook.set',
    targetType: 'webhook',
    targetId: result.webhook.id,
    details: {
      integration: input.integration,
      url: withoutQuery(input.url),
      enabled: result.webhook.enabled,
      created: result.created,
      secretRotated: !result.created && result.secret !== undefined,
    },
  });
  return result;
}

function withoutQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
