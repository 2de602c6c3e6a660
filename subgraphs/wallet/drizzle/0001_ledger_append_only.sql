-- The ledger is append-only: entries are never updated or deleted, whatever the caller.
CREATE FUNCTION "wallet"."ledger_entries_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'wallet.ledger_entries is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "ledger_entries_append_only"
  BEFORE UPDATE OR DELETE ON "wallet"."ledger_entries"
  FOR EACH ROW EXECUTE FUNCTION "wallet"."ledger_entries_refuse_change"();
--> statement-breakpoint
CREATE TRIGGER "ledger_entries_no_truncate"
  BEFORE TRUNCATE ON "wallet"."ledger_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION "wallet"."ledger_entries_refuse_change"();
