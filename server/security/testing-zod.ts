// Reading zod 4 input schemas, for the security tests: the procedures of a
// router with their input schemas, and a walk over every field of an input
// (through optional/nullable/default wrappers, unions, arrays, records and
// pipes) that says which fields accept values of unbounded size.
//
// zod 4 keeps what a schema checks in `schema._zod.def`: a `type`, the wrapped
// schemas, and `checks` (each with its own `_zod.def.check`: `max_length`,
// `length_equals`, `string_format` with its `pattern`, `custom` for a refine…).
// This reads those internals; the input-limits test has its own self-checks,
// so a zod upgrade that moves them fails loudly rather than passing everything.
import type { AnyRouter } from '@trpc/server';
import type { z } from 'zod';

export type Def = { type: string; checks?: Schema[]; [key: string]: unknown };
/** Any zod 4 schema, seen through its internals. */
export type Schema = { _zod: { def: Def; optin?: 'optional' } };

export const defOf = (schema: unknown): Def => (schema as Schema)._zod.def;
const checksOf = (schema: unknown): Def[] => (defOf(schema).checks ?? []).map(defOf);

export type ProcedureInfo = { path: string; type: 'query' | 'mutation' | 'subscription'; inputs: Schema[] };

/** Every procedure of a router, by dotted path, with its type and input schemas (several `.input()` calls merge). */
export function proceduresOf(router: AnyRouter): ProcedureInfo[] {
  const procedures = router._def.procedures as Record<string, { _def: { type: ProcedureInfo['type']; inputs: unknown[] } }>;
  return Object.entries(procedures).map(([path, procedure]) => ({
    path,
    type: procedure._def.type,
    inputs: procedure._def.inputs as Schema[],
  }));
}

/** Schemas that only wrap another one (their bound is the inner schema's). */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'success']);
/** Schemas whose values have a bounded size by their type alone. */
const SCALARS = new Set(['number', 'bigint', 'boolean', 'date', 'null', 'undefined', 'void', 'never', 'nan', 'enum', 'literal', 'symbol']);

/** Strips the wrappers: `z.string().optional().default('x')` → the string schema. */
export function unwrap(schema: Schema): Schema {
  let current = schema;
  while (WRAPPERS.has(defOf(current).type)) current = defOf(current).innerType as Schema;
  return current;
}

/**
 * Whether a regular expression can only match strings up to some length:
 * anchored at both ends (and not multiline), with no `*`, `+` or `{n,}`
 * outside a character class, and no top-level `|` that would let one branch
 * escape an anchor. Conservative: a bounded pattern written unusually is
 * reported unbounded (add a `.max()` then).
 */
export function isBoundedPattern(pattern: RegExp): boolean {
  const source = pattern.source;
  if (pattern.flags.includes('m') || !source.startsWith('^') || !source.endsWith('$')) return false;
  if (/(^|[^\\])(\\\\)*\\\$$/.test(source)) return false; // ends with an escaped `$`
  let depth = 0;
  let inClass = false;
  for (let i = 1; i < source.length - 1; i++) {
    const char = source[i];
    if (char === '\\') {
      i++; // whatever is escaped is one literal unit
      continue;
    }
    if (inClass) {
      if (char === ']') inClass = false;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === '|' && depth === 0) return false;
    else if (char === '*' || char === '+') return false;
    else if (char === '{' && /^\{\d+,\}/.test(source.slice(i))) return false;
  }
  return true;
}

/** Whether a string schema (with its checks) accepts only strings up to some length. */
export function stringIsBounded(schema: Schema): boolean {
  const def = defOf(schema);
  // z.uuid(), z.iso.datetime()…: the format is the schema itself.
  if (def.pattern instanceof RegExp && isBoundedPattern(def.pattern)) return true;
  return checksOf(schema).some(
    (check) =>
      check.check === 'max_length' ||
      check.check === 'length_equals' ||
      (check.check === 'string_format' && check.pattern instanceof RegExp && isBoundedPattern(check.pattern)),
  );
}

const hasMax = (schema: Schema) =>
  checksOf(schema).some((check) => check.check === 'max_length' || check.check === 'length_equals' || check.check === 'max_size' || check.check === 'size_equals');

