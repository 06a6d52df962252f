// The supervisor's roster page: counts, filters, search, and forcing an agent
// away from a row, seen at once on the agent's own page; an agent's devices
// listed under their count, following devices as they come and go.
import type { Browser } from '@playwright/test';
import { expect, test } from './fixtures';

/** A phone's browser: the roster labels this device "Safari on iOS". */
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** Signs in as `signIn` does, from a browser that presents `userAgent`. */
async function signInFrom(browser: Browser, baseURL: string, email: string, userAgent: string) {
  const context = await browser.newContext({ baseURL, userAgent });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('switchboard');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/agent$/);
  return context;
}

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

test('lists the devices of an agent signed in on two, and drops the one that closes', async ({ signIn, browser, node }) => {
  const roster = await signIn('supervisor@example.com');
  const hugo = roster.getByRole('table', { name: 'Agents' }).getByRole('row', { name: 'Hugo Laurent' });
  await signIn('agent8@example.com'); // this Chromium: "Chrome on Linux"
  const phone = await signInFrom(browser, node.url, 'agent8@example.com', PHONE);
  try {
    await expect(hugo.getByRole('cell', { name: 'Devices' })).toHaveText('2');

    const count = hugo.getByRole('button', { name: 'Devices of Hugo Laurent' });
    await expect(count).toHaveAttribute('aria-expanded', 'false');
    await count.focus();
    await roster.keyboard.press('Enter');
    await expect(count).toHaveAttribute('aria-expanded', 'true');
    const devices = hugo.getByRole('list', { name: 'Devices of Hugo Laurent' }).getByRole('listitem');
    await expect(devices).toHaveCount(2);
    await expect(devices.filter({ hasText: 'Chrome on Linux' })).toContainText('active, last seen');
    await expect(devices.filter({ hasText: 'Safari on iOS' })).toContainText('active, last seen');

    await phone.close();
    await expect(devices).toHaveCount(1);
    await expect(devices).toContainText('Chrome on Linux');
    await expect(count).toHaveText('1');

    await roster.keyboard.press('Escape');
    await expect(count).toHaveAttribute('aria-expanded', 'false');
    await expect(count).toBeFocused();
    await expect(hugo.getByRole('list', { name: 'Devices of Hugo Laurent' })).toHaveCount(0);
  } finally {
    await phone.close();
  }
});
