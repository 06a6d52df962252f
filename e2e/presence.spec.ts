// Presence as agents live it: reloading never flaps, idleness shows, and a
// supervisor's forced offline reaches the agent's tab with who and why.
import { expect, test } from './fixtures';

test.use({ nodeEnv: { IDLE_AFTER_MS: '3000' } });

test('reloading the agent page three times never shows the agent offline', async ({ signIn, sql }) => {
  const roster = await signIn('supervisor@example.com');
  const row = roster.getByRole('row', { name: 'Ben Carter' });
  await expect(row.getByTestId('status')).toHaveText('Offline');
  const agent = await signIn('agent2@example.com');
  await expect(row.getByTestId('status')).toHaveText('Available');

  // Record every status the roster shows for the row from now on.
  await roster.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    const cell = document.querySelector('tr[aria-label="Ben Carter"] [data-testid="status"]')!;
    new MutationObserver(() => seen.push(cell.textContent ?? '')).observe(cell, { characterData: true, childList: true, subtree: true });
  });
  const [last] = await sql`select coalesce(max(id), 0)::int as id from presence_events`;
  const fromEvent = Number(last?.id);

  for (let i = 0; i < 3; i++) {
    await agent.reload();
    await expect(agent.getByLabel('Current status')).toHaveText('Available');
  }
  await agent.waitForTimeout(2_000); // longer than the grace: a flap would have shown by now
  const seen = await roster.evaluate(() => (window as unknown as { seen: string[] }).seen);
  expect(seen.filter((s) => s !== 'Available')).toEqual([]);
  await expect(row.getByRole('cell', { name: 'Devices' })).toHaveText('1');
  const offline = await sql`select e.id from presence_events e join users u on u.id = e.agent_id
                             where u.email = 'agent2@example.com' and e.id > ${fromEvent} and e.status = 'offline'`;
  expect(offline).toHaveLength(0);
});

test('an idle tab shows the agent away (idle) and the first input makes them available at once', async ({ signIn }) => {
  const roster = await signIn('supervisor@example.com');
  const row = roster.getByRole('row', { name: 'Chloe Diaz' });
  const agent = await signIn('agent3@example.com');
  await expect(row.getByTestId('status')).toHaveText('Available');
  await expect(row).toContainText('Away', { timeout: 10_000 }); // IDLE_AFTER_MS is 3 s here
  await expect(row).toContainText('idle');
  await expect(agent.getByLabel('This device')).toHaveText('This device is idle.');
  await agent.mouse.move(40, 40);
  await agent.mouse.move(80, 80);
  await expect(row.getByTestId('status')).toHaveText('Available', { timeout: 2_000 });
});

test('a supervisor forcing an agent offline reaches the agent with who and why', async ({ signIn }) => {
  const agent = await signIn('agent4@example.com');
  await expect(agent.getByLabel('Current status')).toHaveText('Available');
  const supervisor = await signIn('supervisor@example.com');
  const agentId = await supervisor.evaluate(async () => {
    const res = await fetch('/api/trpc/roster.list');
    const body = (await res.json()) as { result: { data: { rows: Array<{ agentId: string; email: string }> } } };
    return body.result.data.rows.find((r) => r.email === 'agent4@example.com')!.agentId;
  });
  // From the supervisor's page, as its own script would send it (same origin, cookie).
  const status = await supervisor.evaluate(async (agentId) => {
    const res = await fetch('/api/trpc/presence.force', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agentId, status: 'offline', note: 'shift over' }),
    });
    return res.status;
  }, agentId);
  expect(status).toBe(200);
  await expect(agent.getByRole('alert').filter({ hasText: 'supervisor' })).toContainText(
    'A supervisor set you offline (Sam Supervisor): shift over',
  );
  await expect(agent.getByLabel('Current status')).toHaveText('Offline');
  await expect(supervisor.getByRole('row', { name: 'Dev Patel' })).toContainText('set by a supervisor');
});
