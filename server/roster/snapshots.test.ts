// Unit: who shares which snapshot read. The read is a function the test
// settles by hand, so the order of asks and answers is exact. (The roster
// tests show the same through a node and a real database.)
import { describe, expect, it } from 'vitest';
import { SnapshotReads, type Snapshot } from './snapshots';
import type { TeamScope } from './visibility';

function controlledReads() {
  const started: Array<{ teams: TeamScope; settle: (s: Snapshot) => void; fail: (e: Error) => void }> = [];
  const reads = new SnapshotReads(
    (teams) => new Promise<Snapshot>((settle, fail) => started.push({ teams, settle, fail })),
  );
  const answer = (i: number, lastEventId: number) => started[i]!.settle({ rows: [], lastEventId });
  return { reads, started, answer };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SnapshotReads', () => {
  it('never hands a caller a read that began before it asked; those who ask meanwhile share the next one', async () => {
    const { reads, started, answer } = controlledReads();
    const first = reads.get(undefined);
    const during = [reads.get(undefined), reads.get(undefined), reads.get(undefined)];
    expect(started).toHaveLength(1); // the next read waits for the running one
    answer(0, 10);
    expect(await first).toEqual({ rows: [], lastEventId: 10 });
    await tick();
    expect(started).toHaveLength(2);
    const later = reads.get(undefined); // the second read is running now: this one waits for a third
    answer(1, 20);
    for (const answerOf of during) expect((await answerOf).lastEventId).toBe(20);
    await tick();
    expect(started).toHaveLength(3);
    answer(2, 30);
    expect((await later).lastEventId).toBe(30);
    expect(reads.stats).toEqual({ asks: 5, reads: 3 });
  });

  it('keeps different team scopes apart, whatever order their teams are given in', async () => {
    const { reads, started, answer } = controlledReads();
    const ab = reads.get(['a', 'b']);
    const everyone = reads.get(undefined);
    const ba = reads.get(['b', 'a']);
    expect(started.map((s) => s.teams)).toEqual([['a', 'b'], undefined]);
    answer(0, 1);
    answer(1, 2);
    expect((await ab).lastEventId).toBe(1);
    expect((await everyone).lastEventId).toBe(2);
    await tick();
    answer(2, 3);
    expect((await ba).lastEventId).toBe(3);
  });

  it('fails only the callers of a failed read; the next read still happens', async () => {
    const { reads, started, answer } = controlledReads();
    const failing = reads.get(undefined);
    const next = reads.get(undefined);
    started[0]!.fail(new Error('connection lost'));
    await expect(failing).rejects.toThrow('connection lost');
    await tick();
    answer(1, 7);
    expect((await next).lastEventId).toBe(7);
    const fresh = reads.get(undefined);
    answer(2, 8);
    expect((await fresh).lastEventId).toBe(8);
  });
});
