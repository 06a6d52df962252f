// The audit log: what supervisors, admins, integrations and the operator's
// command line did to people, teams, keys and webhooks, for admins to read.
// A row copies the actor's label (email, key name or `cli`), so it stays
// readable after the actor is gone; `address` is the client's IP address, and
// this log is the one place one is kept (docs/privacy.md). Writers record in
// the transaction of the change they describe where they can, so a change and
// its row commit together.
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client';
import type { SessionUser } from '../../db/queries/people';
import { auditLog } from '../../db/schema';
import { AUDIT_ACTIONS, type AuditAction } from './actions';

export { AUDIT_ACTIONS, type AuditAction };

/** Who acted: a signed-in user, an integration's API key, or the operator's command line. */
export type Actor = { userId?: string; keyId?: string; label: string };

export const userActor = (user: Pick<SessionUser, 'id' | 'email'>): Actor => ({ userId: user.id, label: user.email });
export const keyActor = (key: { keyId: string; name: string }): Actor => ({ keyId: key.keyId, label: `key ${key.name}` });
export const CLI_ACTOR: Actor = { label: 'cli' };

/** Who acted and from where: what every audited service call is given. */
export type AuditBy = { actor: Actor; address?: string };

/** A signed-in user acting from `address` (the request's client address). */
export const byUser = (user: Pick<SessionUser, 'id' | 'email'>, address: string | undefined): AuditBy => ({ actor: userActor(user), address });

export type AuditRecord = AuditBy & {
  action: AuditAction;
  targetType: 'user' | 'team' | 'member' | 'agent' | 'key' | 'webhook';
  targetId?: string;
  details?: Record<string, unknown>;
};

export async function recordAudit(db: DbOrTx, record: AuditRecord): Promise<void> {
  await db.insert(auditLog).values({
    actorUserId: record.actor.userId ?? null,
    actorKeyId: record.actor.keyId ?? null,
    actorLabel: record.actor.label,
    action: record.action,
    targetType: record.targetType,
    targetId: record.targetId ?? null,
    details: record.details ?? {},
    address: record.address ?? null,
  });
}

export type AuditEntry = {
  id: number;
  at: string;
  actor: { userId: string | null; keyId: string | null; label: string };
  action: string;
  targetType: string;
  targetId: string | null;
  details: Record<string, unknown>;
  address: string | null;
};

/** A page of the log, newest first; `nextBefore` continues it (null: nothing older). */
export async function listAudit(
  db: DbOrTx,
  params: { limit: number; before?: number; action?: AuditAction },
): Promise<{ entries: AuditEntry[]; nextBefore: number | null }> {
  const where: SQL[] = [];
  if (params.before !== undefined) where.push(lt(auditLog.id, params.before));
  if (params.action) where.push(eq(auditLog.action, params.action));
  // One row more than asked tells whether an older page exists.
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(params.limit + 1);
  const page = rows.slice(0, params.limit);
  return {
    entries: page.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      actor: { userId: r.actorUserId, keyId: r.actorKeyId, label: r.actorLabel },
      action: r.action,
      targetType: r.targetType,
      targetId: r.targetId,
      details: r.details,
      address: r.address,
    })),
    nextBefore: rows.length > params.limit ? (page.at(-1)?.id ?? null) : null,
  };
}
