// The open WebSockets of this node, by the credential they were opened with —
// a browser sign-in (auth session hash) or an API key (key hash) — so that a
// sign-out or a key's revocation on any node closes them here.
import type { WebSocket } from 'ws';

export const SIGNED_OUT_CLOSE_CODE = 4001;
export const KEY_REVOKED_CLOSE_CODE = 4003;

class ByCredential {
  private readonly sockets = new Map<string, Set<WebSocket>>();

  add(credential: string, socket: WebSocket): void {
    let set = this.sockets.get(credential);
    if (!set) this.sockets.set(credential, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0) this.sockets.delete(credential);
    });
  }

  of(credentials: readonly string[]): WebSocket[] {
    return credentials.flatMap((id) => [...(this.sockets.get(id) ?? [])]);
  }
}

export class SocketRegistry {
  private readonly byAuth = new ByCredential();
  private readonly byKey = new ByCredential();

  add(authSessionId: string, socket: WebSocket): void {
    this.byAuth.add(authSessionId, socket);
  }

  addKey(keyHash: string, socket: WebSocket): void {
    this.byKey.add(keyHash, socket);
  }

  /** Closes every socket opened with one of these API keys (hashes), at once: a key's subscriptions end with it. */
  closeRevoked(keyHashes: readonly string[]): void {
    for (const socket of this.byKey.of(keyHashes)) socket.close(KEY_REVOKED_CLOSE_CODE, 'API key revoked');
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
    const sockets = this.byAuth.of(authSessionIds);
    if (sockets.length === 0) return;
    setImmediate(() => {
      for (const socket of sockets) socket.close(SIGNED_OUT_CLOSE_CODE, 'signed out');
    });
  }
}
