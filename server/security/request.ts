// What a request says about where it comes from: the client's address, and
// whether a browser sent it from one of our own pages. Behind a reverse proxy
// (TRUST_PROXY=true) the X-Forwarded-* headers are believed; otherwise only
// the socket and the Host header are.
import type { IncomingMessage } from 'node:http';
import type { Env } from '../env';

type Settings = Pick<Env, 'TRUST_PROXY' | 'ALLOWED_ORIGINS'>;

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;

/** The last entry of a comma-separated header (one header, or the last of several). */
const last = (value: string | string[] | undefined) => (Array.isArray(value) ? value.at(-1) : value)?.split(',').at(-1)?.trim() || undefined;

/**
 * The client's IP address: when the proxy is trusted, the last X-Forwarded-For
 * entry, the one our proxy wrote (entries before it came from the client, who
 * can write anything there: a proxy that appends, as nginx's
 * `$proxy_add_x_forwarded_for` does, must not let them choose); else the
 * socket's peer.
 */
export function clientAddress(req: IncomingMessage, settings: Settings): string | undefined {
  if (settings.TRUST_PROXY) {
    const forwarded = last(req.headers['x-forwarded-for']);
    if (forwarded) return forwarded;
  }
  return req.socket.remoteAddress ?? undefined;
}

/** Whether the client reached us over https (directly, or through a trusted proxy). */
export function isSecure(req: IncomingMessage, settings: Settings): boolean {
  if (settings.TRUST_PROXY && first(req.headers['x-forwarded-proto']) === 'https') return true;
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

/** This node's own origin as the client addressed it, e.g. `http://localhost:3000`. */
export function ownOrigin(req: IncomingMessage, settings: Settings): string | undefined {
  const host = (settings.TRUST_PROXY ? first(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
  if (!host) return undefined;
  return `${isSecure(req, settings) ? 'https' : 'http'}://${host.toLowerCase()}`;
}

export type OriginVerdict = 'same' | 'foreign' | 'absent';

/**
 * Where a browser says the request comes from. `Origin` decides when present
 * (every browser sends it on WebSocket upgrades and on POSTs); without it,
 * `Sec-Fetch-Site` may still vouch for a same-origin request. A request with
 * neither came from something that is not a browser.
 */
export function originOf(req: IncomingMessage, settings: Settings): OriginVerdict {
  const origin = first(req.headers.origin);
  if (origin !== undefined) {
    const normalized = origin.toLowerCase().replace(/\/$/, '');
    if (normalized === ownOrigin(req, settings)) return 'same';
    return settings.ALLOWED_ORIGINS.some((allowed) => allowed.toLowerCase() === normalized) ? 'same' : 'foreign';
  }
  const site = first(req.headers['sec-fetch-site']);
  if (site === 'same-origin') return 'same';
  if (site !== undefined && site !== 'none') return 'foreign';
  return 'absent';
}
