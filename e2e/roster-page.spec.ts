// The supervisor's roster page: counts, filters, search, and forcing an agent
// away from a row, seen at once on the agent's own page.
import { expect, test } from './fixtures';

test('filters by team and status, searches by name, and forces an agent away with a reason', async ({ signIn }) => {
  const roster = await signIn('supervisor@example.com');
  const table = roster.getByRole('table', { name: 'Agents' });
  await expect(table.getByRole('row')).toHaveCount(9); // header + 8 agents

  await roster.getByRole('combobox', { name: 'Team' }).selectOption('Technical');
  await expect(table.getByRole('row')).toHaveCount(5);
  await expect(table.getByRole('row', { name: 'Ben Carter' })).toBeVisible();
  await expect(table.getByRole('row', { name: 'Ada Brooks' })).toHaveCount(0);
  await roster.getByRole('combobox', { name: 'Team' }).selectOption({ label: 'All teams' });

  await roster.getByLabel('Search', { exact: true }).fill('gra');
  await expect(table.getByRole('row')).toHaveCount(2);
  await expect(table.getByRole('row', { name: 'Grace Kim' })).toBeVisible();
  await roster.getByLabel('Search', { exact: true }).fill('');

  const agent = await signIn('agent7@example.com');
  const grace = table.getByRole('row', { name: 'Grace Kim' });
  await expect(grace.getByTestId('status')).toHaveText('Available');
  await roster.getByRole('combobox', { name: 'Status' }).selectOption('available');
  await expect(table.getByRole('row')).toHaveCount(2);
  await expect(roster.getByLabel('Available by team')).toContainText('Billing: 1 available');

  roster.once('dialog', (dialog) => void dialog.accept('coaching session'));
  await grace.getByRole('button', { name: 'Set Grace Kim away' }).click();
  await roster.getByRole('combobox', { name: 'Status' }).selectOption('away');
  await expect(grace.getByTestId('status')).toHaveText('Away');
  await expect(grace.getByTestId('reason')).toHaveText('(set by a supervisor: coaching session)');
  await expect(agent.getByLabel('Current status')).toHaveText('Away');
  await expect(agent.getByLabel('Why')).toHaveText('(set by Sam Supervisor: coaching session)');
});
