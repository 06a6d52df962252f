// Hiding the last-seen time, as agents live it: one agent turns it on, a
// teammate's "My team" shows the day only, at once (docs/privacy.md).
import { expect, test } from './fixtures';

test('a teammate sees when an absent agent was last seen, and only the day once the agent hides it', async ({ signIn }) => {
  const chloe = await signIn('agent3@example.com'); // Billing
  const grace = await signIn('agent7@example.com'); // Billing
  const row = chloe.getByRole('list', { name: 'My team' }).getByRole('listitem', { name: 'Grace Kim' });
  const lastSeen = row.getByLabel('Grace Kim last seen');
  await expect(row.getByLabel('Grace Kim status')).toHaveText('Available');
  await expect(lastSeen).toHaveCount(0); // present: "last seen" would say nothing

  await grace.getByLabel('Set status').selectOption('away');
  await expect(row.getByLabel('Grace Kim status')).toHaveText('Away');
  await expect(lastSeen).toHaveText(/^last seen \d+s ago$/);
  await expect(row).toContainText(/for \d+s/);

  const hide = grace.getByLabel('Hide my last-seen time from teammates (they see the day only)');
  await expect(hide).not.toBeChecked();
  await hide.check();
  await expect(lastSeen).toHaveText('last seen today');
  await expect(row).toContainText('since today');
  await grace.reload();
  await expect(hide).toBeChecked(); // read back from the agent's own view

  // As they were, for the other tests on this node.
  await hide.uncheck();
  await expect(lastSeen).toHaveText(/^last seen \d+s ago$/);
  await grace.getByLabel('Set status').selectOption('available');
  await expect(row.getByLabel('Grace Kim status')).toHaveText('Available');
});
