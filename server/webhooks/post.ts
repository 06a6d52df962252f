// One HTTP attempt at a delivery, with Node's fetch: bounded in time (the
// whole exchange, body included) and in what is read back (a failure keeps the
// start of the response body as its error; a success reads nothing). Redirects
// are not followed: a receiver that moved must be set to its new URL. Never
// throws: every outcome is an AttemptResult.

export type AttemptResult = {
  ok: boolean;
  /** The receiver's HTTP status; null when no response came. */
  httpStatus: number | null;
  /** Why it failed (at most ERROR_MAX characters); null on success. */
  error: string | null;
  startedAt: Date;
  durationMs: number;
};

/** How much of a failed response's body is read, in bytes. */
const BODY_READ_MAX = 1_024;
/** Longest error text kept in the delivery log. */
export const ERROR_MAX = 500;

export async function postWebhook(params: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Aborts the attempt early (the job's signal: the node is stopping, or the job expired). */
  signal?: AbortSignal;
}): Promise<AttemptResult> {
  const startedAt = new Date();
  const began = performance.now();
  const done = (result: { ok: boolean; httpStatus: number | null; error: string | null }): AttemptResult => ({
    ...result,
    error: result.error === null ? null : bounded(result.error),
    startedAt,
    durationMs: Math.round(performance.now() - began),
  });
  const timeout = AbortSignal.timeout(params.timeoutMs);
  try {
    const response = await fetch(params.url, {
      method: 'POST',
      headers: params.headers,
      body: params.body,
      redirect: 'manual',
      signal: params.signal ? AbortSignal.any([timeout, params.signal]) : timeout,
    });
    const httpStatus = response.status || null;
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => {});
      return done({ ok: true, httpStatus, error: null });
    }
    const text = await readAtMost(response, BODY_READ_MAX).catch(() => '');
    return done({ ok: false, httpStatus, error: `HTTP ${response.status}${text ? `: ${text}` : ''}` });
  } catch (error) {
    if (timeout.aborted) return done({ ok: false, httpStatus: null, error: `timed out after ${params.timeoutMs} ms` });
    if (params.signal?.aborted) return done({ ok: false, httpStatus: null, error: 'aborted: the node is stopping or the job expired' });
    return done({ ok: false, httpStatus: null, error: describe(error) });
  }
}

/** The first `max` bytes of a response body as text, one line; the rest is not read. */
async function readAtMost(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = Buffer.concat(chunks).subarray(0, max);
  return new TextDecoder().decode(bytes).replace(/\s+/g, ' ').trim();
}

/** fetch reports network failures as "fetch failed" with the reason in `cause`. */
function describe(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? cause : error instanceof Error ? error : undefined;
  if (!inner) return String(error);
  const code = (inner as { code?: unknown }).code;
  return typeof code === 'string' && !inner.message.includes(code) ? `${code}: ${inner.message}` : inner.message;
}

function bounded(text: string): string {
  return text.length <= ERROR_MAX ? text : `${text.slice(0, ERROR_MAX - 1)}…`;
}
