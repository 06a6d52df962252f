// The curl examples of an API document (docs/api.md), found and run as a
// reader runs them: every ```sh or ```bash block holding `curl`, executed by
// bash with the real curl binary and the placeholders as environment
// variables, each answer kept apart. What the document says around an example
// is read here too — the error table, each procedure's documented output keys,
// a comment naming the error a command is meant to get — so that a test can
// hold each answer to the text. Nothing here knows a procedure: the test says
// what each one needs.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SHELL_FENCES = new Set(['sh', 'bash', 'shell', 'console']);

export type Command = {
  /** 1-based line in the document where the command starts. */
  line: number;
  /** The procedure its URL calls (`/api/trpc/<procedure>`), or undefined when it names none. */
  procedure: string | undefined;
  /** The error code a comment right above it names (`# answers FORBIDDEN …`): the call is meant to fail so. */
  expectedError: string | undefined;
};

export type Example = {
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
  commands: Command[];
  /** The procedures its commands call, each once, in order. */
  procedures: string[];
  /** Every shell variable it reads (`$NAME`, `${NAME}`), sorted. */
  variables: string[];
};

/** What a procedure's answer holds, as the document's "Output `…`" says. */
export type OutputShape = { keys: string[]; optional: string[]; array: boolean; nullable: boolean };

export type ApiDoc = {
  /** The document's name in messages (`docs/api.md`). */
  name: string;
  examples: Example[];
  /** The error table: `data.code` → HTTP status. */
  errors: Map<string, number>;
  /** Lines of `curl` commands outside a shell block (in prose, or a ```text block): never run, so refused. */
  strayCurls: number[];
  /** The documented output of a procedure, when its section says it in a form read here. */
  output: (procedure: string) => OutputShape | undefined;
};

type Section = { procedures: string[]; prose: string };

const PROCEDURE_URL = /\/api\/trpc\/([\w.]+)/;
const VARIABLE = /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g;

