'use client';
// This tab as a device session: subscribes to presence.session, sends
// heartbeats at the interval the server announced, and reports activity from
// real input — keyboard, pointer, focus, and the page becoming visible. No
// input for the idle threshold reports `idle`; the first input after that
// reports `active` at once, not at the next heartbeat.
import { deviceId, socketIsOpen, tabSessionId, trpc } from './trpc';

export type EndedNotice = { reason: 'closed' | 'timeout' | 'node_lost' | 'forced' | 'signed_out'; note?: string };
export type DeviceSessionState = { sessionId?: string; activity: 'active' | 'idle'; ended?: EndedNotice };

const INPUT_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart', 'focus'] as const;

export function startDeviceSession(onState: (state: DeviceSessionState) => void): () => void {
  const client = trpc();
  let sessionId: string | undefined;
  let heartbeatMs = 15_000;
  let idleAfterMs = 300_000;
  let activity: 'active' | 'idle' = 'active';
  let lastInput = Date.now();
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  let subscription: { unsubscribe: () => void } | undefined;
  let stopped = false;

  const emit = (extra: Partial<DeviceSessionState> = {}) => onState({ sessionId, activity, ...extra });

  const beat = () => {
    // While the tab's socket is down, heartbeats wait. Sent, each would open a socket of its own
    // (tRPC opens one for any request), outside the reconnect backoff and without the live views'
    // subscriptions, which only the backoff's reconnect sends again: the page would show
    // "Connected" with nothing live, until that reconnect closed the socket and opened another.
    // The session's re-attach after the reconnect reports the activity at once instead.
    if (!sessionId || stopped || !socketIsOpen()) return;
    client.presence.heartbeat.mutate({ sessionId, activity }).catch((error: { data?: { code?: string } }) => {
      // The session ended without our hearing of it: attach again.
      if (error?.data?.code === 'NOT_FOUND') resubscribe();
    });
  };

  const onInput = () => {
    lastInput = Date.now();
    if (activity === 'idle') {
      activity = 'active';
      emit();
      beat();
    }
  };
  const onVisibility = () => document.visibilityState === 'visible' && onInput();
  const idleCheck = setInterval(() => {
    if (activity === 'active' && Date.now() - lastInput >= idleAfterMs) {
      activity = 'idle';
      emit();
      beat();
    }
  }, 1_000);

  const subscribe = () => {
    subscription = client.presence.session.subscribe(
      { deviceId: deviceId(), sessionId: tabSessionId() },
      {
        onData: (event) => {
          if (event.type === 'attached') {
            sessionId = event.sessionId;
            heartbeatMs = event.heartbeatIntervalMs;
            idleAfterMs = event.idleAfterMs;
            clearInterval(heartbeatTimer);
            heartbeatTimer = setInterval(beat, heartbeatMs);
            emit();
            beat(); // report the current activity right away
            return;
          }
          sessionId = undefined;
          clearInterval(heartbeatTimer);
          if (event.reason === 'signed_out') window.location.assign('/login');
          else if (event.reason === 'forced') emit({ ended: event });
          else resubscribe();
        },
      },
    );
  };
  const resubscribe = () => {
    if (stopped) return;
    subscription?.unsubscribe();
    subscribe();
  };

  for (const name of INPUT_EVENTS) window.addEventListener(name, onInput, { passive: true });
  document.addEventListener('visibilitychange', onVisibility);
  subscribe();

  return () => {
    stopped = true;
    clearInterval(idleCheck);
    clearInterval(heartbeatTimer);
    for (const name of INPUT_EVENTS) window.removeEventListener(name, onInput);
    document.removeEventListener('visibilitychange', onVisibility);
    subscription?.unsubscribe();
  };
}
