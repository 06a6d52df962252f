// What the fuzz test sends: fast-check arbitraries of procedure inputs, built
// from each procedure's zod schema at run time. A mix of
// - near-valid values (real ids, enum members, strings of allowed lengths) so
//   that calls get past validation into the handlers and services;
// - the schema's own keys holding hostile values (huge or odd strings, numbers
//   at the extremes, deep and wide structures, `__proto__`/`constructor` keys);
// - arbitrary JSON, and anything JavaScript can make, made JSON-safe;
// and, per transport, malformed requests: raw HTTP requests (wrong methods,
// bodies, content types, query strings, paths) and raw WebSocket frames.
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { defOf, unwrap, type Def, type Schema } from './testing-zod';

/** Values the node knows, so that near-valid input reaches rows that exist (ids of a team, an agent, a ticket, a key…). */
export type Known = { uuids: string[]; strings: string[]; emails: string[] };

/**
 * A piece of JSON text spliced into a request as is: nesting too deep for the
 * sender's own JSON.stringify, or JSON with duplicate keys.
 */
export class RawJson {
  constructor(readonly text: string) {}
  [fc.toStringMethod](): string {
    return `RawJson(${this.text.length} chars: ${JSON.stringify(this.text.slice(0, 60))}${this.text.length > 60 ? '…' : ''})`;
  }
}

