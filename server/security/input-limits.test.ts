// Every string, array, record and free-form value any procedure accepts has a
// size limit in its zod schema: hostile input is refused by validation, before
// it costs the node memory, a database round trip or a log line. The router is
// enumerated when the test runs, so a new procedure is checked without a row
// here, and one that takes `z.string()` without `.max()` fails this test with
// the procedure and field named.
import { initTRPC } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { appRouter } from '../trpc/router';
import { isBoundedPattern, proceduresOf, unboundedFields, type Schema } from './testing-zod';

/**
 * Fields whose bound this test cannot see, with the reason each is safe; keyed
 * `procedure path` → field path. Empty: keep it that way when you can (a
 * refine on JSON size is detected on its own).
 */
const ALLOWED: Record<string, Record<string, string>> = {};

/** What is wrong with a router's inputs, one line per field: `path input.field: problem`. */
function problemsOf(router: Parameters<typeof proceduresOf>[0]): string[] {
  return proceduresOf(router).flatMap(({ path, inputs }) =>
    inputs
      .flatMap((schema) => unboundedFields(schema))
      .filter(({ field }) => !ALLOWED[path]?.[field])
      .map(({ field, problem }) => `${path} ${field}: ${problem}`),
  );
}

const procedures = proceduresOf(appRouter);

describe('input limits of the application router', () => {
  it('has procedures to check', () => {
    expect(procedures.length).toBeGreaterThan(20);
  });

  it.each(procedures.map((p) => [p.path, p] as const))('%s bounds every string, array and free-form value of its input', (path, { inputs }) => {
    const problems = inputs
      .flatMap((schema) => unboundedFields(schema))
      .filter(({ field }) => !ALLOWED[path]?.[field])
      .map(({ field, problem }) => `${path} ${field}: ${problem}`);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('allows only fields that exist', () => {
    const paths = new Set(procedures.map((p) => p.path));
    expect(Object.keys(ALLOWED).filter((path) => !paths.has(path))).toEqual([]);
  });
});

describe('the check itself', () => {
  const t = initTRPC.create();
  const fields = (schema: z.ZodType) => unboundedFields(schema as unknown as Schema).map((u) => u.field);

  it('fails a router when a procedure takes a string without a maximum, naming the procedure and field', () => {
    const router = t.router({
      notes: t.router({ add: t.procedure.input(z.object({ ticketId: z.uuid(), note: z.string().trim().min(1) })).mutation(() => null) }),
    });
    expect(problemsOf(router)).toEqual([
      'notes.add input.note: a string without a maximum length (add .max(), or use a bounded format such as z.uuid())',
    ]);
  });

  it('finds unbounded fields through wrappers, unions, arrays, records and pipes', () => {
    const schema = z
      .object({
        a: z.string().optional(),
        b: z.string().max(10).nullable().default(null),
        c: z.union([z.object({ d: z.string() }), z.object({ e: z.number() })]),
        f: z.array(z.string().max(5)),
        g: z.array(z.string()).max(5),
        h: z.record(z.string().max(10), z.number()),
        i: z.unknown(),
        j: z.string().transform((s) => s.length),
        k: z.array(z.object({ l: z.string() }).optional()).max(3),
      })
      .optional();
    expect(fields(schema)).toEqual(['input.a', 'input.c.d', 'input.f', 'input.g[]', 'input.h', 'input.i', 'input.j', 'input.k[].l']);
  });

  it('accepts maximum lengths, bounded formats, enums, literals and size-refined records', () => {
    const schema = z.object({
      id: z.string().uuid(),
      id2: z.uuid(),
      name: z.string().trim().min(1).max(100),
      code: z.string().length(6),
      eventId: z.string().regex(/^\d{1,15}$/),
      kind: z.enum(['a', 'b']),
      fixed: z.literal('x'),
      tags: z.array(z.enum(['x', 'y'])).max(2),
      byKind: z.record(z.enum(['a', 'b']), z.number()),
      metadata: z.record(z.string().max(100), z.unknown()).refine((m) => JSON.stringify(m).length <= 8_000, 'too large'),
      n: z.number().int().min(1).max(5).default(3),
      flag: z.boolean().optional(),
      piped: z.string().max(20).transform(Number),
    });
    expect(fields(schema)).toEqual([]);
  });

  it('does not take just any refine for a size bound', () => {
    const refined = z.record(z.string().max(100), z.unknown()).refine((m) => !('admin' in m), 'no admin key');
    expect(fields(refined)).toEqual(['input', 'input.*']);
  });

  it('counts a format as bounded only when its grammar is: uuid yes; email, url and an ISO datetime (any fraction digits) no', () => {
    expect(fields(z.string().uuid())).toEqual([]);
    expect(fields(z.string().email())).toEqual(['input']);
    expect(fields(z.string().url())).toEqual(['input']);
    expect(fields(z.iso.datetime())).toEqual(['input']);
    expect(fields(z.iso.datetime().max(40))).toEqual([]);
  });

  it('reads a pattern as bounded only when anchored and without unbounded repetition', () => {
    expect(isBoundedPattern(/^\d{1,15}$/)).toBe(true);
    expect(isBoundedPattern(/^[\w-]{8}$/)).toBe(true);
    expect(isBoundedPattern(/^(a|b){3}$/)).toBe(true);
    expect(isBoundedPattern(/^[*+]{2}$/)).toBe(true);
    expect(isBoundedPattern(/^\d+$/)).toBe(false);
    expect(isBoundedPattern(/^\d*$/)).toBe(false);
    expect(isBoundedPattern(/^\d{2,}$/)).toBe(false);
    expect(isBoundedPattern(/\d{2}$/)).toBe(false);
    expect(isBoundedPattern(/^\d{2}/)).toBe(false);
    expect(isBoundedPattern(/^a$|^b/)).toBe(false);
    expect(isBoundedPattern(/^a\$/)).toBe(false);
    expect(isBoundedPattern(/^\d{2}$/m)).toBe(false);
  });
});
