// One device session as a tRPC subscription: attaching yields the timing the
// device must keep; the subscription stays open while the tab is; its end
// (unsubscribe, socket closed or dropped by the keep-alive) starts the
// disconnect grace. If the session is ended elsewhere (sign-out, a supervisor,
// a sweep), the tab is told why and the subscription ends.
import type { WebSocket } from 'ws';
import type { SessionUser } from '../../db/queries/people';
import type { Services } from '../services';
import { Mailbox } from '../realtime/mailbox';
import type { EndedNotice } from './engine';

export type SessionEvent =
  | { type: 'attached'; sessionId: string; heartbeatIntervalMs: number; idleAfterMs: number }
  | ({ type: 'ended' } & EndedNotice);

export async function* deviceSession(
  services: Pick<Services, 'engine' | 'env'>,
  params: {
    user: SessionUser;
    deviceId: string;
    clientSessionId: string;
    userAgent?: string;
    authSessionId?: string;
    socket?: WebSocket;
    signal: AbortSignal;
  },
): AsyncGenerator<SessionEvent> {
  const { engine, env } = services;
  const ended = new Mailbox<EndedNotice>(params.signal, { limit: 1 });
  const handle = await engine.connect({
    agentId: params.user.id,
    deviceId: params.deviceId,
    clientSessionId: params.clientSessionId,
    userAgent: params.userAgent,
    authSessionId: params.authSessionId,
    onEnded: (notice) => ended.push(notice),
  });
  // Any message on the socket (keep-alive answers included) shows the device is
  // there, even when a background tab's timers are throttled.
  const seen = () => engine.seen(handle.sessionId);
  params.socket?.on('message', seen);
  let endedElsewhere = false;
  try {
    yield {
      type: 'attached',
      sessionId: handle.sessionId,
      heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
      idleAfterMs: env.IDLE_AFTER_MS,
    };
    for await (const notice of ended) {
      endedElsewhere = true;
      yield { type: 'ended', ...notice };
      return;
    }
  } finally {
    params.socket?.off('message', seen);
    if (!endedElsewhere) engine.disconnect(handle);
  }
}
