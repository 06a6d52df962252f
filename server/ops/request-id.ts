// Every HTTP request and every WebSocket connection gets an id: the caller's
// `X-Request-Id` when it sends a sane one (a proxy's, so one id follows the
// request through both logs), else a new one. It is echoed in the response's
// `X-Request-Id` and written with every log line about that request or
// connection (a procedure's failure, for one), so a report that quotes it can
// be found.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const HEADER = 'x-request-id';
const SANE = /^[\w.:-]{1,100}$/;

/** Gives `req` its id (kept in its headers for whoever reads it next) and echoes it on `res`, if any. */
export function assignRequestId(req: IncomingMessage, res?: ServerResponse): string {
  const given = req.headers[HEADER];
  const id = typeof given === 'string' && SANE.test(given) ? given : randomUUID();
  req.headers[HEADER] = id;
  res?.setHeader('X-Request-Id', id);
  return id;
}

/** The id `assignRequestId` gave this request. */
export function requestIdOf(req: IncomingMessage): string {
  const id = req.headers[HEADER];
  return typeof id === 'string' ? id : 'none';
}
