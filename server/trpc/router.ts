// The application router: every procedure the API offers, by namespace.
import { router } from './init';
import { adminRouter } from './routers/admin';
import { authRouter } from './routers/auth';
import { keysRouter } from './routers/keys';
import { availabilityRouter, queuesRouter } from './routers/queues';
import { ticketsRouter } from './routers/tickets';
import { workRouter } from './routers/work';
import { presenceRouter } from './routers/presence';
import { reportsRouter } from './routers/reports';
import { rosterRouter } from './routers/roster';
import { systemRouter } from './routers/system';
import { teamRouter } from './routers/team';
import { webhooksRouter } from './routers/webhooks';

export const appRouter = router({
  auth: authRouter,
  presence: presenceRouter,
  roster: rosterRouter,
  team: teamRouter,
  system: systemRouter,
  tickets: ticketsRouter,
  queues: queuesRouter,
  availability: availabilityRouter,
  work: workRouter,
  keys: keysRouter,
  webhooks: webhooksRouter,
  reports: reportsRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
