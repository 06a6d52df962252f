// The open WebSockets of this node, by the browser sign-in (auth session hash)
// they were opened with, so that a sign-out on any node closes them here.
import type { WebSocket } from 'ws';

export const SIGNED_OUT_CLOSE_CODE = 4001;

export class SocketRegistry {
  private readonly byAuth = new Map<string, Set<WebSocket>>();

  add(authSessionId: string, socket: WebSocket): void {
    let set = this.byAuth.get(authSessionId);
    if (!set) this.byAuth.set(authSessionId, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0) this.byAuth.delete(authSessionId);
    });
  }

  /**
   * Closes every socket opened with one of these sign-ins. Not at once: the
   * same sign-out first ended the device sessions, and the notice telling each
   * tab so ("ended: signed_out") may still be on its way through the session's
   * subscription (promises only). The close waits for the next turn of the
   * event loop, after that notice is written; a socket closed first would
   * drop it.
   */
  closeSignedOut(authSessionIds: readonly string[]): void {
    const sockets = authSessionIds.flatMap((id) => [...(this.byAuth.get(id) ?? [])]);
    if (sockets.length === 0) return;
    setImmediate(() => {
      for (const socket of sockets) socket.close(SIGNED_OUT_CLOSE_CODE, 'signed out');
    });
  }
}
