// The admin pages in a real browser: an admin creates an agent in a team on
// /admin/users; the new agent signs in on another page and shows up available
// on the admin's roster; the audit log page shows who created them. Skills,
// capacity and deactivation on /admin/users; teams and members on
// /admin/teams; the pages are for admins only. Demo agents and teams are left
// as they were: other specs count and route to them.
import { adminCookie, call, createKeyAsAdmin } from './api';
import { expect, test } from './fixtures';

/** A team of its own, made over HTTP: the demo teams' rosters and routing, which other specs count on, stay as they are. */
async function createTeam(base: string, name: string): Promise<void> {
  const created = await call(base, 'admin.teams.create', { type: 'mutation', cookie: await adminCookie(base), input: { name } });
  expect(created.status).toBe(200);
}

/** An agent in no team, made through admin.users.create over HTTP. */
async function createAgent(base: string, name: string): Promise<{ id: string; email: string }> {
  const cookie = await adminCookie(base);
  const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${Date.now()}@example.com`;
  const created = await call<{ id: string }>(base, 'admin.users.create', {
    type: 'mutation',
    cookie,
    input: { email, name, role: 'agent', password: 'switchboard' },
  });
  expect(created.status).toBe(200);
  return { id: created.data!.id, email };
}

test('an admin creates an agent in a team, who signs in and appears on the roster, and the audit log shows it', async ({ signIn, node }) => {
  const team = `Onboarding ${Date.now()}`;
  await createTeam(node.url, team);
  const admin = await signIn('admin@example.com');
  await admin.goto('/admin/users');
  const email = `nova-${Date.now()}@example.com`;
  const form = admin.getByRole('form', { name: 'Create a user' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Name').fill('Nova Newton');
  await form.getByLabel('Role').selectOption('agent');
  await form.getByLabel('Password').fill('switchboard');
  await form.getByRole('checkbox', { name: team }).check();
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(admin.getByRole('status')).toHaveText(`Created Nova Newton (${email}).`);
  const row = admin.getByRole('table', { name: 'Users' }).getByRole('row', { name: 'Nova Newton' });
  await expect(row).toContainText(email);
  await expect(row).toContainText(team);
  await expect(row).toContainText('Active');

  await admin.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Roster' }).click();
  const nova = admin.getByRole('table', { name: 'Agents' }).getByRole('row', { name: 'Nova Newton' });
  await expect(nova.getByTestId('status')).toHaveText('Offline');
  const agent = await signIn(email);
  await expect(agent).toHaveURL(/\/agent$/);
  await expect(nova.getByTestId('status')).toHaveText('Available');

  await admin.goto('/admin/audit');
  await admin.getByLabel('Action').selectOption('user.create');
  const entry = admin.getByRole('table', { name: 'Entries' }).getByRole('row', { name: 'user.create by admin@example.com' }).first();
  await expect(entry).toContainText(`email: ${email}`);
  await expect(entry).toContainText('role: agent');
});

test('an admin sets an agent’s skills and capacity, and deactivating the agent signs their tab out', async ({ signIn, node }) => {
  const { email } = await createAgent(node.url, 'Sky Setter');
  const agent = await signIn(email);
  const admin = await signIn('admin@example.com');
  await admin.goto('/admin/users');
  await admin.getByRole('button', { name: 'Edit Sky Setter' }).click();
  const panel = admin.getByRole('region', { name: /^Sky Setter/ });
  await panel.getByLabel('Skills (comma-separated)').fill('de, vip');
  await panel.getByRole('button', { name: 'Save skills' }).click();
  await expect(admin.getByRole('status')).toHaveText('Skills of Sky Setter saved.');
  await panel.getByLabel('Chat').fill('2');
  await panel.getByRole('button', { name: 'Save capacity' }).click();
  await expect(admin.getByRole('status')).toHaveText('Capacity of Sky Setter saved.');
  const row = admin.getByRole('table', { name: 'Users' }).getByRole('row', { name: 'Sky Setter' });
  await expect(row).toContainText('de, vip');
  await expect(row).toContainText('chat 2');

  admin.once('dialog', (dialog) => void dialog.accept());
  await panel.getByRole('button', { name: 'Deactivate' }).click();
  await expect(row).toContainText('Deactivated');
  // The agent's socket was closed with their sign-in: the tab goes to the sign-in page by itself,
  // and coming back to /agent lands there again (no navigation of ours races the tab's own).
  await expect(agent).toHaveURL(/\/login$/);
  await agent.goto('/agent');
  await expect(agent).toHaveURL(/\/login$/);
  await panel.getByRole('button', { name: 'Reactivate' }).click();
  await expect(row.getByRole('cell', { name: 'Active', exact: true })).toBeVisible();
});

test('an admin creates a team, adds a member, deletes it, and is told why a team with ticket history stays', async ({ signIn, node, sql }) => {
  const { email } = await createAgent(node.url, 'Mo Member');
  const admin = await signIn('admin@example.com');
  await admin.goto('/admin/teams');
  const teams = admin.getByRole('table', { name: 'Teams' });
  const create = async (name: string) => {
    await admin.getByRole('form', { name: 'Create a team' }).getByLabel('Name').fill(name);
    await admin.getByRole('button', { name: 'Create team' }).click();
    await expect(teams.getByRole('row', { name })).toBeVisible();
  };

  const name = `Returns ${Date.now()}`;
  await create(name);
  await teams.getByRole('button', { name: `Members of ${name}` }).click();
  const panel = admin.getByRole('region', { name });
  await panel.getByLabel('User to add').selectOption({ label: `Mo Member (agent, ${email})` });
  await panel.getByRole('button', { name: 'Add' }).click();
  await expect(panel.getByRole('table', { name: 'Members' }).getByRole('row', { name: 'Mo Member' })).toContainText('Agent');
  await expect(teams.getByRole('row', { name }).getByRole('cell').nth(0)).toHaveText('1');
  admin.once('dialog', (dialog) => void dialog.accept());
  await teams.getByRole('button', { name: `Delete ${name}` }).click();
  await expect(teams.getByRole('row', { name })).toHaveCount(0);

  // A team whose queue has had a ticket keeps it: the ticket must not lose its queue.
  const kept = `Kept ${Date.now()}`;
  await create(kept);
  const queue = `${kept} queue`;
  await sql`insert into queues (name, team_id) select ${queue}, id from teams where name = ${kept}`;
  const key = await createKeyAsAdmin(node.url, { integration: 'e2e-admin', name: kept, scopes: ['tickets:write'] });
  const ticket = await call<{ id: string }>(node.url, 'tickets.create', {
    type: 'mutation',
    key,
    input: { externalId: kept, queue, channel: 'email', subject: 'Refund' },
  });
  expect((await call(node.url, 'tickets.cancel', { type: 'mutation', key, input: { id: ticket.data!.id } })).status).toBe(200);
  admin.once('dialog', (dialog) => void dialog.accept());
  await teams.getByRole('button', { name: `Delete ${kept}` }).click();
  // (Next.js keeps an empty alert region of its own for route announcements.)
  await expect(admin.getByRole('alert').filter({ hasText: /^id: / })).toHaveText(new RegExp(`^id: the team ${kept} owns queues with ticket history \\(${kept} queue\\)`));
  await expect(teams.getByRole('row', { name: kept })).toBeVisible();
});

test('only admins reach the admin pages', async ({ signIn }) => {
  const supervisor = await signIn('supervisor@example.com');
  for (const path of ['/admin/users', '/admin/teams', '/admin/audit']) {
    await supervisor.goto(path);
    await expect(supervisor).toHaveURL(/\/roster$/);
  }
});
