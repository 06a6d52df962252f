-- Event ids in commit order, decided at commit (decision 013). An event row is
-- inserted with a provisional negative id; a deferred constraint trigger gives
-- it its real id at COMMIT, under a transaction-level advisory lock released
-- only once the transaction is visible. Ids therefore become visible in id
-- order — a reader that has seen id N has seen every id below N — while the
-- lock is held for the commit alone, not across the writer's round trips.
CREATE SEQUENCE IF NOT EXISTS presence_events_provisional;--> statement-breakpoint
ALTER TABLE "presence_events" ALTER COLUMN "id" SET DEFAULT -nextval('presence_events_provisional');--> statement-breakpoint
CREATE OR REPLACE FUNCTION sb_order_presence_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7204114);
  UPDATE presence_events SET id = nextval('presence_events_id_seq') WHERE id = NEW.id;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE CONSTRAINT TRIGGER presence_events_commit_order AFTER INSERT ON presence_events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sb_order_presence_event();--> statement-breakpoint
CREATE SEQUENCE IF NOT EXISTS ticket_events_provisional;--> statement-breakpoint
ALTER TABLE "ticket_events" ALTER COLUMN "id" SET DEFAULT -nextval('ticket_events_provisional');--> statement-breakpoint
CREATE OR REPLACE FUNCTION sb_order_ticket_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7204116);
  UPDATE ticket_events SET id = nextval('ticket_events_id_seq') WHERE id = NEW.id;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE CONSTRAINT TRIGGER ticket_events_commit_order AFTER INSERT ON ticket_events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sb_order_ticket_event();
