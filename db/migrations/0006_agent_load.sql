DROP INDEX "tickets_queued_idx";--> statement-breakpoint
ALTER TABLE "agent_presence" ADD COLUMN "load" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "tickets_waiting_idx" ON "tickets" USING btree ("queue_id","channel","priority","queued_at","id") WHERE "tickets"."state" = 'queued';--> statement-breakpoint
-- Existing open tickets, counted once; from here on every presence write keeps it.
UPDATE "agent_presence" p SET "load" = x.load FROM (
  SELECT agent_id, jsonb_object_agg(channel, n) AS load FROM (
    SELECT agent_id, channel, count(*)::int AS n FROM tickets
     WHERE state IN ('offered', 'assigned') AND agent_id IS NOT NULL GROUP BY agent_id, channel) c
   GROUP BY agent_id) x
 WHERE p.agent_id = x.agent_id;
