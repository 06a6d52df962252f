import { describe, expect, it } from 'vitest';
import { Mailbox, MailboxOverflowError } from './mailbox';

async function drain<T>(mailbox: Mailbox<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  for await (const item of mailbox) {
    out.push(item);
    if (out.length === count) break;
  }
  return out;
}

describe('Mailbox', () => {
  it('delivers every item in order while the reader keeps up', async () => {
    const mailbox = new Mailbox<number>(new AbortController().signal);
    for (let i = 0; i < 5; i++) mailbox.push(i);
    expect(await drain(mailbox, 5)).toEqual([0, 1, 2, 3, 4]);
  });

  it('coalesces a slow reader’s backlog to the latest item per key, in the order of those latest items', async () => {
    const mailbox = new Mailbox<{ key: string; n: number }>(new AbortController().signal, {
      coalesceBy: (item) => item.key,
      coalesceAfter: 3,
    });
    const pushes = [['a', 1], ['b', 2], ['c', 3], ['a', 4], ['b', 5], ['a', 6]] as const;
    for (const [key, n] of pushes) mailbox.push({ key, n });
    expect(mailbox.size).toBe(3); // bounded by the keys, not by the pushes
    expect((await drain(mailbox, 3)).map((i) => `${i.key}${i.n}`)).toEqual(['c3', 'b5', 'a6']);
    mailbox.push({ key: 'a', n: 7 });
    mailbox.push({ key: 'a', n: 8 });
    expect((await drain(mailbox, 2)).map((i) => i.n)).toEqual([7, 8]); // caught up: every item again
  });

  it('fails a reader that falls past the limit when it cannot coalesce', async () => {
    const mailbox = new Mailbox<number>(new AbortController().signal, { limit: 2 });
    [1, 2, 3].forEach((n) => mailbox.push(n));
    await expect(drain(mailbox, 3)).rejects.toBeInstanceOf(MailboxOverflowError);
  });

  it('ends when its signal aborts', async () => {
    const controller = new AbortController();
    const mailbox = new Mailbox<number>(controller.signal);
    const done = drain(mailbox, 10);
    controller.abort();
    expect(await done).toEqual([]);
  });
});
