// No IP address or raw User-Agent is stored beyond the security log
// (docs/privacy.md). Two checks: the migrated schema has no column that could
// hold one other than audit_log.address — so a future migration cannot add
// one silently — and after real traffic (a device from a browser whose
// User-Agent carries a marker and an address, a failed sign-in), no stored
// text anywhere holds the client's address or that User-Agent.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from './client';
import type { RunningNode } from '../server/node';
import { signIn, socketClient } from '../server/testing/clients';
import { createTestDatabase, seedTeam, TEST_PASSWORD, type TestDatabase } from '../server/testing/database';
import { startTestNode } from '../server/testing/node';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

/** The one column allowed to hold an address: the security log's. */
const ALLOWED = ['audit_log.address'];

/** Columns of `schema` that could hold an address or a User-Agent, by type or by name. */
async function addressLikeColumns(sql: Sql, schema: string): Promise<string[]> {
  const rows = await sql<Array<{ column: string }>>`
    select table_name || '.' || column_name as column from information_schema.columns
     where table_schema = ${schema}
       and (udt_name in ('inet', 'cidr', '_inet', '_cidr', 'macaddr', 'macaddr8')
            or column_name ~* '(^|_)ip(v4|v6)?(_|$)|addr|user_?agent|forwarded|remote')
     order by 1`;
  return rows.map((r) => r.column);
}

describe('the schema', () => {
  it('has no column for an IP address or a User-Agent but the audit log’s address', async () => {
    expect(await addressLikeColumns(t.sql, 'public')).toEqual(ALLOWED);
  });

  it('would be caught adding one, by type or by name', async () => {
    await t.sql`create schema probe`;
    await t.sql`create table probe.t (client_ip text, ip text, ipv6 text, origin inet, net cidr, remote_addr text,
                                      user_agent text, useragent text, forwarded_for text, description text, shipped text)`;
    expect(await addressLikeColumns(t.sql, 'probe')).toEqual(
      ['client_ip', 'forwarded_for', 'ip', 'ipv6', 'net', 'origin', 'remote_addr', 'user_agent', 'useragent'].map((c) => `t.${c}`),
    );
    await t.sql`drop schema probe cascade`;
  });
});

describe('what real traffic leaves behind', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startTestNode(t.url);
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('stores the device’s coarse label, and nowhere the client’s address or its User-Agent', async () => {
    const team = await seedTeam(t.db, { team: 'Quiet', agents: 1 });
    const marker = `ua-marker-${randomUUID().slice(0, 8)}`;
    const userAgent = `Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36 ${marker} 203.0.113.7`;
    await fetch(`${node.url}/api/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: node.url, 'user-agent': userAgent },
      body: JSON.stringify({ email: team.agents[0]!.email, password: 'wrong password' }),
    });
    const cookie = await signIn(node.url, team.agents[0]!.email, TEST_PASSWORD);
    const socket = socketClient(node.url, cookie, userAgent);
    await new Promise<void>((resolve, reject) => {
      socket.trpc.presence.session.subscribe(
        { deviceId: `device-${randomUUID()}`, sessionId: `tab-${randomUUID()}` },
        { onData: (e) => e.type === 'attached' && resolve(), onError: reject },
      );
    });
    expect(await t.sql`select label from device_sessions where agent_id = ${team.agents[0]!.id}`).toEqual([{ label: 'Chrome on Linux' }]);

    // Every stored text (text, varchar, json, arrays) of every table, the security log's address aside.
    const columns = await t.sql<Array<{ table: string; column: string }>>`
      select table_name as table, column_name as column from information_schema.columns c
       where table_schema = 'public' and (data_type in ('text', 'character varying', 'json', 'jsonb', 'ARRAY'))
         and table_name in (select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE')`;
    const found: string[] = [];
    for (const { table, column } of columns) {
      if (ALLOWED.includes(`${table}.${column}`)) continue;
      for (const needle of ['127.0.0.1', '::1', marker, '203.0.113.7', 'Mozilla']) {
        const [hit] = await t.sql`select count(*)::int as n from ${t.sql(table)} where ${t.sql(column)}::text like ${`%${needle}%`}`;
        if (hit?.n) found.push(`${table}.${column} holds ${needle}`);
      }
    }
    expect(found).toEqual([]);
    // The failed sign-in was counted against the address, under a keyed hash of it.
    const keys = (await t.sql`select key from login_throttle`).map((r) => r.key as string);
    expect(keys.filter((k) => k.startsWith('address:'))).toHaveLength(1);
    await socket.close();
  });
});
