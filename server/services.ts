// The long-lived parts of a node that procedures use, built once in main.ts
// and handed to every request through the tRPC context.
import type { Db } from '../db/client';
import type { KeyCache } from './auth/api-keys';
import type { Env } from './env';
import type { Logger } from './log';
import type { NodeStats } from './ops/stats';
import type { PresenceEngine } from './presence/engine';
import type { SubscriptionRequests } from './realtime/frames';
import type { Hub } from './realtime/hub';
import type { Router } from './routing/router';

export type Services = {
  db: Db;
  env: Env;
  log: Logger;
  engine: PresenceEngine;
  hub: Hub;
  router: Router;
  /** API keys this node authenticated lately. */
  keys: KeyCache;
  /** Subscription requests of the live views that write their own frames. */
  subscriptions: SubscriptionRequests;
  /** This node's counters, now. */
  stats: () => NodeStats;
};
