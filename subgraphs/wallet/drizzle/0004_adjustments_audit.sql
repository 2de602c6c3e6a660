CREATE TABLE "wallet"."adjustments" (
	"wallet_entry_id" uuid PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"actor_id" text,
	CONSTRAINT "adjustments_seq_unique" UNIQUE("seq")
);
--> statement-breakpoint
ALTER TABLE "wallet"."adjustments" ADD CONSTRAINT "adjustments_wallet_entry_id_ledger_entries_id_fk" FOREIGN KEY ("wallet_entry_id") REFERENCES "wallet"."ledger_entries"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Append-only, whatever the caller, with the ledger's own refusal.
CREATE FUNCTION "wallet"."adjustments_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'wallet.adjustments is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "adjustments_append_only"
  BEFORE UPDATE OR DELETE ON "wallet"."adjustments"
  FOR EACH ROW EXECUTE FUNCTION "wallet"."adjustments_refuse_change"();
--> statement-breakpoint
CREATE TRIGGER "adjustments_no_truncate"
  BEFORE TRUNCATE ON "wallet"."adjustments"
  FOR EACH STATEMENT EXECUTE FUNCTION "wallet"."adjustments_refuse_change"();
--> statement-breakpoint
-- Adjustments made before this log: their admin was not recorded.
INSERT INTO "wallet"."adjustments" (wallet_entry_id, actor_id)
  SELECT id, NULL FROM "wallet"."ledger_entries" WHERE operation = 'adjustment' ORDER BY seq;
