ALTER TABLE "agent_presence" ADD COLUMN "manual_actor_id" uuid;--> statement-breakpoint
ALTER TABLE "agent_presence" ADD COLUMN "manual_note" text;--> statement-breakpoint
ALTER TABLE "device_sessions" ADD COLUMN "auth_session_id" text;--> statement-breakpoint
CREATE INDEX "device_sessions_live_seen_idx" ON "device_sessions" USING btree ("last_seen_at") WHERE "device_sessions"."ended_at" is null;--> statement-breakpoint
CREATE INDEX "device_sessions_agent_idx" ON "device_sessions" USING btree ("agent_id","last_seen_at");