export function parseApiDoc(name: string, markdown: string): ApiDoc {
  const lines = markdown.split('\n');
  const examples: Example[] = [];
  const strayCurls: number[] = [];
  const sections: Section[] = [];
  const typeBlocks: string[] = [];
  let fence: { lang: string; start: number; body: string[] } | undefined;
  let section: Section | undefined;
  for (const [index, line] of lines.entries()) {
    if (fence) {
      if (/^```\s*$/.test(line)) {
        if (SHELL_FENCES.has(fence.lang)) {
          if (fence.body.some(isCurl)) examples.push(exampleOf(fence.start, fence.body));
        } else {
          for (const [i, text] of fence.body.entries()) if (isCurl(text)) strayCurls.push(fence.start + 1 + i);
        }
        if (fence.lang === 'ts') typeBlocks.push(fence.body.join('\n'));
        fence = undefined;
      } else fence.body.push(line);
      continue;
    }
    const open = /^```(\w*)/.exec(line);
    if (open) {
      fence = { lang: open[1]!, start: index + 1, body: [] };
      continue;
    }
    if (isCurl(line)) strayCurls.push(index + 1);
    if (/^#{1,6} /.test(line)) {
      // Only `### ` headings are a procedure's section; any other heading ends one.
      section = line.startsWith('### ') ? { procedures: procedureNames(line), prose: '' } : undefined;
      if (section) sections.push(section);
    } else if (section) section.prose += `${line}\n`;
  }
  const types = new Map<string, string>();
  for (const block of typeBlocks) {
    for (const match of block.matchAll(/\btype (\w+) = \{/g)) types.set(match[1]!, bracedFrom(block, match.index + match[0].length - 1));
  }
  const errors = new Map<string, number>();
  for (const match of markdown.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)) errors.set(match[1]!, Number(match[2]));
  const examplesWithErrors = examples.map((example) => ({
    ...example,
    commands: example.commands.map((command) => ({ ...command, expectedError: expectedErrorOf(example, command, errors) })),
  }));
  return { name, examples: examplesWithErrors, errors, strayCurls, output: (procedure) => outputOf(sections, types, procedure, new Set()) };
}

const isCurl = (line: string) => /^\s*curl\s/.test(line);
const procedureNames = (text: string) => [...text.matchAll(/`([a-z]\w*(?:\.\w+)+)`/g)].map((m) => m[1]!);

function exampleOf(fenceLine: number, body: string[]): Example {
  const commands: Command[] = [];
  for (const [i, line] of body.entries()) {
    if (!isCurl(line) || body[i - 1]?.trimEnd().endsWith('\\')) continue;
    let text = line;
    for (let j = i; body[j]?.trimEnd().endsWith('\\') && body[j + 1] !== undefined; j++) text += `\n${body[j + 1]}`;
    commands.push({ line: fenceLine + 1 + i, procedure: PROCEDURE_URL.exec(text)?.[1], expectedError: undefined });
  }
  const text = body.join('\n');
  return {
    line: fenceLine,
    text,
    commands,
    procedures: [...new Set(commands.flatMap((c) => (c.procedure ? [c.procedure] : [])))],
    variables: [...new Set([...text.matchAll(VARIABLE)].map((m) => m[1]!))].sort(),
  };
}

/** The error code named by the comment line right above a command (`# answers FORBIDDEN: …`), if any. */
function expectedErrorOf(example: Example, command: Command, errors: Map<string, number>): string | undefined {
  const body = example.text.split('\n');
  const above = body.slice(0, command.line - example.line - 1).reverse().find((line) => line.trim() !== '');
  if (!above?.trim().startsWith('#')) return undefined;
  return [...above.matchAll(/\b[A-Z_]{4,}\b/g)].map((m) => m[0]).find((word) => errors.has(word));
}

/** The text from the `{` at `start` to its matching `}`, both included. */
function bracedFrom(text: string, start: number): string {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '{') depth += 1;
    else if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

/** The top-level keys of an object type or literal written as `{ a, b?: T; c: { … } }`. */
function keysOf(braced: string): { keys: string[]; optional: string[] } {
  const body = braced
    .slice(1, -1)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  const parts: string[] = [];
  let depth = 0;
  let part = '';
  for (const char of body) {
    if ('{[(<'.includes(char)) depth += 1;
    else if ('}])>'.includes(char)) depth = Math.max(0, depth - 1);
    if (depth === 0 && (char === ',' || char === ';')) {
      parts.push(part);
      part = '';
    } else part += char;
  }
  parts.push(part);
  const keys: string[] = [];
  const optional: string[] = [];
  for (const match of parts.map((p) => /^\s*(\w+)(\?)?\s*(?::|$)/.exec(p))) {
    if (match) (match[2] ? optional : keys).push(match[1]!);
  }
  return { keys, optional };
}

/**
 * A procedure's documented output: the backticked text after "Output"
 * (or "output") in its section — from its own mention on, when the heading
 * names several — as an object literal, a type the document defines in a
 * ```ts block (`AdminUser`, `Delivery[]`, `Webhook | null`, `TicketSummary`
 * plus `events`), or "as `another.procedure`". Undefined when it says it in
 * another way (prose, `null`): there is nothing to hold the answer to.
 */
function outputOf(sections: Section[], types: Map<string, string>, procedure: string, seen: Set<string>): OutputShape | undefined {
  const section = sections.find((s) => s.procedures.includes(procedure));
  if (!section || seen.has(procedure)) return undefined;
  seen.add(procedure);
  let prose = section.prose;
  const own = section.procedures.length > 1 ? prose.indexOf(`\`${procedure}\``) : -1;
  if (own >= 0) {
    const after = own + procedure.length + 2;
    const next = Math.min(...section.procedures.map((p) => prose.indexOf(`\`${p}\``, after)).filter((i) => i >= 0), prose.length);
    prose = prose.slice(own, next);
  }
  const said = /\b[Oo]utput\b[^`]{0,40}?`([^`]+)`(\s+plus\s+`(\w+)`)?/.exec(prose);
  if (!said) return undefined;
  let spec = said[1]!.trim();
  const nullable = /\|\s*null$/.test(spec);
  spec = spec.replace(/\s*\|\s*null$/, '');
  const array = spec.endsWith('[]');
  spec = spec.replace(/\[\]$/, '');
  let shape: { keys: string[]; optional: string[] } | undefined;
  if (spec.startsWith('{') && spec.endsWith('}')) shape = keysOf(spec);
  else if (types.has(spec)) shape = keysOf(types.get(spec)!);
  else if (/^[a-z]\w*(\.\w+)+$/.test(spec)) return outputOf(sections, types, spec, seen);
  if (!shape) return undefined;
  return { keys: said[3] ? [...shape.keys, said[3]] : shape.keys, optional: shape.optional, array, nullable };
}

export type Call = {
  /** The arguments the example gave curl. */
  args: string[];
  status: number;
  headers: string;
  body: string;
};

/**
 * Runs an example's text with bash (`set -euo pipefail`: an unset variable
 * stops it), the real curl binary and only PATH and `env` in its
 * environment. `curl` is wrapped by a shell function that calls the binary
 * with the example's own arguments, adding only where to put each answer
 * (-o, -D, -w), -q (no ~/.curlrc) and a time limit, so each call's status, headers and body
 * are kept apart; every answer is returned, in order.
 */
export async function runExample(example: Pick<Example, 'text'>, env: Record<string, string>, timeoutMs = 20_000): Promise<Call[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-doc-example-'));
  try {
    const prelude = [
      'set -euo pipefail',
      `__out='${dir}'`,
      '__n=0',
      'curl() {',
      '  __n=$((__n + 1))',
      `  printf '%s\\0' "$@" > "$__out/$__n.args"`,
      `  command curl -q --silent --show-error --max-time 15 -o "$__out/$__n.body" -D "$__out/$__n.headers" -w '%{http_code}' "$@" > "$__out/$__n.status"`,
      '}',
    ].join('\n');
    try {
      await run('bash', ['-c', `${prelude}\n${example.text}\n`], {
        // Nothing of this process's environment but PATH: a developer's own $KEY must not stand in for one not provided.
        env: { NODE_ENV: 'test', PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
        timeout: timeoutMs,
      });
    } catch (error) {
      const { stderr, code } = error as { stderr?: string; code?: number | string };
      throw new Error(`the example's shell failed (${code}): ${stderr?.trim() || String(error)}`);
    }
    const calls: Call[] = [];
    for (let n = 1; ; n++) {
      const args = await readFile(join(dir, `${n}.args`), 'utf8').catch(() => undefined);
      if (args === undefined) break;
      const [status, headers, raw] = await Promise.all(
        ['status', 'headers', 'body'].map((part) => readFile(join(dir, `${n}.${part}`), 'utf8').catch(() => '')),
      );
      // With -i (an example that shows the headers) curl writes them into the body file too.
      const body = raw!.replace(/^(HTTP\/[\s\S]*?\r\n\r\n)+/, '');
      calls.push({ args: args.split('\0').slice(0, -1), status: Number(status), headers: headers!, body });
    }
    return calls;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What is wrong with one call's answer, as sentences (none: it answered as
 * documented). A command meant to fail must answer its error code with the
 * table's HTTP status; any other must answer 2xx with `{ result }`, whose
 * data has the documented keys (each element's, for a list).
 */
export function checkCall(doc: ApiDoc, command: Command, call: Call): string[] {
  const where = `${doc.name}:${command.line} (${command.procedure ?? 'no procedure'})`;
  const called = call.args.map((arg) => PROCEDURE_URL.exec(arg)?.[1]).find(Boolean);
  if (called !== command.procedure) return [`${where}: curl called ${called ?? 'no /api/trpc/ URL'}, the text says ${command.procedure}`];
  let json: { result?: { data?: unknown }; error?: { message?: string; data?: { code?: string; httpStatus?: number } } };
  try {
    json = JSON.parse(call.body) as typeof json;
  } catch {
    return [`${where}: answered ${call.status} with a body that is not JSON: ${call.body.slice(0, 200)}`];
  }
  if (command.expectedError) {
    const status = doc.errors.get(command.expectedError);
    const code = json.error?.data?.code;
    return code === command.expectedError && call.status === status
      ? []
      : [`${where}: documented to fail ${command.expectedError} (${status}), answered ${call.status} ${code ?? 'without an error'}: ${call.body.slice(0, 300)}`];
  }
  if (call.status < 200 || call.status > 299 || !json.result) {
    return [`${where}: answered ${call.status} ${json.error?.data?.code ?? ''} ${json.error?.message ?? call.body.slice(0, 300)}`];
  }
  const shape = command.procedure ? doc.output(command.procedure) : undefined;
  return shape ? shapeProblems(where, shape, json.result.data) : [];
}

function shapeProblems(where: string, shape: OutputShape, data: unknown): string[] {
  if (data === null && shape.nullable) return [];
  if (shape.array && !Array.isArray(data)) return [`${where}: documented to answer a list, answered ${JSON.stringify(data)?.slice(0, 200)}`];
  // "Output per queue: `{ … }`": a list of what is documented.
  const items = Array.isArray(data) ? data : [data];
  const problems = new Set<string>();
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.add(`${where}: documented to answer an object with ${shape.keys.join(', ')}, answered ${JSON.stringify(item)?.slice(0, 200)}`);
      continue;
    }
    const keys = Object.keys(item);
    const missing = shape.keys.filter((key) => !keys.includes(key));
    const extra = keys.filter((key) => !shape.keys.includes(key) && !shape.optional.includes(key));
    if (missing.length) problems.add(`${where}: the answer lacks the documented ${missing.join(', ')}`);
    if (extra.length) problems.add(`${where}: the answer has ${extra.join(', ')}, not documented`);
  }
  return [...problems];
}