/** JSON text of a generated value, RawJson pieces spliced in. */
export function toJson(value: unknown): string | undefined {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0000raw${raws.length - 1}\u0000`;
    }
    return typeof v === 'bigint' ? v.toString() : v;
  });
  if (text === undefined || raws.length === 0) return text;
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]!);
}

/** Sets `key` as an own property, whatever the key: assignment to `__proto__` would set the prototype instead. */
function defineKey(object: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(object, key, { value, enumerable: true, configurable: true, writable: true });
  return object;
}
const withKey = (key: string, value: unknown) => defineKey({}, key, value);

const checksOf = (schema: Schema): Def[] => (defOf(schema).checks ?? []).map(defOf);

/** Strings that have broken parsers, SQL, templates, URLs and loggers before. */
const ODD_STRINGS = [
  '', ' ', '\t\n', '\u0000', '\u202e', '\ufeff', '\ud800', '\udfff', '😀', 'é', 'ß', 'İ', '\u0301',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'then', 'null', 'undefined', 'NaN', 'true',
  '-1', '0', '1e309', '9'.repeat(400), '0x10', '1_000',
  "'; drop table users; --", '" or 1=1 --', '\\', '\\u0000', '%', '%00', '%zz', '../../etc/passwd', '{{7*7}}', '${7*7}',
  '<script>alert(1)</script>', 'javascript:alert(1)', 'http://127.0.0.1:1/hook', 'file:///etc/passwd', 'data:,x',
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '00000000-0000-0000-0000-00000000000g',
  '2024-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '2024-02-30T00:00:00Z',
  'a@b', 'a@b.c', `${'a'.repeat(64)}@${'b'.repeat(250)}.com`, 'sbk_', `sbk_${'A'.repeat(43)}`,
];

const EXTREME_NUMBERS = [
  0, -0, 1, -1, 0.5, -0.5, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 1e-7, 123456789012345,
];

/** Lengths just past the maxima the schemas use, and a little more. */
const PAST_LIMITS = [51, 101, 201, 321, 501, 1025, 2001, 8001, 20_001];

/**
 * Hostile values of any shape, none larger than about `budget` bytes of JSON
 * (so that a WebSocket message stays under the node's frame limit, and a GET
 * under Node's URL limit).
 */
export function hostileValue(budget: number): fc.Arbitrary<unknown> {
  const char = fc.constantFrom('a', '0', ' ', 'é', '中', '😀', '\u0000', '\u202e', '"', '\\', '%', '\ud800');
  const bytesOf = (c: string) => Buffer.byteLength(JSON.stringify(c)) - 2;
  const hugeString = fc
    .tuple(char, fc.oneof(fc.integer({ min: 1, max: budget }), fc.constantFrom(...PAST_LIMITS.filter((n) => n * 6 <= budget))))
    .map(([c, bytes]) => c.repeat(Math.max(1, Math.floor(bytes / bytesOf(c)))));
  const string = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ODD_STRINGS) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: hugeString },
  );
  const number = fc.oneof(
    fc.constantFrom(...EXTREME_NUMBERS),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    // NaN and ±Infinity become null in JSON, like a browser would send them.
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
  );
  const maxDepth = Math.max(2, Math.floor(budget / 2));
  // Deeper than any check that walks input only so far, with something unstorable or odd at the bottom.
  const deep = fc
    .tuple(fc.integer({ min: 2, max: maxDepth }), fc.constantFrom('[', '{"a":'), fc.constantFrom('0', '"x"', '"\\u0000"', '"\\ud800"', 'null', '{"__proto__":1}'))
    .map(([depth, open, leaf]) => new RawJson(`${open.repeat(depth)}${leaf}${(open === '[' ? ']' : '}').repeat(depth)}`));
  const wideArray = fc.integer({ min: 100, max: Math.max(100, Math.floor(budget / 2)) }).map((n) => Array.from({ length: n }, () => 0));
  const wideObject = fc.integer({ min: 100, max: Math.max(100, Math.floor(budget / 10)) }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0])));
  const prototypeKeys = fc.constantFrom<unknown>(
    withKey('__proto__', { admin: true, role: 'admin' }),
    withKey('constructor', { prototype: { admin: true } }),
    { toString: 1, valueOf: 1 },
    { toString: 'x', valueOf: {} },
    { toJSON: 'x', then: 1 },
    new RawJson('{"a":1,"a":2,"__proto__":{"x":1},"__proto__":null}'),
  );
  return fc.oneof(
    { weight: 4, arbitrary: string },
    { weight: 2, arbitrary: number },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [null], [[]], { '': '' }) },
    { weight: 2, arbitrary: prototypeKeys },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: wideArray },
    { weight: 1, arbitrary: wideObject },
  );
}

/** Anything JavaScript can make (dates, bigints, sparse arrays, odd keys…), as the JSON a client would send of it. */
export const anythingAsJson: fc.Arbitrary<unknown> = fc
  .anything({ maxDepth: 3, maxKeys: 5, withDate: true, withBigInt: true, withSparseArray: true, withNullPrototype: true, withObjectString: true })
  .map((value) => {
    const text = toJson(value);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  });

/** The bounds a schema's checks set: lengths for strings and arrays, limits for numbers. */
function boundsOf(schema: Schema) {
  let min: number | undefined;
  let max: number | undefined;
  let integer = false;
  let format = defOf(schema).format as string | undefined;
  let pattern = defOf(schema).pattern as RegExp | undefined;
  for (const check of checksOf(schema)) {
    if (check.check === 'min_length' || check.check === 'min_size') min = check.minimum as number;
    else if (check.check === 'max_length' || check.check === 'max_size') max = check.maximum as number;
    else if (check.check === 'length_equals') min = max = check.length as number;
    else if (check.check === 'greater_than') min = check.value as number;
    else if (check.check === 'less_than') max = check.value as number;
    else if (check.check === 'number_format') integer = true;
    else if (check.check === 'string_format') {
      format = check.format as string;
      pattern = (check.pattern as RegExp | undefined) ?? pattern;
    }
  }
  return { min, max, integer, format, pattern };
}

function nearValidString(schema: Schema, known: Known): fc.Arbitrary<string> {
  const { min = 0, max, format, pattern } = boundsOf(schema);
  const fits = (s: string) => s.length >= min && (max === undefined || s.length <= max);
  const ofLength = (n: number) => 'x'.repeat(Math.max(0, n));
  const edges = [ofLength(min), ...(max !== undefined ? [ofLength(max), ofLength(max + 1)] : []), ...(min > 0 ? [ofLength(min - 1)] : [])];
  let typical: fc.Arbitrary<string>;
  if (format === 'uuid' || format === 'guid') {
    typical = known.uuids.length ? fc.oneof(fc.constantFrom(...known.uuids), fc.uuid()) : fc.uuid();
  } else if (format === 'email') {
    typical = known.emails.length ? fc.oneof(fc.constantFrom(...known.emails), fc.emailAddress()) : fc.emailAddress();
  } else if (format === 'url') {
    // Only addresses that go nowhere: a stored URL may be called later.
    typical = fc.constantFrom('http://127.0.0.1:1/hook', 'https://127.0.0.1:1/x?y=1#z', 'http://localhost:1/');
  } else if (format === 'datetime') {
    typical = fc
      .date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
      .map((d) => d.toISOString());
  } else if (pattern) {
    typical = fc.stringMatching(pattern, max !== undefined ? { size: 'small' } : {});
  } else {
    const strings = known.strings.filter(fits);
    const random = fc.string({ minLength: min, maxLength: Math.min(max ?? 40, 40), unit: 'grapheme' });
    typical = strings.length ? fc.oneof(fc.constantFrom(...strings), random) : random;
  }
  return fc.oneof({ weight: 6, arbitrary: typical }, { weight: 1, arbitrary: fc.constantFrom(...edges) }, { weight: 1, arbitrary: typical.map((s) => ` ${s} `) });
}

function nearValidNumber(schema: Schema): fc.Arbitrary<number> {
  const { min, max, integer } = boundsOf(schema);
  const low = Math.max(min ?? -1e6, Number.MIN_SAFE_INTEGER);
  const high = Math.min(max ?? 1e6, Number.MAX_SAFE_INTEGER);
  const edges = [low, high, low - 1, high + 1, 0];
  const typical = integer ? fc.integer({ min: Math.ceil(low), max: Math.floor(high) }) : fc.double({ min: low, max: high, noNaN: true });
  return fc.oneof({ weight: 5, arbitrary: typical }, { weight: 1, arbitrary: fc.constantFrom(...edges) });
}

/** The keys an object schema declares, and which of them may be left out. */
function objectShape(schema: Schema): { shape: Record<string, Schema>; required: string[] } {
  const shape = defOf(schema).shape as Record<string, Schema>;
  return { shape, required: Object.keys(shape).filter((key) => shape[key]!._zod.optin !== 'optional') };
}

/** Values the schema mostly accepts (ids that exist, enum members, allowed lengths), sometimes just not. */
export function nearValid(schema: Schema, known: Known, depth = 0): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  const inner = (child: unknown) => nearValid(child as Schema, known, depth + 1);
  if (depth > 8) return fc.constant(null);
  switch (def.type) {
    case 'string':
      return nearValidString(schema, known);
    case 'number':
      return nearValidNumber(schema);
    case 'bigint':
      return fc.bigInt().map(String);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries as Record<string, string | number>));
    case 'literal':
      return fc.constantFrom(...(def.values as unknown[]));
    case 'optional':
    case 'default':
    case 'prefault':
      return fc.option(inner(def.innerType), { nil: undefined, freq: 4 });
    case 'nullable':
      return fc.option(inner(def.innerType), { nil: null, freq: 4 });
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return inner(def.innerType);
    case 'object': {
      const { shape, required } = objectShape(schema);
      const model = Object.fromEntries(Object.entries(shape).map(([key, child]) => [key, inner(child)]));
      return fc.record(model, { requiredKeys: required });
    }
    case 'union':
      return fc.oneof(...(def.options as Schema[]).map(inner));
    case 'intersection':
      return inner(def.left);
    case 'array': {
      const { min = 0, max } = boundsOf(schema);
      const element = inner(def.element);
      const fitting = fc.array(element, { minLength: min, maxLength: Math.max(min, Math.min(max ?? 5, 5)) });
      return max === undefined ? fitting : fc.oneof({ weight: 5, arbitrary: fitting }, { weight: 1, arbitrary: fc.array(element, { minLength: max + 1, maxLength: max + 1 }) });
    }
    case 'tuple':
      return fc.tuple(...(def.items as Schema[]).map(inner));
    case 'record': {
      const key = inner(def.keyType).map((k) => (typeof k === 'string' ? k : String(k)));
      return fc.dictionary(key, inner(def.valueType), { maxKeys: 5 });
    }
    case 'pipe':
      return inner(def.in);
    case 'lazy':
      return inner((def.getter as () => Schema)());
    default:
      return fc.jsonValue({ maxDepth: 3 });
  }
}

/** The object schemas an input may take (through wrappers and unions), for their keys. */
function objectShapes(schema: Schema): Schema[] {
  const bare = unwrap(schema);
  const def = defOf(bare);
  if (def.type === 'object') return [bare];
  if (def.type === 'union') return (def.options as Schema[]).flatMap(objectShapes);
  if (def.type === 'pipe') return objectShapes(def.in as Schema);
  return [];
}

/** An object with the schema's keys, each holding a near-valid or a hostile value, plus odd extra keys. */
function hostileShaped(shapes: Schema[], known: Known, budget: number): fc.Arbitrary<unknown> {
  const hostile = hostileValue(budget);
  const extraKeys = fc.dictionary(
    fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'lastEventId', 'id', '', ' '), fc.string({ maxLength: 10 })),
    hostile,
    { maxKeys: 3 },
  );
  const shaped = shapes.map((schema) => {
    const { shape } = objectShape(schema);
    const model = Object.fromEntries(
      Object.entries(shape).map(([key, child]) => [key, fc.oneof({ weight: 1, arbitrary: nearValid(child, known) }, { weight: 2, arbitrary: hostile })]),
    );
    return fc.tuple(fc.record(model, { requiredKeys: [] }), fc.option(extraKeys, { freq: 3 })).map(([object, extra]) => {
      const result: Record<string, unknown> = {};
      // defineProperty, not assignment: a `__proto__` key must stay a key.
      for (const source of [extra ?? {}, object]) {
        for (const [key, value] of Object.entries(source)) defineKey(result, key, value);
      }
      return result;
    });
  });
  return fc.oneof(...shaped);
}

/** The input of one call: near-valid, the schema's keys with hostile values, hostile alone, any JSON, or none. */
export function inputArbitrary(inputs: Schema[], known: Known, budget: number): fc.Arbitrary<unknown> {
  const hostile = hostileValue(budget);
  const options: Array<fc.WeightedArbitrary<unknown>> = [
    { weight: 2, arbitrary: hostile },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    { weight: 1, arbitrary: anythingAsJson },
    { weight: 1, arbitrary: fc.constant(undefined) },
  ];
  const schema = inputs[0];
  if (schema) {
    options.push({ weight: 5, arbitrary: nearValid(schema, known) });
    const shapes = inputs.flatMap(objectShapes);
    if (shapes.length) options.push({ weight: 5, arbitrary: hostileShaped(shapes, known, budget) });
  }
  return fc.oneof(...options);
}

// ---- malformed requests -------------------------------------------------------

const garbage = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('', '{', '{"', '[', '{"0":', 'null', 'undefined', '{}}', '\u0000', '\ufeff{}', '{"json":{}}', '{"0":{"json":null}}', 'true'),
);

/** Percent-encoded as a query parameter, or left raw and broken (`%`, `%zz`, a cut multi-byte escape). */
const queryValue = (value: fc.Arbitrary<string>) =>
  fc.oneof(value.map(encodeURIComponent), fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%7B', '%FF%FE', '+', '%2'));

export type RawHttpCase = {
  kind: 'raw';
  method: string;
  /** After `/api/trpc/`. */
  path: string;
  query: string | undefined;
  body: string | undefined;
  contentType: string | undefined;
};

/** A request to the procedure's address that a tRPC client would not send. */
export function rawHttpCase(path: string, input: fc.Arbitrary<unknown>, maxBody: number): fc.Arbitrary<RawHttpCase> {
  const inputJson = input.map((value) => toJson(value) ?? '');
  const paths = fc.oneof(
    { weight: 6, arbitrary: fc.constant(path) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        `${path}/`,
        `${path},${path}`,
        `${path},auth.me`,
        `${path}.__proto__`,
        `__proto__.${path}`,
        `${path}.toString`,
        `${path}%00`,
        encodeURIComponent(`${path}/../auth.me`),
        `${path}//`,
        `${path}.constructor`,
        'constructor',
        '_def',
        '',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
  );
  const queries = fc.oneof(
    fc.constant(undefined),
    queryValue(inputJson).map((v) => `input=${v}`),
    inputJson.map((json) => `batch=1&input=${encodeURIComponent(`{"0":${json || 'null'},"1":${json || 'null'}}`)}`),
    queryValue(garbage).map((v) => `batch=1&input=${v}`),
    queryValue(garbage).map((v) => `input=${v}`),
    fc.constantFrom('batch=1', 'batch=0&input=', 'input=1&input=2', 'connectionParams=1', 'batch=1&input=%5B%5D', `batch=1&input=${encodeURIComponent(`{"${'9'.repeat(20)}":1}`)}`),
  );
  const bodies = fc.oneof(
    fc.constant(undefined),
    inputJson,
    inputJson.map((json) => json.slice(0, Math.max(0, json.length - 1))), // cut short
    garbage,
    inputJson.map((json) => `{"0":${json || 'null'}}`),
    // Just over the node's body limit: refused unread (413).
    fc.constantFrom(`"${'x'.repeat(maxBody)}"`, `{"a":"${'x'.repeat(maxBody)}"}`),
  );
  return fc.record({
    kind: fc.constant('raw' as const),
    method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    path: paths,
    query: queries,
    body: bodies,
    contentType: fc.constantFrom(
      undefined,
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'application/json; charset=utf-16',
    ),
  });
}

