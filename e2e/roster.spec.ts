// The foundation journey: a supervisor watches the roster while an agent signs
// in, opens and closes tabs, and changes status — every step seen live.
import { expect, test } from './fixtures';

test('the roster follows an agent through sign-in, a second tab, a status change and leaving', async ({ signIn }) => {
  const roster = await signIn('supervisor@example.com');
  await expect(roster).toHaveURL(/\/roster$/);
  const ada = roster.getByRole('row', { name: 'Ada Brooks' });
  await expect(ada.getByTestId('status')).toHaveText('Offline');
  await expect(ada.getByRole('cell', { name: 'Devices' })).toHaveText('0');
  await expect(ada).toContainText('Billing');

  // The agent signs in: shown available, one device, without a reload.
  const firstTab = await signIn('agent1@example.com');
  await expect(firstTab).toHaveURL(/\/agent$/);
  await expect(firstTab.getByLabel('Current status')).toHaveText('Available');
  await expect(ada.getByTestId('status')).toHaveText('Available');
  await expect(ada.getByRole('cell', { name: 'Devices' })).toHaveText('1');

  // A second tab of the same browser is a second device session.
  const secondTab = await firstTab.context().newPage();
  await secondTab.goto('/agent');
  await expect(ada.getByRole('cell', { name: 'Devices' })).toHaveText('2');
  await expect(secondTab.getByRole('list', { name: 'My devices' }).getByRole('listitem')).toHaveCount(2);

  // Closing one tab leaves the agent available on the other.
  await secondTab.close();
  await expect(ada.getByRole('cell', { name: 'Devices' })).toHaveText('1');
  await expect(ada.getByTestId('status')).toHaveText('Available');

  // The agent switches to busy.
  await firstTab.getByLabel('Set status').selectOption('busy');
  await expect(firstTab.getByLabel('Current status')).toHaveText('Busy');
  await expect(ada.getByTestId('status')).toHaveText('Busy');

  // Closing the last tab: offline once the grace has passed.
  await firstTab.close();
  await expect(ada.getByTestId('status')).toHaveText('Offline');
  await expect(ada.getByRole('cell', { name: 'Devices' })).toHaveText('0');
});

test('a wrong password is refused with one generic message', async ({ node, browser }) => {
  const page = await (await browser.newContext({ baseURL: node.url })).newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill('agent2@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('form', { name: 'Sign in' }).getByRole('alert')).toHaveText('Email or password is incorrect');
  await expect(page).toHaveURL(/\/login$/);
  await page.context().close();
});
