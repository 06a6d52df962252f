-- Indexes for the reports (server/reports, decision 039): status changes and offers by agent and time,
-- and tickets by when they ended, so a report over a past week reads that week and not the whole log.
CREATE INDEX "presence_events_agent_at_idx" ON "presence_events" USING btree ("agent_id","at");--> statement-breakpoint
CREATE INDEX "ticket_events_agent_at_idx" ON "ticket_events" USING btree ("agent_id","at") WHERE "ticket_events"."agent_id" is not null;--> statement-breakpoint
CREATE INDEX "tickets_ended_idx" ON "tickets" USING btree ("ended_at");