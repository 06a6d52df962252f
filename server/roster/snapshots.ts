// Roster snapshots shared by the callers that ask for the same teams at about
// the same time: a page of supervisors opening together, or every tab of a
// desk reconnecting after a deploy. One snapshot of 5,000 agents costs
// PostgreSQL about 100 ms; fifty asked at once cost fifty of those.
//
// A caller never gets a read that began before it asked. A live view
// subscribes to the hub first and then asks, and relies on the snapshot
// including every event the hub did not hand it; a read already running may
// have begun before that subscription. So a caller who finds a read running
// waits for the next one, which starts as soon as the running one ends and is
// shared by everyone who asked meanwhile. For the same reason a query sees
// its own writes. At most two reads per team scope are out at once.
import type { RosterRow } from '../../db/queries/roster';
import type { TeamScope } from './visibility';

export type Snapshot = { rows: RosterRow[]; lastEventId: number };

type Slot = { running?: Promise<Snapshot>; next?: Promise<Snapshot> };

export class SnapshotReads {
  private readonly slots = new Map<string, Slot>();
  /** Snapshots asked for, and reads made for them. */
  readonly stats = { asks: 0, reads: 0 };

  constructor(private readonly read: (teams: TeamScope) => Promise<Snapshot>) {}

  get(teams: TeamScope): Promise<Snapshot> {
    const key = teams === undefined ? '*' : [...teams].sort().join(',');
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = {}));
    this.stats.asks += 1;
    if (slot.next) return slot.next;
    if (!slot.running) return (slot.running = this.run(key, slot, teams));
    const settle = () => undefined;
    const next = slot.running.then(settle, settle).then(() => {
      slot.next = undefined;
      return (slot.running = this.run(key, slot, teams));
    });
    return (slot.next = next);
  }

  private run(key: string, slot: Slot, teams: TeamScope): Promise<Snapshot> {
    this.stats.reads += 1;
    const reading: Promise<Snapshot> = this.read(teams).finally(() => {
      if (slot.running === reading) slot.running = undefined;
      if (!slot.running && !slot.next && this.slots.get(key) === slot) this.slots.delete(key);
    });
    return reading;
  }
}
