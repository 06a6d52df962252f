// The application router: every procedure the API offers, by namespace.
import { router } from './init';
import { authRouter } from './routers/auth';
import { presenceRouter } from './routers/presence';
import { rosterRouter } from './routers/roster';

export const appRouter = router({
  auth: authRouter,
  presence: presenceRouter,
  roster: rosterRouter,
});

export type AppRouter = typeof appRouter;