/**
 * Whether a refine bounds the size of this record/object/unknown value: the
 * schema has a custom check, and values far too large (many entries; one huge
 * entry) are refused by it (a `custom` issue at the schema's root).
 */
export function refinedBySize(schema: Schema): boolean {
  if (!checksOf(schema).some((check) => check.check === 'custom')) return false;
  const type = defOf(schema).type;
  const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'x']));
  const huge = type === 'unknown' || type === 'any' ? 'x'.repeat(1_000_000) : { k: 'x'.repeat(1_000_000) };
  const probes = type === 'unknown' || type === 'any' ? [huge, Array.from({ length: 200_000 }, () => 0), many] : [many, huge];
  return probes.every((probe) => {
    const result = (schema as unknown as z.ZodType).safeParse(probe);
    return !result.success && result.error.issues.some((issue) => issue.code === 'custom' && issue.path.length === 0);
  });
}

export type Unbounded = { field: string; problem: string };

/**
 * Every field of an input schema whose values have no size bound, by field
 * path (`input.metadata`, `input.skills[]`, `input.*` for a record's values).
 */
export function unboundedFields(schema: Schema, field = 'input', within = new Set<Schema>()): Unbounded[] {
  if (within.has(schema)) return []; // a recursive schema: this level is being walked already
  within.add(schema);
  try {
    return fieldsOf(schema, field, within);
  } finally {
    within.delete(schema);
  }
}

function fieldsOf(schema: Schema, field: string, within: Set<Schema>): Unbounded[] {
  const def = defOf(schema);
  const walk = (child: unknown, at: string) => unboundedFields(child as Schema, at, within);
  const found = (problem: string): Unbounded[] => [{ field, problem }];

  if (WRAPPERS.has(def.type)) return walk(def.innerType, field);
  if (SCALARS.has(def.type)) return [];
  switch (def.type) {
    case 'string':
      return stringIsBounded(schema) ? [] : found('a string without a maximum length (add .max(), or use a bounded format such as z.uuid())');
    case 'template_literal':
      return def.pattern instanceof RegExp && isBoundedPattern(def.pattern) ? [] : found('a template literal of unbounded length');
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const fields = Object.entries(shape).flatMap(([key, child]) => walk(child, `${field}.${key}`));
      const catchall = def.catchall as Schema | undefined;
      if (catchall && defOf(catchall).type !== 'never' && !refinedBySize(schema)) {
        fields.push({ field: `${field}.*`, problem: 'an object that keeps any number of unknown keys (use z.object, or refine its size)' });
      }
      return fields;
    }
    case 'union':
      return (def.options as Schema[]).flatMap((option) => walk(option, field));
    case 'intersection':
      return [...walk(def.left, field), ...walk(def.right, field)];
    case 'array':
      return [...(hasMax(schema) ? [] : found('an array without a maximum length (add .max())')), ...walk(def.element, `${field}[]`)];
    case 'set':
      return [...(hasMax(schema) ? [] : found('a set without a maximum size (add .max())')), ...walk(def.valueType, `${field}[]`)];
    case 'tuple': {
      const items = (def.items as Schema[]).flatMap((item, i) => walk(item, `${field}[${i}]`));
      return def.rest ? [...items, { field: `${field}[…]`, problem: 'a tuple with an unbounded rest' }] : items;
    }
    case 'record':
    case 'map': {
      if (refinedBySize(schema)) return [];
      const keyType = defOf(unwrap(def.keyType as Schema)).type;
      const finiteKeys = keyType === 'enum' || keyType === 'literal';
      return [
        ...(finiteKeys ? [] : found(`a ${def.type} without a bound on its size (refine its JSON size, or list its keys)`)),
        ...walk(def.keyType, `${field}.<key>`),
        ...walk(def.valueType, `${field}.*`),
      ];
    }
    case 'unknown':
    case 'any':
      return refinedBySize(schema) ? [] : found(`an ${def.type} value without a size bound (refine its JSON size)`);
    case 'pipe': {
      // What comes in is bounded if either side refuses what is too large.
      const before = walk(def.in, field);
      if (before.length === 0) return [];
      return walk(def.out, field).length === 0 ? [] : before;
    }
    case 'transform':
      return found('a transform whose output this test cannot measure');
    case 'lazy':
      return walk((def.getter as () => Schema)(), field);
    default:
      return found(`a ${def.type} schema this test cannot measure`);
  }
}
