CREATE TYPE "public"."offer_mode" AS ENUM('offer', 'auto_accept');--> statement-breakpoint
CREATE TYPE "public"."routing_strategy" AS ENUM('least_loaded', 'round_robin');--> statement-breakpoint
CREATE TYPE "public"."ticket_channel" AS ENUM('chat', 'email', 'phone', 'task');--> statement-breakpoint
CREATE TYPE "public"."ticket_event_type" AS ENUM('created', 'offered', 'accepted', 'declined', 'offer_expired', 'requeued', 'released', 'completed', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."ticket_state" AS ENUM('queued', 'offered', 'assigned', 'completed', 'cancelled');--> statement-breakpoint
CREATE TABLE "agent_routing" (
	"agent_id" uuid PRIMARY KEY NOT NULL,
	"capacity" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_offered_at" timestamp with time zone,
	"missed_offers" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_skills" (
	"agent_id" uuid NOT NULL,
	"skill" text NOT NULL,
	CONSTRAINT "agent_skills_agent_id_skill_pk" PRIMARY KEY("agent_id","skill")
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"integration_id" uuid NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "integrations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "integrations_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "queues" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"team_id" uuid NOT NULL,
	"strategy" "routing_strategy" DEFAULT 'least_loaded' NOT NULL,
	"offer_mode" "offer_mode" DEFAULT 'offer' NOT NULL,
	"capacity" jsonb DEFAULT '{"chat":3,"email":5,"phone":1,"task":5}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "queues_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "ticket_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"ticket_id" uuid NOT NULL,
	"integration_id" uuid NOT NULL,
	"type" "ticket_event_type" NOT NULL,
	"state" "ticket_state" NOT NULL,
	"agent_id" uuid,
	"reason" text,
	"explanation" jsonb,
	"version" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tickets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"integration_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"queue_id" uuid NOT NULL,
	"channel" "ticket_channel" NOT NULL,
	"priority" smallint DEFAULT 3 NOT NULL,
	"skills" text[] DEFAULT '{}'::text[] NOT NULL,
	"subject" text NOT NULL,
	"url" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"state" "ticket_state" DEFAULT 'queued' NOT NULL,
	"agent_id" uuid,
	"offer_id" uuid,
	"offer_expires_at" timestamp with time zone,
	"wait_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"accepted_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agent_routing" ADD CONSTRAINT "agent_routing_agent_id_users_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_skills" ADD CONSTRAINT "agent_skills_agent_id_users_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queues" ADD CONSTRAINT "queues_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_events" ADD CONSTRAINT "ticket_events_ticket_id_tickets_id_fk" FOREIGN KEY ("ticket_id") REFERENCES "public"."tickets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_events" ADD CONSTRAINT "ticket_events_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_events" ADD CONSTRAINT "ticket_events_agent_id_users_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_queue_id_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."queues"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_agent_id_users_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_integration_id_index" ON "api_keys" USING btree ("integration_id");--> statement-breakpoint
CREATE INDEX "ticket_events_ticket_id_id_index" ON "ticket_events" USING btree ("ticket_id","id");--> statement-breakpoint
CREATE INDEX "ticket_events_integration_id_id_index" ON "ticket_events" USING btree ("integration_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "tickets_external_idx" ON "tickets" USING btree ("integration_id","external_id");--> statement-breakpoint
CREATE INDEX "tickets_queued_idx" ON "tickets" USING btree ("queue_id","priority","queued_at") WHERE "tickets"."state" = 'queued';--> statement-breakpoint
CREATE INDEX "tickets_open_agent_idx" ON "tickets" USING btree ("agent_id") WHERE "tickets"."state" in ('offered', 'assigned');--> statement-breakpoint
CREATE INDEX "tickets_offer_expiry_idx" ON "tickets" USING btree ("offer_expires_at") WHERE "tickets"."state" = 'offered';