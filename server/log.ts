// Structured logs: one JSON object a line on stdout (errors on stderr).
// Error objects are reduced to name, message and stack; nothing else is expanded.

type Fields = Record<string, unknown>;
export type Logger = {
  info: (msg: string, fields?: Fields) => void;
  warn: (msg: string, fields?: Fields) => void;
  error: (msg: string, fields?: Fields) => void;
  child: (fields: Fields) => Logger;
};

function plain(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

export function createLogger(base: Fields = {}, quiet = false): Logger {
  const write = (level: string, msg: string, fields: Fields = {}) => {
    if (quiet && level === 'info') return;
    const entry: Fields = { time: new Date().toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields)) entry[k] = plain(v);
    (level === 'error' ? process.stderr : process.stdout).write(`${JSON.stringify(entry)}\n`);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, quiet),
  };
}
