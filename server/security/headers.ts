// Security headers on every response. Pages get a Content Security Policy
// with a fresh nonce per request: Next.js reads the nonce from the request's
// own Content-Security-Policy header and puts it on the scripts it renders,
// and 'strict-dynamic' lets those scripts load the app's chunks — so no other
// script, inline or injected, runs. That is why every page renders per request
// (app/layout.tsx): a prerendered page would carry no nonce. Styles may be
// inline (React style attributes); frames of other sites may not embed us.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Env } from '../env';
import { isSecure } from './request';

const API_POLICY = "default-src 'none'; frame-ancestors 'none'";

export function pagePolicy(nonce: string, host: string | undefined, dev: boolean): string {
  const sockets = host ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(
  req: IncomingMessage,
  res: ServerResponse,
  options: { dev: boolean; settings: Pick<Env, 'TRUST_PROXY' | 'ALLOWED_ORIGINS'>; api: boolean },
): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()');
  if (isSecure(req, options.settings)) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  if (options.api) {
    res.setHeader('Content-Security-Policy', API_POLICY);
    return;
  }
  const policy = pagePolicy(randomBytes(16).toString('base64'), req.headers.host, options.dev);
  req.headers['content-security-policy'] = policy; // read by Next.js for the nonce
  res.setHeader('Content-Security-Policy', policy);
}
