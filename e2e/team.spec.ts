// An agent's "My team": teammates' statuses, live, and no one from other teams.
import { expect, test } from './fixtures';

test('an agent sees a teammate come online and turn busy, and no other team', async ({ signIn }) => {
  const farid = await signIn('agent6@example.com'); // Technical
  const team = farid.getByRole('list', { name: 'My team' });
  const hugo = team.getByRole('listitem', { name: 'Hugo Laurent' });
  await expect(hugo.getByLabel('Hugo Laurent status')).toHaveText('Offline');
  await expect(team.getByRole('listitem', { name: 'Ben Carter' })).toBeVisible();
  await expect(team.getByRole('listitem', { name: 'Ada Brooks' })).toHaveCount(0); // Billing
  await expect(team.getByRole('listitem', { name: 'Farid Haddad' })).toHaveCount(0); // themselves

  const agent = await signIn('agent8@example.com');
  await expect(hugo.getByLabel('Hugo Laurent status')).toHaveText('Available');
  await agent.getByLabel('Set status').selectOption('busy');
  await expect(hugo.getByLabel('Hugo Laurent status')).toHaveText('Busy');
  await expect(team).not.toContainText('device');
});
