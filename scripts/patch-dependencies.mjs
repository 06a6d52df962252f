// Mends, in node_modules, a defect of an exact-pinned dependency that the
// project cannot otherwise avoid (decision 036). Run after every install
// (package.json `postinstall`) and by scripts/prepare.mjs; idempotent; fails
// loudly when a file no longer looks as expected (the pin was moved: check
// whether the new version still needs the mend, then update or delete it here).
// Uses only Node's own modules.
//
// postgres@3.4.9 (test: db/closed-connection.test.ts):
// 1. connection.js `nextWrite`: once PostgreSQL closes a connection (a
//    restart, a failover, pg_terminate_backend), its socket is null until it
//    reconnects. A connection held by a transaction or by `sql.reserve()` is
//    not taken out of use meanwhile: the next statement on it (a transaction's
//    ROLLBACK after the first failure, the sweep's unlock) writes to the null
//    socket from a setImmediate and throws an uncaught TypeError, which no
//    caller can catch. Mended: the statements waiting on it fail like any
//    other on a closed connection (CONNECTION_CLOSED, rejected to their
//    callers). Upstream: issues 1154, 1208.
// 2. index.js `reserve().release`: releasing a reserved connection that
//    closed meanwhile filed it as open, and the pool handed the dead
//    connection to the next caller. Mended: a connection that is closed (or
//    already reconnecting for someone else) is left where the pool filed it.
//    (Refiling it from `nextWrite` instead was tried: one run in three, on
//    PostgreSQL 18, a later statement got another's empty result.)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const MARK = '/* switchboard: decision 036 */';

const mends = [
  {
    files: ['node_modules/postgres/src/connection.js', 'node_modules/postgres/cjs/src/connection.js'],
    find: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    replace: `  function nextWrite(fn) {
    if (socket === null) { ${MARK}
      nextWriteTimer !== null && clearImmediate(nextWriteTimer)
      chunk = nextWriteTimer = null
      const lost = Errors.connection('CONNECTION_CLOSED', options)
      query && (queryError(query, lost), query = null)
      while (sent.length) queryError(sent.shift(), lost)
      return false
    }
    const x = socket.write(chunk, fn)`,
  },
  {
    // 3. A connection attempt the other end accepts and then closes cleanly before PostgreSQL
    //    answers (a TCP proxy or balancer whose database is gone) was retried at once, without
    //    the backoff: about 3,000 attempts a second and a third of a core per node. Mended: it
    //    counts as a failed attempt and waits the backoff like any other. Upstream: issue 1193.
    files: ['node_modules/postgres/src/connection.js', 'node_modules/postgres/cjs/src/connection.js'],
    find: `    if (initial)
      return reconnect()
`,
    replace: `    if (initial) { ${MARK}
      closedTime = performance.now()
      delay = (typeof backoff === 'function' ? backoff(++options.shared.retries) : backoff) * 1000
      return reconnect()
    }
`,
  },
  {
    files: ['node_modules/postgres/src/index.js', 'node_modules/postgres/cjs/src/index.js'],
    find: `    sql.release = () => {
      c.reserved = null
      onopen(c)
    }`,
    replace: `    sql.release = () => {
      c.reserved = null
      c.queue === closed || c.queue === connecting || onopen(c) ${MARK}
    }`,
  },
];

let mended = 0;
for (const mend of mends) {
  for (const file of mend.files) {
    const path = join(root, file);
    if (!existsSync(path)) continue; // not installed (yet)
    const text = readFileSync(path, 'utf8');
    if (text.includes(mend.replace)) continue; // mended already
    if (!text.includes(mend.find)) {
      process.stderr.write(`patch-dependencies: ${file} does not contain the code decision 036 mends; see scripts/patch-dependencies.mjs\n`);
      process.exit(1);
    }
    writeFileSync(path, text.replace(mend.find, mend.replace));
    mended += 1;
  }
}
if (mended) process.stdout.write(`patch-dependencies: mended ${mended} file(s) (decision 036)\n`);
