// The agent status rule, as a pure function: live device sessions plus the
// chosen (manual) status give the status shown everywhere, with its reason.
// No clock, no I/O: every rule is covered by a table-driven test.

export const STATUSES = ['available', 'busy', 'away', 'offline'] as const;
export type Status = (typeof STATUSES)[number];
export type Activity = 'active' | 'idle';
/**
 * manual: chosen by the agent; forced: imposed by a supervisor; missed_offers:
 * set away by routing; idle and disconnected: derived from the devices.
 */
export type Reason = 'manual' | 'idle' | 'disconnected' | 'forced' | 'missed_offers';
export type ManualReason = Extract<Reason, 'manual' | 'forced' | 'missed_offers'>;

export type AggregateInput = {
  manualStatus: Status;
  manualReason: ManualReason;
  /** The agent's live (not ended) device sessions. */
  sessions: ReadonlyArray<{ activity: Activity }>;
};

export type AggregateResult = { status: Status; reason: Reason };

export function aggregate({ manualStatus, manualReason, sessions }: AggregateInput): AggregateResult {
  // 1. No live session: offline, whatever was chosen. The reason is the
  //    choice when offline itself was chosen or imposed, else the devices.
  if (sessions.length === 0) {
    return { status: 'offline', reason: manualStatus === 'offline' ? manualReason : 'disconnected' };
  }
  // 2. A chosen offline, away or busy is shown as chosen.
  if (manualStatus !== 'available') return { status: manualStatus, reason: manualReason };
  // 3. Available, but nobody at any device: away, automatically.
  if (sessions.every((s) => s.activity === 'idle')) return { status: 'away', reason: 'idle' };
  // 4. Available.
  return { status: 'available', reason: manualReason };
}
