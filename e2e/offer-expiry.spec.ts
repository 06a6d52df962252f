// Offers that run out: an agent who lets two offers expire is set away for
// missed offers (and says so), an answer that comes after the offer ended is
// refused with a message that says why, and the agent, available again, takes
// the ticket, releases it and declines it. Offers expire in 3 s here, so this
// file has a node of its own.
import type { Browser, Page, WebSocketRoute } from '@playwright/test';
import { call, createKeyAsAdmin, createTicket, unique } from './api';
import { expect, test } from './fixtures';

test.use({ nodeEnv: { OFFER_TIMEOUT_MS: '3000' } });

/**
 * Signs an agent in from a browser whose WebSocket messages from the server
 * can be held back: while `hold` is on, work.watch's lists wait (in order)
 * until `release`, so the page keeps showing an offer the server has ended.
 */
async function signInHolding(browser: Browser, baseURL: string, email: string) {
  const context = await browser.newContext({ baseURL });
  const held: Array<{ socket: WebSocketRoute; message: string | Buffer }> = [];
  let hold = false;
  const isWorkList = (message: string | Buffer) => {
    try {
      return (JSON.parse(String(message)) as { result?: { data?: { tickets?: unknown } } }).result?.data?.tickets !== undefined;
    } catch {
      return false; // PING, PONG
    }
  };
  await context.routeWebSocket(/\/api\/trpc/, (socket) => {
    const server = socket.connectToServer();
    socket.onMessage((message) => server.send(message));
    server.onMessage((message) => {
      if (hold && isWorkList(message)) held.push({ socket, message });
      else socket.send(message);
    });
  });
  const page: Page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('switchboard');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/agent$/);
  return {
    page,
    hold: () => void (hold = true),
    release: () => {
      hold = false;
      for (const { socket, message } of held.splice(0)) socket.send(message);
    },
  };
}

test('an agent who lets two offers expire is set away for missed offers, and a late accept is refused with why', async ({ browser, node }) => {
  const key = await createKeyAsAdmin(node.url, { integration: 'e2e-helpdesk', name: unique('expiry'), scopes: ['tickets:write', 'tickets:read'] });
  const { page: agent, hold, release } = await signInHolding(browser, node.url, 'agent5@example.com');
  try {
    await expect(agent.getByLabel('Current status')).toHaveText('Available');
    const subject = 'Rappel de paiement';
    const ticketId = await createTicket(node.url, key, { externalId: unique('late'), subject });
    const offer = agent.getByRole('list', { name: 'Offers' }).getByRole('listitem', { name: subject });
    await expect(offer.getByLabel('Time left')).toHaveText(/^expires in [1-3]s$/);

    // The page stops hearing of its work; the offer runs out, is offered
    // again, runs out again: two missed offers set the agent away.
    hold();
    await expect(offer.getByLabel('Time left')).toHaveText('expired');
    await expect(agent.getByLabel('Current status')).toHaveText('Away', { timeout: 15_000 });
    await expect(agent.getByLabel('Why')).toHaveText('(missed offers)');
    await expect(agent.getByLabel('Set status')).toHaveValue('away');

    await offer.getByRole('button', { name: `Accept ${subject}` }).click();
    await expect(agent.getByRole('region', { name: 'Work' }).getByRole('alert')).toHaveText(
      `Could not accept “${subject}”: the offer has expired or was withdrawn.`,
    );
    release();
    await expect(agent.getByRole('list', { name: 'Offers' })).toHaveCount(0);
    await expect(agent.getByText('No offers right now.')).toBeVisible();

    // Available again, the agent is offered the ticket once more and takes it.
    await agent.getByLabel('Set status').selectOption('available');
    await expect(agent.getByLabel('Current status')).toHaveText('Available');
    await offer.getByRole('button', { name: `Accept ${subject}` }).click();
    const held = agent.getByRole('list', { name: 'My tickets' }).getByRole('listitem', { name: subject });
    await held.getByRole('button', { name: `Release ${subject}` }).click();
    // Released, it goes back to the queue — and to the one agent who fits.
    await expect(offer).toBeVisible();
    await offer.getByRole('button', { name: `Decline ${subject}` }).click();
    await expect
      .poll(async () => {
        const read = await call<{ events: Array<{ type: string }> }>(node.url, 'tickets.get', { type: 'query', key, input: { id: ticketId } });
        return read.data?.events.map((e) => e.type).slice(0, 10);
      })
      .toEqual(['created', 'offered', 'offer_expired', 'offered', 'offer_expired', 'offered', 'accepted', 'released', 'offered', 'declined']);
  } finally {
    await agent.context().close();
  }
});
