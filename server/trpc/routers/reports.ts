// reports.*: time in status, occupancy, offers, tickets handled and customer
// wait over a range, per agent, per team and per day (server/reports/report.ts
// defines each figure). For supervisors (their teams' agents), admins (every
// agent) and keys with `reports:read` (every agent: a BI export).
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { reportTeams } from '../../../db/queries/reports';
import { agentsReport, dailyReport, overviewReport, teamsReport, type ReportRange, type ReportScope } from '../../reports/report';
import { integrationScope, supervisedScope } from '../../roster/visibility';
import type { Services } from '../../services';
import { keyOrSupervisorProcedure, router, type KeyOrSupervisor } from '../init';

/** The longest range one report covers: a year, leap day included. */
export const MAX_REPORT_DAYS = 366;

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const time = z.iso
  .datetime({ offset: true, message: 'an ISO 8601 time with its offset, e.g. 2026-12-01T00:00:00Z' })
  .max(40)
  // PostgreSQL has no year 0, and the logs hold nothing before 1970 (the fuzz test sent 0000-01-01).
  .refine((value) => Date.parse(value) >= 0 && Date.parse(value) < Date.UTC(10_000, 0, 1), 'a time between 1970 and 9999');

export const reportInput = z
  .object({
    from: time,
    to: time,
    timeZone: z
      .string()
      .max(64)
      .refine(isTimeZone, 'an IANA time zone, e.g. Europe/Paris or UTC')
      .default('UTC'),
    teamId: z.uuid().optional(),
  })
  .refine((r) => Date.parse(r.to) > Date.parse(r.from), { path: ['to'], message: 'must be after from' })
  .refine((r) => Date.parse(r.to) - Date.parse(r.from) <= MAX_REPORT_DAYS * 86_400_000, {
    path: ['to'],
    message: `at most ${MAX_REPORT_DAYS} days after from`,
  });

type ReportInput = z.infer<typeof reportInput>;

const rangeOf = (input: ReportInput): ReportRange => ({ from: input.from, to: input.to, timeZone: input.timeZone });

/** The teams the caller may report on, narrowed to `teamId`: a key sees every team. */
async function scopeOf(services: Services, caller: KeyOrSupervisor, teamId: string | undefined): Promise<ReportScope> {
  const teamIds = caller.user ? await supervisedScope(services.db, { user: caller.user, teamId }) : integrationScope({ teamId });
  return { teamIds };
}

export const reportsRouter = router({
  /** One row per agent in scope, and the total. */
  agents: keyOrSupervisorProcedure('reports:read')
    .input(reportInput)
    .query(async ({ ctx, input }) =>
      agentsReport(ctx.services.db, { scope: await scopeOf(ctx.services, ctx.caller, input.teamId), range: rangeOf(input) }),
    ),

  /** One row per team in scope (its agents' figures together), and the total of their agents, each once. */
  teams: keyOrSupervisorProcedure('reports:read')
    .input(reportInput)
    .query(async ({ ctx, input }) => {
      const scope = await scopeOf(ctx.services, ctx.caller, input.teamId);
      const teams = await reportTeams(ctx.services.db, { teamIds: scope.teamIds });
      return teamsReport(ctx.services.db, { scope, range: rangeOf(input), teams });
    }),

  /** One row per day of the time zone, for the agents in scope or for one of them, and the total. */
  daily: keyOrSupervisorProcedure('reports:read')
    .input(z.intersection(reportInput, z.object({ agentId: z.uuid().optional() })))
    .query(async ({ ctx, input }) => {
      const report = await dailyReport(ctx.services.db, {
        scope: await scopeOf(ctx.services, ctx.caller, input.teamId),
        range: rangeOf(input),
        agentId: input.agentId,
      });
      if (!report) throw new TRPCError({ code: 'NOT_FOUND', message: 'agentId: no such agent in your teams' });
      return report;
    }),

  /** The three at once, from one read of the logs (the /reports page): agents, their teams, their days, the total. */
  overview: keyOrSupervisorProcedure('reports:read')
    .input(reportInput)
    .query(async ({ ctx, input }) => {
      const scope = await scopeOf(ctx.services, ctx.caller, input.teamId);
      const teams = await reportTeams(ctx.services.db, { teamIds: scope.teamIds });
      return overviewReport(ctx.services.db, { scope, range: rangeOf(input), teams });
    }),
});
