// Presence actions that check who may do them before asking the engine:
// an agent signing out one of their own devices, a supervisor forcing status (audited).
import { eq } from 'drizzle-orm';
import { maySupervise, type SessionUser } from '../../db/queries/people';
import { agentDevices, type DeviceRow } from '../../db/queries/roster';
import { deviceSessions } from '../../db/schema';
import { recordAudit, userActor } from '../audit/log';
import { signOut } from '../auth/service';
import type { Services } from '../services';
import { NotAnAgentError, type ChangeResult } from './store';

export class NotAllowedError extends Error {
  override name = 'NotAllowedError';
}

/** Signs out the browser that holds one of the agent's device sessions. */
export async function signOutDevice(
  services: Pick<Services, 'db' | 'engine'>,
  params: { user: SessionUser; sessionId: string },
): Promise<{ ok: true }> {
  const [session] = await services.db
    .select({ agentId: deviceSessions.agentId, authSessionId: deviceSessions.authSessionId })
    .from(deviceSessions)
    .where(eq(deviceSessions.id, params.sessionId));
  if (!session || session.agentId !== params.user.id) throw new NotAllowedError('That device session is not yours');
  if (session.authSessionId) await signOut(services, { user: params.user, authSessionId: session.authSessionId });
  return { ok: true };
}

/** A supervisor (of the agent's team) or an admin forces an agent away or offline; recorded in the audit log. */
export async function forceStatus(
  services: Pick<Services, 'db' | 'engine'>,
  params: { user: SessionUser; agentId: string; status: 'away' | 'offline'; note?: string; address?: string },
): Promise<ChangeResult> {
  if (!(await maySupervise(services.db, { user: params.user, agentId: params.agentId }))) {
    // Not distinguishing "no such agent" from "not yours" tells nothing about other teams.
    throw new NotAnAgentError(params.agentId);
  }
  const result = await services.engine.force({ agentId: params.agentId, status: params.status, actorId: params.user.id, note: params.note });
  // The engine writes in its own transaction (often one statement); the row follows it.
  await recordAudit(services.db, {
    actor: userActor(params.user),
    address: params.address,
    action: 'presence.force',
    targetType: 'agent',
    targetId: params.agentId,
    details: { status: params.status, note: params.note ?? null, changed: result.changed },
  });
  return result;
}

/** A supervised agent's live devices (label, activity, last seen), for the roster's device list. */
export async function supervisedDevices(
  services: Pick<Services, 'db'>,
  params: { user: SessionUser; agentId: string },
): Promise<DeviceRow[]> {
  if (!(await maySupervise(services.db, params))) throw new NotAnAgentError(params.agentId);
  return agentDevices(services.db, { agentId: params.agentId });
}
