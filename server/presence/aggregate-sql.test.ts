// The status rule exists twice: `aggregate` (TypeScript, the specification)
// and `sb_aggregate` (migration 0007, for the one-statement status change).
// This holds them equal over every input that matters: each chosen status and
// reason, with zero to three devices in every mix of active and idle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { aggregate, STATUSES, type Activity, type ManualReason } from './aggregate';

const REASONS: readonly ManualReason[] = ['manual', 'forced', 'missed_offers'];

/** Every multiset of up to three devices: the rule reads only how many are idle of how many. */
const DEVICE_MIXES: Activity[][] = [0, 1, 2, 3].flatMap((devices) =>
  Array.from({ length: devices + 1 }, (_, idle) => [
    ...Array<Activity>(idle).fill('idle'),
    ...Array<Activity>(devices - idle).fill('active'),
  ]),
);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('sb_aggregate', () => {
  it('gives the same status and reason as aggregate for every chosen status, reason and mix of devices', async () => {
    const cases = STATUSES.flatMap((manualStatus) =>
      REASONS.flatMap((manualReason) => DEVICE_MIXES.map((activities) => ({ manualStatus, manualReason, activities }))),
    );
    const fromSql = await Promise.all(
      cases.map(async ({ manualStatus, manualReason, activities }) => {
        const idle = activities.filter((a) => a === 'idle').length;
        const [row] = await t.sql`select status, reason from sb_aggregate(
          ${manualStatus}::agent_status, ${manualReason}::manual_reason, ${activities.length}::int, ${idle}::int)`;
        return { status: row?.status, reason: row?.reason };
      }),
    );
    const fromTs = cases.map(({ manualStatus, manualReason, activities }) =>
      aggregate({ manualStatus, manualReason, sessions: activities.map((activity) => ({ activity })) }),
    );
    expect(cases).toHaveLength(4 * 3 * 10);
    expect(fromSql).toEqual(fromTs);
  });
});
