CREATE TABLE "gift_cards"."card_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"gift_card_id" uuid NOT NULL,
	"action" text NOT NULL,
	"actor_id" text,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "card_events_action_known" CHECK ("gift_cards"."card_events"."action" in ('ISSUED', 'DISABLED', 'ENABLED'))
);
--> statement-breakpoint
ALTER TABLE "gift_cards"."card_events" ADD CONSTRAINT "card_events_gift_card_id_gift_cards_id_fk" FOREIGN KEY ("gift_card_id") REFERENCES "gift_cards"."gift_cards"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "card_events_card_seq_idx" ON "gift_cards"."card_events" USING btree ("gift_card_id","seq");--> statement-breakpoint
-- The audit log is append-only, whatever the caller.
CREATE FUNCTION "gift_cards"."card_events_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'gift_cards.card_events is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "card_events_append_only"
  BEFORE UPDATE OR DELETE ON "gift_cards"."card_events"
  FOR EACH ROW EXECUTE FUNCTION "gift_cards"."card_events_refuse_change"();
--> statement-breakpoint
CREATE TRIGGER "card_events_no_truncate"
  BEFORE TRUNCATE ON "gift_cards"."card_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "gift_cards"."card_events_refuse_change"();
--> statement-breakpoint
-- The history already there: every card was issued by its created_by at its created_at; a
-- card disabled now was disabled at its disabled_at, by an admin no table recorded.
INSERT INTO "gift_cards"."card_events" (gift_card_id, action, actor_id, created_at)
  SELECT id, 'ISSUED', created_by, created_at FROM "gift_cards"."gift_cards" ORDER BY seq;
--> statement-breakpoint
INSERT INTO "gift_cards"."card_events" (gift_card_id, action, actor_id, created_at)
  SELECT id, 'DISABLED', NULL, disabled_at FROM "gift_cards"."gift_cards" WHERE disabled_at IS NOT NULL ORDER BY seq;
