// Webhook signatures, for both sides: the node signs every attempt, a receiver
// verifies. The signed text is "<timestamp>.<body>" (the timestamp is the
// x-switchboard-timestamp header, unix seconds; the body is the exact bytes
// received), so a replayed body with a fresh timestamp fails, and so does an
// old request replayed as it was (the receiver bounds the timestamp's age).
// Imports node:crypto only: receivers (and the TypeScript client) may import it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-switchboard-signature';
export const TIMESTAMP_HEADER = 'x-switchboard-timestamp';
export const DELIVERY_HEADER = 'x-switchboard-delivery';
export const EVENT_HEADER = 'x-switchboard-event';

const SECRET_PREFIX = 'whsec_';

/** A new signing secret: `whsec_` and 32 random bytes (base64url). */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The x-switchboard-signature value for a body sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * Whether a delivery is genuine: `header` (x-switchboard-signature, one or
 * more comma-separated `sha256=<hex>`) matches the HMAC of "<timestamp>.<body>"
 * under `secret`, and `timestamp` (x-switchboard-timestamp) is within
 * `toleranceSec` of now. Pass the raw body, before any JSON parsing.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  timestamp: string | number | null | undefined,
  body: string | Uint8Array,
  toleranceSec = 300,
  nowSec = Math.floor(Date.now() / 1000),
): boolean {
  if (!header || timestamp === null || timestamp === undefined) return false;
  const ts = typeof timestamp === 'number' ? timestamp : /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!Number.isSafeInteger(ts) || Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = Buffer.from(signWebhook(secret, ts, body));
  return header.split(',').some((part) => {
    const candidate = Buffer.from(part.trim());
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  });
}

/**
 * The delivery id of an event to a webhook: a name-based (version 5) UUID of
 * both ids, so every retry of the same event carries the same id and a
 * receiver can drop duplicates by it.
 */
export function webhookDeliveryId(webhookId: string, eventId: number): string {
  const namespace = Buffer.from(webhookId.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(`ticket-event:${eventId}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
