import { describe, expect, it } from 'vitest';
import { aggregate, type Activity, type AggregateResult, type ManualReason, type Status } from './aggregate';

const sessions = (...activities: Activity[]) => activities.map((activity) => ({ activity }));

describe('aggregate: the agent status rule', () => {
  const table: Array<[string, Status, ManualReason, Activity[], AggregateResult]> = [
    ['is offline with no live device even when available was chosen', 'available', 'manual', [], { status: 'offline', reason: 'disconnected' }],
    ['is offline with no live device when busy was chosen', 'busy', 'manual', [], { status: 'offline', reason: 'disconnected' }],
    ['is offline with no live device when a supervisor forced away', 'away', 'forced', [], { status: 'offline', reason: 'disconnected' }],
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
