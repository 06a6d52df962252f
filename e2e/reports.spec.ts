// Reports as a support lead reads them: an agent signs in, takes and
// completes a ticket from a ticketing system, and goes away; her team's
// supervisor opens /reports from the roster and finds today's figures for
// her — the time available exactly as the presence log has it, the offer
// accepted, the ticket handled, the wait — in the table, the charts and the
// CSV download, and filters her out by choosing another team. The agent, her
// team, its queue and its supervisor are made for this test: the demo teams'
// rosters and queue statistics, which the specs after this one count, stay
// as they were.
import { readFileSync } from 'node:fs';
import { adminCookie, call, createKeyAsAdmin, unique } from './api';
import { expect, test } from './fixtures';

test('a supervisor reads today’s report of an agent: time in status, offers, tickets handled and wait, in the table, the charts and the CSV', async ({
  signIn,
  node,
  sql,
}) => {
  const cookie = await adminCookie(node.url);
  const teamName = unique('Reporting');
  const team = await call<{ id: string }>(node.url, 'admin.teams.create', { type: 'mutation', cookie, input: { name: teamName } });
  expect(team.status).toBe(200);
  const teams = await call<Array<{ id: string; name: string }>>(node.url, 'admin.teams.list', { type: 'query', cookie });
  const technical = teams.data!.find((t) => t.name === 'Technical')!;
  // Queues have no API (they are configuration): the test's own, made in the database.
  const queue = teamName.toLowerCase();
  await sql`insert into queues (name, team_id) values (${queue}, ${team.data!.id})`;
  const user = async (name: string, role: 'agent' | 'supervisor', teamIds: string[]) => {
    const email = `${unique(name.split(' ')[0]!.toLowerCase())}@example.com`;
    const made = await call<{ id: string }>(node.url, 'admin.users.create', {
      type: 'mutation',
      cookie,
      input: { email, name, role, password: 'switchboard', teamIds },
    });
    expect(made.status).toBe(200);
    return { email, id: made.data!.id };
  };
  const { email, id: ritaId } = await user('Rita Report', 'agent', [team.data!.id]);
  const leadLogin = await user('Lea Lead', 'supervisor', [team.data!.id, technical.id]);
  const key = await createKeyAsAdmin(node.url, { integration: 'e2e-helpdesk', name: unique('reports'), scopes: ['tickets:write'] });

  const agent = await signIn(email);
  await expect(agent.getByLabel('Current status')).toHaveText('Available');
  await agent.waitForTimeout(2_000); // some time available, to see counted
  const subject = 'Refund for order 1234';
  const created = await call<{ id: string }>(node.url, 'tickets.create', {
    type: 'mutation',
    key,
    input: { queue, channel: 'chat', externalId: unique('rep'), subject },
  });
  expect(created.status).toBe(200);
  const offer = agent.getByRole('list', { name: 'Offers' }).getByRole('listitem', { name: subject });
  await offer.getByRole('button', { name: `Accept ${subject}` }).click();
  const held = agent.getByRole('list', { name: 'My tickets' }).getByRole('listitem', { name: subject });
  await held.getByRole('button', { name: `Complete ${subject}` }).click();
  await expect(agent.getByRole('list', { name: 'My tickets' })).toHaveCount(0);
  await agent.getByLabel('Set status').selectOption('away');
  await expect(agent.getByLabel('Current status')).toHaveText('Away');

  // What the presence log says she did: available from one change to the next.
  const changes = await sql<{ status: string; at: Date }[]>`
    select status, at from presence_events where agent_id = ${ritaId} and status <> previous_status order by id`;
  expect(changes.map((c) => c.status)).toEqual(['available', 'away']);
  const availableSeconds = (changes[1]!.at.getTime() - changes[0]!.at.getTime()) / 1000;
  const [ticket] = await sql<{ wait: number }[]>`
    select extract(epoch from (select min(e.at) from ticket_events e where e.ticket_id = t.id and e.type = 'accepted') - t.created_at)::float8 as wait
      from tickets t where t.id = ${created.data!.id}`;

  const lead = await signIn(leadLogin.email);
  await lead.getByRole('link', { name: 'Reports' }).click();
  await expect(lead.getByRole('heading', { name: 'Reports' })).toBeVisible();
  const row = lead.getByRole('table', { name: 'Agents' }).getByRole('row', { name: 'Rita Report' });
  await expect(row.getByRole('cell', { name: 'Teams' })).toHaveText(teamName);
  await expect(row.getByRole('cell', { name: 'Offered' })).toHaveText('1');
  await expect(row.getByRole('cell', { name: 'Accepted' })).toHaveText('1');
  await expect(row.getByRole('cell', { name: 'Declined' })).toHaveText('0');
  await expect(row.getByRole('cell', { name: 'Missed' })).toHaveText('0');
  await expect(row.getByRole('cell', { name: 'Handled' })).toHaveText('1');
  await expect(row.getByRole('cell', { name: 'Available' })).toHaveText(`${Math.floor(availableSeconds)}s`);
  await expect(row.getByRole('cell', { name: 'Wait p50' })).toHaveText(`${Math.floor(ticket!.wait)}s`);

  // Both charts drew: the status bars, and a wait line.
  await expect(lead.getByRole('figure', { name: 'Time in status by day' }).locator('.recharts-bar-rectangle').first()).toBeVisible();
  await expect(lead.getByRole('figure', { name: 'Customer wait by day' }).locator('.recharts-line-dot').first()).toBeVisible();

  // The CSV holds the same figures, unrounded.
  const downloading = lead.waitForEvent('download');
  await lead.getByRole('button', { name: 'Download agents CSV' }).click();
  const file = await (await downloading).path();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
  const columns = lines[0]!.split(',');
  const cells = lines.find((line) => line.startsWith(ritaId))!.split(',');
  const csv = (name: string) => cells[columns.indexOf(name)];
  expect(Math.abs(Number(csv('available_s')) - availableSeconds)).toBeLessThan(0.002);
  expect([csv('offered'), csv('accepted'), csv('declined'), csv('missed'), csv('handled')]).toEqual(['1', '1', '0', '0', '1']);
  expect(Math.abs(Number(csv('wait_p50_s')) - ticket!.wait)).toBeLessThan(0.002);
  expect(Number(csv('working_s'))).toBeGreaterThan(0);

  // Another team's report leaves her out.
  await lead.getByRole('combobox', { name: 'Team' }).selectOption({ label: 'Technical' });
  await expect(lead.getByRole('table', { name: 'Agents' }).getByRole('row', { name: 'Rita Report' })).toHaveCount(0);
  await expect(lead.getByRole('table', { name: 'Agents' }).getByRole('row', { name: 'Ben Carter' })).toBeVisible();

  await agent.close();
});
