// Routing as the issue tells it: a ticketing system, with an API key, creates
// a ticket over plain HTTP; the one agent who fits sees the offer counting
// down and accepts; the supervisor's roster shows the agent's load and the
// queue; the agent completes; the ticket reads back completed, with why it
// went to that agent. Keys are managed on /admin/keys: shown once, revoked,
// refused. (Offers that expire: offer-expiry.spec.ts.)
//
// The ticket needs `fr`, which only Elena Fischer (agent5) has in Billing, so
// it can go to no one else whoever else is signed in; the test leaves her
// signed out.
import { call, createKeyAsAdmin, createTicket, unique } from './api';
import { expect, test } from './fixtures';


test('a ticket from a ticketing system is offered to the one agent who fits, accepted, followed on the roster, completed and read back', async ({
  signIn,
  node,
}) => {
  const key = await createKeyAsAdmin(node.url, { integration: 'e2e-helpdesk', name: unique('routing'), scopes: ['tickets:write', 'tickets:read'] });

  const roster = await signIn('supervisor@example.com');
  const elena = roster.getByRole('table', { name: 'Agents' }).getByRole('row', { name: 'Elena Fischer' });
  const billing = roster.getByRole('table', { name: 'Queues' }).getByRole('row', { name: 'billing', exact: true });
  await expect(billing).toContainText('Billing');
  await expect(billing.getByRole('cell', { name: 'Waiting' })).toHaveText('0');
  await expect(elena.getByRole('cell', { name: 'Load' })).toHaveText('—');

  const agent = await signIn('agent5@example.com');
  await expect(agent.getByLabel('Current status')).toHaveText('Available');
  await expect(billing.getByRole('cell', { name: 'Agents available / routable' })).toHaveText(/^[1-4] \/ [1-4]$/);

  const subject = 'Facture en double';
  const ticketId = await createTicket(node.url, key, {
    externalId: unique('inv'),
    subject,
    url: 'https://helpdesk.example/tickets/4711',
  });

  // The offer, counting down.
  const offer = agent.getByRole('list', { name: 'Offers' }).getByRole('listitem', { name: subject });
  await expect(offer).toContainText('billing · chat · priority 3 · fr');
  await expect(offer.getByRole('link', { name: subject })).toHaveAttribute('href', 'https://helpdesk.example/tickets/4711');
  const timeLeft = offer.getByLabel('Time left');
  await expect(timeLeft).toHaveText(/^expires in \d+s$/);
  const shown = await timeLeft.textContent();
  await expect(timeLeft).not.toHaveText(shown!);
  // An offer already counts on the agent's load, and in the queue.
  await expect(elena.getByRole('cell', { name: 'Load' })).toHaveText('chat 1');
  await expect(billing.getByRole('cell', { name: 'Offered' })).toHaveText('1');
  await expect(billing.getByRole('cell', { name: 'Median time to accept' })).toHaveText('—');

  await offer.getByRole('button', { name: `Accept ${subject}` }).click();
  const held = agent.getByRole('list', { name: 'My tickets' }).getByRole('listitem', { name: subject });
  await expect(held).toBeVisible();
  await expect(agent.getByRole('list', { name: 'Offers' })).toHaveCount(0);
  await expect(billing.getByRole('cell', { name: 'Offered' })).toHaveText('0');
  await expect(billing.getByRole('cell', { name: 'Median time to accept' })).toHaveText(/^\d+(\.\d)?s$/);
  await expect(elena.getByRole('cell', { name: 'Load' })).toHaveText('chat 1');

  await held.getByRole('button', { name: `Complete ${subject}` }).click();
  await expect(agent.getByRole('list', { name: 'My tickets' })).toHaveCount(0);
  await expect(elena.getByRole('cell', { name: 'Load' })).toHaveText('—');

  // The ticketing system reads it back with its key.
  const read = await call<{ state: string; events: Array<{ type: string; agent: { name: string } | null }> }>(node.url, 'tickets.get', {
    type: 'query',
    key,
    input: { id: ticketId },
  });
  expect(read.status).toBe(200);
  expect(read.data?.state).toBe('completed');
  expect(read.data?.events.map((e) => e.type)).toEqual(['created', 'offered', 'accepted', 'completed']);

  // The supervisor's page of the ticket: state, history, and why Elena.
  const page = await roster.context().newPage();
  await page.goto(`/tickets/${ticketId}`);
  await expect(page.getByRole('heading', { name: subject })).toBeVisible();
  await expect(page.getByLabel('State', { exact: true })).toHaveText('Completed');
  await expect(page.getByLabel('Agent', { exact: true })).toHaveText('none now (last Elena Fischer)');
  const history = page.getByRole('list', { name: 'History' }).getByRole('listitem');
  await expect(history).toHaveCount(4);
  const offered = history.nth(1);
  await expect(offered).toContainText('Offered · Elena Fischer');
  await expect(offered.getByLabel('Why')).toHaveText('Strategy least loaded: Elena Fischer, the only eligible agent.');
  await expect(offered.getByLabel('Agents by verdict')).toContainText('eligible: 1');
  const candidate = offered.getByRole('table').getByRole('row', { name: 'Elena Fischer' });
  await expect(candidate).toContainText('eligible');
  await expect(candidate).toContainText('3 spare');
  await expect(history.nth(3)).toContainText('Completed · Elena Fischer');

  // Elena leaves: signed out of routing for the tests after this one.
  await agent.close();
  await expect(elena.getByTestId('status')).toHaveText('Offline');
});

