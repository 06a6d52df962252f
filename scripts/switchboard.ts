// The operator's command line: `npm run switchboard -- <command> [options]`.
// It works on the database the server uses: DATABASE_URL when set, else the
// embedded postgres under DATA_DIR (the running one, or started for the command).
import { parseArgs } from 'node:util';
import { createDb, createSql } from '../db/client';
import { ensureDatabase, runningEmbeddedUrl, startEmbeddedPostgres } from '../db/embedded';
import { runMigrations } from '../db/migrate';
import { createApiKey, listApiKeys, revokeApiKey, SCOPES, type Scope } from '../server/auth/api-keys';
import { loadEnv } from '../server/env';

const USAGE = `usage: npm run switchboard -- <command> [options]

commands:
  keys create --integration <name> --name <name> --scopes <s1,s2> [--expires <ISO date>]
                       create an API key for an integration (created on first use); prints the key once
  keys list            list API keys (never the keys themselves)
  keys revoke <id>     revoke a key at once
  migrate              apply database migrations and exit

scopes: ${SCOPES.join(', ')}
database: DATABASE_URL, else the embedded postgres under DATA_DIR (default ./.data)`;

class UsageError extends Error {}

async function withDatabase<T>(work: (db: ReturnType<typeof createDb>, url: string) => Promise<T>): Promise<T> {
  const env = loadEnv();
  let url = env.DATABASE_URL ?? runningEmbeddedUrl({ dataDir: env.DATA_DIR, database: 'switchboard' });
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    const embedded = await startEmbeddedPostgres({ dataDir: env.DATA_DIR });
    stopEmbedded = embedded.stop;
    await ensureDatabase(embedded.url('postgres'), 'switchboard');
    url = embedded.url('switchboard');
  }
  const sql = createSql(url, { max: 2 });
  try {
    await runMigrations(url);
    return await work(createDb(sql), url);
  } finally {
    await sql.end({ timeout: 5 });
    await stopEmbedded?.();
  }
}

function scopesOf(value: string | undefined): Scope[] {
  const scopes = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (!scopes.length || unknown.length) {
    throw new UsageError(`--scopes: ${unknown.length ? `unknown ${unknown.join(', ')}` : 'required'} (one or more of ${SCOPES.join(', ')})`);
  }
  return scopes as Scope[];
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      integration: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, action, arg] = positionals;
  if (values.help || !group) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const command = [group, action].filter(Boolean).join(' ');
  switch (command) {
    case 'keys create': {
      if (!values.integration) throw new UsageError('--integration: required');
      if (!values.name) throw new UsageError('--name: required');
      const scopes = scopesOf(values.scopes);
      const expiresAt = values.expires ? new Date(values.expires) : undefined;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new UsageError('--expires: not a date (e.g. 2027-01-31)');
      const created = await withDatabase((db) =>
        createApiKey(db, { integration: values.integration!, name: values.name!, scopes, expiresAt }),
      );
      process.stdout.write(`key id ${created.id} for integration ${values.integration} (${scopes.join(', ')})\n`);
      process.stdout.write(`${created.key}\n`);
      process.stderr.write('This is the only time the key is shown: store it now.\n');
      return 0;
    }
    case 'keys list': {
      const keys = await withDatabase((db) => listApiKeys(db));
      for (const k of keys) {
        const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'active';
        process.stdout.write(
          `${k.id}  ${k.prefix}…  ${k.integration} / ${k.name}  [${k.scopes.join(',')}]  ${state}  last used ${k.lastUsedAt ?? 'never'}\n`,
        );
      }
      if (!keys.length) process.stdout.write('no API keys\n');
      return 0;
    }
    case 'keys revoke': {
      if (!arg || !/^[0-9a-f-]{36}$/i.test(arg)) throw new UsageError('keys revoke <id>: the key id (a uuid) is required');
      const revoked = await withDatabase((db) => revokeApiKey(db, { id: arg }));
      if (!revoked) {
        process.stderr.write(`switchboard: no active key ${arg}\n`);
        return 1;
      }
      process.stdout.write(`revoked ${arg}\n`);
      return 0;
    }
    case 'migrate': {
      await withDatabase(async () => undefined);
      process.stdout.write('migrations applied\n');
      return 0;
    }
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`switchboard: ${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
