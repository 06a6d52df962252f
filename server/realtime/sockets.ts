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

  /** Closes every socket opened with one of these sign-ins. */
  closeSignedOut(authSessionIds: readonly string[]): void {
    for (const id of authSessionIds) {
      for (const socket of this.byAuth.get(id) ?? []) socket.close(SIGNED_OUT_CLOSE_CODE, 'signed out');
    }
  }
}