test('an admin creates a key on /admin/keys, sees it once, revokes it, and the key is refused from then on', async ({ signIn, node }) => {
  const admin = await signIn('admin@example.com');
  await admin.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await admin.getByRole('link', { name: 'Admin' }).click();
  await admin.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'API keys' }).click();
  await expect(admin).toHaveURL(/\/admin\/keys$/);

  const name = unique('reporting');
  await admin.getByLabel('Integration').fill('e2e-reports');
  await admin.getByLabel('Key name').fill(name);
  await admin.getByRole('checkbox', { name: 'tickets:write' }).uncheck();
  await expect(admin.getByRole('checkbox', { name: 'tickets:read' })).toBeChecked();
  await admin.getByRole('button', { name: 'Create key' }).click();

  const field = admin.getByLabel('New API key');
  await expect(field).toHaveValue(/^sbk_[\w-]{40,}$/);
  const key = await field.inputValue();
  const shownOnce = admin.getByRole('region', { name: `New key “${name}” for e2e-reports` });
  await expect(shownOnce.getByRole('alert')).toContainText('it is shown only once');
  await shownOnce.getByRole('button', { name: 'Copy' }).click();
  await expect(shownOnce.getByRole('status')).toHaveText('Copied to the clipboard.');
  expect(await admin.evaluate(() => navigator.clipboard.readText())).toBe(key);

  const row = admin.getByRole('table', { name: 'Keys' }).getByRole('row', { name: `e2e-reports: ${name}` });
  await expect(row).toContainText(`${key.slice(0, 12)}…`);
  await expect(row).toContainText('tickets:read');
  await expect(row.getByLabel('State')).toHaveText('Active');
  expect((await call(node.url, 'tickets.list', { type: 'query', key })).status).toBe(200);

  // Once dismissed, the key is nowhere on the page, nor after a reload.
  await admin.getByRole('button', { name: 'I have copied it' }).click();
  await expect(shownOnce).toHaveCount(0);
  expect(await admin.content()).not.toContain(key);
  await admin.reload();
  await expect(row.getByLabel('State')).toHaveText('Active');
  expect(await admin.content()).not.toContain(key);

  admin.once('dialog', (dialog) => void dialog.accept());
  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(row.getByLabel('State')).toHaveText(/^Revoked /);
  await expect(row.getByRole('button', { name: `Revoke ${name}` })).toHaveCount(0);
  const refused = await call(node.url, 'tickets.list', { type: 'query', key });
  expect(refused.status).toBe(401);
  expect(refused.error?.data.code).toBe('UNAUTHORIZED');
});

test('only admins reach the keys page: a supervisor is sent back to the roster, which has no link to it', async ({ signIn }) => {
  const supervisor = await signIn('supervisor@example.com');
  await expect(supervisor.getByRole('table', { name: 'Agents' })).toBeVisible();
  await expect(supervisor.getByRole('link', { name: 'Admin' })).toHaveCount(0);
  await supervisor.goto('/admin/keys');
  await expect(supervisor).toHaveURL(/\/roster$/);
});