export type WsCallCase = {
  kind: 'call';
  input: unknown;
  /** The procedure's own type mostly; sometimes another. */
  method: 'query' | 'mutation' | 'subscription';
  /** A resume point as a reconnecting tRPC client sends it (subscriptions), merged into the input by tRPC. */
  lastEventId: unknown;
  jsonrpc: boolean;
};
export type WsFrameCase = { kind: 'frame'; text: string } | { kind: 'binary'; bytes: Uint8Array };

/** Messages a tRPC client would not send: odd ids, methods and params, batches, broken JSON, binary frames. */
export function wsFrameCase(path: string, input: fc.Arbitrary<unknown>, budget: number): fc.Arbitrary<WsFrameCase> {
  const hostile = hostileValue(budget / 4);
  const id = fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.constantFrom<unknown>(null, 1e308, -1, 0, 1.5, true, [], {}, '__proto__'));
  const method = fc.oneof(fc.constantFrom('query', 'mutation', 'subscription', 'subscription.stop', 'QUERY', '', 'constructor', 'reconnect'), fc.string({ maxLength: 12 }));
  const params = fc.oneof(
    fc.record(
      {
        path: fc.oneof(fc.constant(path), fc.constantFrom('', '__proto__', `${path}.__proto__`, 'constructor', 'auth.me'), fc.string({ maxLength: 20 }), hostile),
        input: fc.oneof(input, hostile),
        lastEventId: fc.oneof(fc.constant(undefined), hostile),
      },
      { requiredKeys: [] },
    ),
    hostile,
  );
  const message = fc.record({ id, method, params, jsonrpc: fc.constantFrom<unknown>(undefined, '2.0', '1.0', 2) }, { requiredKeys: [] });
  return fc.oneof(
    { weight: 5, arbitrary: message.map((m) => ({ kind: 'frame' as const, text: toJson(m) ?? '' })) },
    { weight: 1, arbitrary: fc.array(message, { minLength: 0, maxLength: 20 }).map((ms) => ({ kind: 'frame' as const, text: toJson(ms) ?? '' })) },
    { weight: 2, arbitrary: garbage.map((text) => ({ kind: 'frame' as const, text })) },
    { weight: 1, arbitrary: fc.constantFrom('PING', 'PONG', '[]', '{}', '[[]]', '"x"', '1').map((text) => ({ kind: 'frame' as const, text })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'binary' as const, bytes })) },
  );
}
