// What a browser is held to on our pages: a Content Security Policy whose
// per-request nonce the page's own scripts carry (so they run, and nothing
// injected does), no framing by other sites, and no WebSocket to us from a
// page of another origin even though the browser holds our cookie.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from './fixtures';

test('pages carry a nonce-based CSP that their own scripts satisfy, and the live roster runs under it', async ({ browser, node }) => {
  const context = await browser.newContext({ baseURL: node.url });
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });

  const response = await page.goto('/login');
  const headers = response!.headers();
  const policy = headers['content-security-policy']!;
  const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
  expect(nonce).toBeTruthy();
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("'strict-dynamic'");
  expect(policy).not.toContain("'unsafe-inline' 'strict");
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('same-origin');
  // Every script the server rendered carries this response's nonce.
  const scripts = await page.locator('script').evaluateAll((elements) => elements.map((s) => (s as HTMLScriptElement).nonce));
  expect(scripts.length).toBeGreaterThan(0);
  expect(scripts.every((n) => n === nonce)).toBe(true);
  // A second load gets another nonce.
  const again = (await page.request.get('/login')).headers()['content-security-policy']!;
  expect(/'nonce-([^']+)'/.exec(again)?.[1]).not.toBe(nonce);

  await page.getByLabel('Email').fill('supervisor@example.com');
  await page.getByLabel('Password').fill('switchboard');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/roster$/);
  await expect(page.getByRole('status', { name: 'Connection' })).toHaveText('Live');
  expect(violations).toEqual([]);
  await context.close();
});

test('a page of another origin cannot open a WebSocket to us with the signed-in user’s cookie', async ({ signIn, node }) => {
  const page = await signIn('supervisor@example.com');
  // Our own page can.
  const ours = await page.evaluate(
    (url) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url);
        socket.onopen = () => (socket.close(), resolve('open'));
        socket.onerror = () => resolve('refused');
      }),
    `${node.url.replace('http', 'ws')}/api/trpc`,
  );
  expect(ours).toBe('open');
  // A page of another origin on the same site (another port: the browser still sends our SameSite=Lax
  // cookie with its requests to us), with no CSP of ours on it: only the server's Origin check stands.
  const elsewhere = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  await page.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
  const theirs = await page.evaluate(
    (url) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url);
        socket.onopen = () => (socket.close(), resolve('open'));
        socket.onerror = () => resolve('refused');
      }),
    `${node.url.replace('http', 'ws')}/api/trpc`,
  );
  expect(theirs).toBe('refused');
  elsewhere.close();
});
