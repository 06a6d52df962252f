import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregate, type Activity, type AggregateResult, type ManualReason, type Status } from './aggregate';

const sessions = (...activities: Activity[]) => activities.map((activity) => ({ activity }));

describe('aggregate: the agent status rule', () => {
  const table: Array<[string, Status, ManualReason, Activity[], AggregateResult]> = [
    ['is offline with no live device even when available was chosen', 'available', 'manual', [], { status: 'offline', reason: 'disconnected' }],
    ['is offline with no live device when busy was chosen', 'busy', 'manual', [], { status: 'offline', reason: 'disconnected' }],
    ['is offline with no live device when a supervisor forced away', 'away', 'forced', [], { status: 'offline', reason: 'disconnected' }],
    ['keeps a forced offline as the reason once the devices are gone', 'offline', 'forced', [], { status: 'offline', reason: 'forced' }],
    ['keeps a chosen offline as the reason with no device', 'offline', 'manual', [], { status: 'offline', reason: 'manual' }],
    ['is available with one active device', 'available', 'manual', ['active'], { status: 'available', reason: 'manual' }],
    ['stays available while one device of several is active', 'available', 'manual', ['idle', 'active', 'idle'], { status: 'available', reason: 'manual' }],
    ['turns away (idle) when every device is idle', 'available', 'manual', ['idle', 'idle'], { status: 'away', reason: 'idle' }],
    ['shows busy as chosen, even with active devices', 'busy', 'manual', ['active'], { status: 'busy', reason: 'manual' }],
    ['shows busy as chosen when all devices are idle', 'busy', 'manual', ['idle'], { status: 'busy', reason: 'manual' }],
    ['shows away as chosen', 'away', 'manual', ['active'], { status: 'away', reason: 'manual' }],
    ['shows a chosen offline while still connected', 'offline', 'manual', ['active', 'active'], { status: 'offline', reason: 'manual' }],
    ['keeps the forced reason for a forced away', 'away', 'forced', ['active'], { status: 'away', reason: 'forced' }],
    ['keeps the forced reason for a forced offline', 'offline', 'forced', ['idle'], { status: 'offline', reason: 'forced' }],
  ];

  it.each(table)('%s', (_name, manualStatus, manualReason, activities, expected) => {
    expect(aggregate({ manualStatus, manualReason, sessions: sessions(...activities) })).toEqual(expected);
  });
});

describe('aggregate: laws (property tests)', () => {
  const arbitraries = () => {
    const activity = fc.constantFrom<Activity>('active', 'idle');
    const input = fc.record({
      manualStatus: fc.constantFrom<Status>('available', 'busy', 'away', 'offline'),
      manualReason: fc.constantFrom<ManualReason>('manual', 'forced', 'missed_offers'),
      sessions: fc.array(activity.map((a) => ({ activity: a })), { maxLength: 8 }),
    });
    return { activity, input };
  };

  it('never lowers an available agent when an idle device is added', async () => {
    const { input } = arbitraries();
    fc.assert(
      fc.property(input, (i) => {
        fc.pre(aggregate(i).status === 'available');
        expect(aggregate({ ...i, sessions: [...i.sessions, { activity: 'idle' }] }).status).toBe('available');
      }),
    );
  });

  it('always gives offline when the last live device goes', async () => {
    const { input } = arbitraries();
    fc.assert(
      fc.property(input, (i) => {
        expect(aggregate({ ...i, sessions: [] }).status).toBe('offline');
      }),
    );
  });

  it('shows offline exactly when there is no live device or offline was chosen', async () => {
    const { input } = arbitraries();
    fc.assert(
      fc.property(input, (i) => {
        const offline = aggregate(i).status === 'offline';
        expect(offline).toBe(i.sessions.length === 0 || i.manualStatus === 'offline');
      }),
    );
  });

  it('makes an agent who chose available and has an active device available', async () => {
    const { input } = arbitraries();
    fc.assert(
      fc.property(input, (i) => {
        const result = aggregate({ ...i, manualStatus: 'available', sessions: [...i.sessions, { activity: 'active' }] });
        expect(result.status).toBe('available');
      }),
    );
  });

  it('does not depend on the order of the devices', async () => {
    const { input } = arbitraries();
    fc.assert(
      fc.property(input, (i) => {
        expect(aggregate({ ...i, sessions: [...i.sessions].reverse() })).toEqual(aggregate(i));
      }),
    );
  });
});
