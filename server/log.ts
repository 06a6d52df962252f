// Structured logs: one JSON object a line on stdout (errors on stderr).
// Error objects are reduced to name, message, code, stack and cause; nothing else is expanded.

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

export function createLogger(base: Fields = {}, quiet = false): Logger {
  const write = (level: string, msg: string, fields: Fields = {}) => {
    if (quiet && level === 'info') return;
    const entry: Fields = { time: new Date().toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields)) entry[k] = SECRET_FIELD.test(k) ? '[redacted]' : plain(v);
    (level === 'error' ? process.stderr : process.stdout).write(`${JSON.stringify(entry)}\n`);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, quiet),
  };
}
