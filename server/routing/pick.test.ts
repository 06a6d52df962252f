// The candidate choice, table-driven: strategies, skills, capacity and ties.
import { describe, expect, it } from 'vitest';
import { rankCandidates, whyChosen, whyWaiting, type Candidate, type Strategy } from './pick';

const agent = (agentId: string, over: Partial<Candidate> = {}): Candidate => ({
  agentId,
  status: 'available',
  skills: [],
  load: 0,
  capacity: 3,
  lastOfferedAt: null,
  ...over,
});

const cases: Array<{ name: string; strategy: Strategy; skills?: string[]; passedBy?: string[]; candidates: Candidate[]; order: string[] }> = [
  {
    name: 'least loaded: most spare capacity first',
    strategy: 'least_loaded',
    candidates: [agent('a', { load: 2 }), agent('b', { load: 0 }), agent('c', { load: 1 })],
    order: ['b', 'c', 'a'],
  },
  {
    name: 'least loaded: spare counts, not load (capacities differ)',
    strategy: 'least_loaded',
    candidates: [agent('a', { load: 1, capacity: 5 }), agent('b', { load: 0, capacity: 2 })],
    order: ['a', 'b'],
  },
  {
    name: 'least loaded: a tie goes to whoever waited longest since a last offer; never-offered first',
    strategy: 'least_loaded',
    candidates: [agent('a', { lastOfferedAt: 200 }), agent('b', { lastOfferedAt: 100 }), agent('c')],
    order: ['c', 'b', 'a'],
  },
  {
    name: 'round robin: longest since a last offer first, whatever the load',
    strategy: 'round_robin',
    candidates: [agent('a', { load: 0, lastOfferedAt: 300 }), agent('b', { load: 2, lastOfferedAt: 100 })],
    order: ['b', 'a'],
  },
  {
    name: 'a full tie is broken by id, so every node ranks alike',
    strategy: 'round_robin',
    candidates: [agent('b'), agent('a')],
    order: ['a', 'b'],
  },
  {
    name: 'only available agents',
    strategy: 'least_loaded',
    candidates: [agent('a', { status: 'away' }), agent('b', { status: 'busy' }), agent('c', { status: 'offline' }), agent('d')],
    order: ['d'],
  },
  {
    name: 'every required skill must match',
    strategy: 'least_loaded',
    skills: ['de', 'billing'],
    candidates: [agent('a', { skills: ['de'] }), agent('b', { skills: ['billing', 'de', 'fr'] })],
    order: ['b'],
  },
  {
    name: 'an agent at capacity on the channel is skipped',
    strategy: 'round_robin',
    candidates: [agent('a', { load: 3, capacity: 3 }), agent('b', { load: 1, capacity: 1 }), agent('c', { load: 2 })],
    order: ['c'],
  },
  {
    name: 'least loaded: whoever passed on the ticket comes after everyone else, even with more spare capacity',
    strategy: 'least_loaded',
    passedBy: ['a'],
    candidates: [agent('a', { load: 0 }), agent('b', { load: 2 }), agent('c', { load: 1 })],
    order: ['c', 'b', 'a'],
  },
  {
    name: 'round robin: whoever passed on the ticket comes last, even if their turn is next',
    strategy: 'round_robin',
    passedBy: ['a', 'b'],
    candidates: [agent('a', { lastOfferedAt: 100 }), agent('b', { lastOfferedAt: 50 }), agent('c', { lastOfferedAt: 300 })],
    order: ['c', 'b', 'a'],
  },
  {
    name: 'an agent who passed on the ticket still gets it when nobody else can take it',
    strategy: 'least_loaded',
    passedBy: ['a'],
    candidates: [agent('a'), agent('b', { status: 'away' }), agent('c', { load: 3 })],
    order: ['a'],
  },
  {
    name: 'zero capacity takes nothing',
    strategy: 'least_loaded',
    candidates: [agent('a', { capacity: 0 })],
    order: [],
  },
];

describe('rankCandidates', () => {
  it.each(cases)('$name', ({ strategy, skills = [], passedBy, candidates, order }) => {
    expect(rankCandidates(strategy, { skills, passedBy }, candidates).order).toEqual(order);
  });

  it('explains every skipped agent', () => {
    const ranking = rankCandidates('least_loaded', { skills: ['de'] }, [
      agent('away', { status: 'away', skills: ['de'] }),
      agent('full', { load: 3, skills: ['de'] }),
      agent('noskill', { skills: ['fr'] }),
      agent('ok', { skills: ['de'] }),
    ]);
    expect(ranking.considered).toEqual([
      { agentId: 'away', eligible: false, reason: 'not_available', detail: 'away' },
      { agentId: 'full', eligible: false, reason: 'at_capacity', detail: '3 of 3' },
      { agentId: 'noskill', eligible: false, reason: 'missing_skill', detail: 'de' },
      { agentId: 'ok', eligible: true, spare: 3, lastOfferedAt: null },
    ]);
    expect(whyChosen('least_loaded', ranking, 'ok')).toBe('the only eligible agent');
  });

  it('says why a winner won, and why a ticket waits', () => {
    const tied = rankCandidates('least_loaded', { skills: [] }, [agent('a', { lastOfferedAt: 5 }), agent('b')]);
    expect(whyChosen('least_loaded', tied, 'b')).toBe('most spare capacity (3), tied with 1 and longest since a last offer');
    const clear = rankCandidates('least_loaded', { skills: [] }, [agent('a', { load: 1 }), agent('b')]);
    expect(whyChosen('least_loaded', clear, 'b')).toBe('most spare capacity (3) of 2 eligible');
    const none = rankCandidates('least_loaded', { skills: ['x'] }, [agent('a', { status: 'away' }), agent('b'), agent('c')]);
    expect(whyWaiting(none)).toBe('1 not available, 2 missing a skill');
    expect(whyWaiting(rankCandidates('round_robin', { skills: [] }, []))).toBe('no agents in the queue’s team');
  });

  it('marks who passed on the ticket, and says so in why the winner won', () => {
    const ranking = rankCandidates('least_loaded', { skills: [], passedBy: ['a'] }, [agent('a'), agent('b', { load: 1 }), agent('c', { load: 2 })]);
    expect(ranking.considered[0]).toEqual({ agentId: 'a', eligible: true, spare: 3, lastOfferedAt: null, passedOn: true });
    expect(whyChosen('least_loaded', ranking, 'b')).toBe('most spare capacity (2) of 2 eligible; 1 who passed on it tried last');
    // b and c were taken meanwhile (locked by another claim): a gets it after all.
    expect(whyChosen('least_loaded', ranking, 'a')).toBe('passed on it before, tried after the 2 eligible who had not');
    const alone = rankCandidates('least_loaded', { skills: [], passedBy: ['a'] }, [agent('a')]);
    expect(whyChosen('least_loaded', alone, 'a')).toBe('the only eligible agent, though they passed on it before');
    const oneFresh = rankCandidates('round_robin', { skills: [], passedBy: ['a'] }, [agent('a'), agent('b')]);
    expect(whyChosen('round_robin', oneFresh, 'b')).toBe('the only eligible agent who had not passed on it');
  });
});
