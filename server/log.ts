// Structured logs through pino: one JSON object a line (`time` ISO, `level` by
// name, `msg`, the logger's bindings such as `node`, then the fields), info and
// warnings on stdout, errors on stderr. Fields pass through `plain` first:
// secret fields are redacted at any depth, and Error objects are reduced to
// name, message, code, stack and cause; nothing else is expanded.
import pino from 'pino';

type Fields = Record<string, unknown>;
export type Logger = {
  info: (msg: string, fields?: Fields) => void;
  warn: (msg: string, fields?: Fields) => void;
  error: (msg: string, fields?: Fields) => void;
  child: (fields: Fields) => Logger;
};

/**
 * Field names whose values are secrets: never written, whatever logs them
 * (a password, a session or API key, a cookie, a webhook's signing secret).
 * Checked at every depth of a logged object; server/security/logs.test.ts
 * checks a node's whole output for the secrets it was given.
 */
const SECRET_FIELD = /pass(word)?|secret|token|authorization|cookie|^key$|apikey|credential/i;

function plain(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    // What went wrong is often one level down: drizzle wraps the driver's error ("Failed query: …")
    // and the PostgreSQL code (53300 too many clients, 57P01 terminated) is on the cause.
    const { code } = value as { code?: unknown };
    return {
      name: value.name,
      message: value.message,
      ...(typeof code === 'string' ? { code } : {}),
      stack: value.stack,
      ...(value.cause !== undefined && depth < 3 ? { cause: plain(value.cause, depth + 1) } : {}),
    };
  }
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => plain(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : plain(v, depth + 1);
  return out;
}

/** Info and warnings to stdout, errors to stderr (each line to one of them), through the process's streams. */
function destination(): pino.DestinationStream {
  return pino.multistream(
    [
      { level: 'info', stream: process.stdout },
      { level: 'error', stream: process.stderr },
    ],
    { dedupe: true },
  );
}

function wrap(logger: pino.Logger): Logger {
  const write = (level: 'info' | 'warn' | 'error', msg: string, fields: Fields = {}) => {
    const clean: Fields = {};
    for (const [k, v] of Object.entries(fields)) clean[k] = SECRET_FIELD.test(k) ? '[redacted]' : plain(v);
    logger[level](clean, msg);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => wrap(logger.child(plain(fields) as Fields)),
  };
}

export function createLogger(base: Fields = {}, quiet = false): Logger {
  return wrap(
    pino(
      {
        level: quiet ? 'warn' : 'info',
        base: plain(base) as Fields,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      destination(),
    ),
  );
}
