// Two nodes on one database behave as one: a supervisor watching the roster
// through node B sees every change an agent makes through node A.
import { expect, test } from './fixtures';

test('a supervisor on node B sees each status change of an agent on node A', async ({ signIn, node, nodeB }) => {
  const roster = await signIn('supervisor@example.com', nodeB);
  const row = roster.getByRole('row', { name: 'Elena Fischer' });
  await expect(row.getByTestId('status')).toHaveText('Offline');

  const agent = await signIn('agent5@example.com', node);
  await expect(row.getByTestId('status')).toHaveText('Available');
  await expect(row.getByRole('cell', { name: 'Devices' })).toHaveText('1');

  for (const [choice, shown] of [
    ['busy', 'Busy'],
    ['away', 'Away'],
    ['available', 'Available'],
  ] as const) {
    await agent.getByLabel('Set status').selectOption(choice);
    await expect(row.getByTestId('status')).toHaveText(shown);
  }

  await agent.close();
  await expect(row.getByTestId('status')).toHaveText('Offline');
});
