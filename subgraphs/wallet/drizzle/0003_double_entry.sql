CREATE TABLE "wallet"."system_entries" (
	"wallet_entry_id" uuid PRIMARY KEY NOT NULL,
	"account" text NOT NULL,
	"currency_code" text NOT NULL,
	"amount" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "system_entries_amount_not_zero" CHECK ("wallet"."system_entries"."amount" <> 0),
	CONSTRAINT "system_entries_account_known" CHECK ("wallet"."system_entries"."account" in ('GIFT_CARDS', 'SPENDING', 'ADJUSTMENTS'))
);
--> statement-breakpoint
ALTER TABLE "wallet"."system_entries" ADD CONSTRAINT "system_entries_wallet_entry_id_ledger_entries_id_fk" FOREIGN KEY ("wallet_entry_id") REFERENCES "wallet"."ledger_entries"("id") ON DELETE no action ON UPDATE no action;

--> statement-breakpoint
-- Double entry: system entries are append-only like the ledger.
CREATE TRIGGER "system_entries_append_only"
  BEFORE UPDATE OR DELETE ON "wallet"."system_entries"
  FOR EACH ROW EXECUTE FUNCTION "wallet"."ledger_entries_refuse_change"();
--> statement-breakpoint
CREATE TRIGGER "system_entries_no_truncate"
  BEFORE TRUNCATE ON "wallet"."system_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION "wallet"."ledger_entries_refuse_change"();
--> statement-breakpoint
-- Which system account is the other side of a wallet entry's operation (a transfer has none:
-- its two wallet entries are each other's other side).
CREATE FUNCTION "wallet"."system_account_of"(p_operation text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE p_operation WHEN 'credit' THEN 'GIFT_CARDS' WHEN 'spend' THEN 'SPENDING' WHEN 'adjustment' THEN 'ADJUSTMENTS' END
$$;
--> statement-breakpoint
-- The history already there gets its other side: every credit (from a gift card) and every
-- spend posted before double entry, dated as its wallet entry.
INSERT INTO "wallet"."system_entries" (wallet_entry_id, account, currency_code, amount, created_at)
  SELECT e.id, "wallet"."system_account_of"(e.operation), e.currency_code,
    CASE WHEN e.kind = 'CREDIT' THEN -e.amount ELSE e.amount END, e.created_at
  FROM "wallet"."ledger_entries" e
  WHERE e.operation <> 'transfer'
    AND NOT EXISTS (SELECT 1 FROM "wallet"."system_entries" s WHERE s.wallet_entry_id = e.id);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "wallet"."post_entry"(
  p_scope text, p_key text, p_request_hash text, p_owner_id text, p_default_currency text,
  p_kind text, p_amount bigint, p_currency_code text, p_description text, p_operation text,
  p_max_balance bigint
)
RETURNS TABLE (
  outcome text,
  entry_id uuid, entry_seq text, entry_wallet_id uuid, entry_kind text, entry_amount text,
  entry_balance_after text, entry_currency_code text, entry_description text, entry_operation text,
  entry_idempotency_key text, entry_counterparty_wallet_id uuid, entry_created_at timestamptz,
  wallet_id uuid, wallet_owner_id text, wallet_currency_code text, wallet_balance text,
  wallet_created_at timestamptz, wallet_updated_at timestamptz
)
LANGUAGE plpgsql AS $$
DECLARE
  v_claimed text;
  v_existing "wallet"."idempotency_keys"%ROWTYPE;
  v_entry "wallet"."ledger_entries"%ROWTYPE;
  v_wallet "wallet"."wallets"%ROWTYPE;
BEGIN
  INSERT INTO "wallet"."idempotency_keys" (scope, key, request_hash) VALUES (p_scope, p_key, p_request_hash)
    ON CONFLICT DO NOTHING RETURNING key INTO v_claimed;
  IF v_claimed IS NULL THEN
    SELECT * INTO v_existing FROM "wallet"."idempotency_keys" k WHERE k.scope = p_scope AND k.key = p_key;
    IF v_existing.request_hash IS DISTINCT FROM p_request_hash THEN
      RETURN QUERY SELECT 'KEY_REUSED'::text, NULL::uuid, NULL::text, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text,
        NULL::text, NULL::text, NULL::text, NULL::uuid, NULL::timestamptz, NULL::uuid, NULL::text, NULL::text, NULL::text,
        NULL::timestamptz, NULL::timestamptz;
      RETURN;
    END IF;
    IF v_existing.entry_id IS NULL THEN
      RAISE EXCEPTION 'idempotency key %/% has no result', p_scope, p_key;
    END IF;
    SELECT * INTO STRICT v_entry FROM "wallet"."ledger_entries" e WHERE e.id = v_existing.entry_id;
    SELECT * INTO STRICT v_wallet FROM "wallet"."wallets" w WHERE w.id = v_entry.wallet_id;
    RETURN QUERY SELECT 'REPLAYED'::text, v_entry.id, v_entry.seq::text, v_entry.wallet_id, v_entry.kind, v_entry.amount::text,
      v_entry.balance_after::text, v_entry.currency_code, v_entry.description, v_entry.operation, v_entry.idempotency_key,
      v_entry.counterparty_wallet_id, v_entry.created_at, v_wallet.id, v_wallet.owner_id, v_wallet.currency_code,
      v_wallet.balance::text, v_wallet.created_at, v_wallet.updated_at;
    RETURN;
  END IF;

  INSERT INTO "wallet"."wallets" (owner_id, currency_code) VALUES (p_owner_id, p_default_currency)
    ON CONFLICT (owner_id) DO NOTHING;
  IF p_kind = 'CREDIT' THEN
    UPDATE "wallet"."wallets" w SET balance = w.balance + p_amount, updated_at = now()
      WHERE w.owner_id = p_owner_id AND w.currency_code = p_currency_code AND w.balance <= p_max_balance - p_amount
      RETURNING * INTO v_wallet;
  ELSE
    UPDATE "wallet"."wallets" w SET balance = w.balance - p_amount, updated_at = now()
      WHERE w.owner_id = p_owner_id AND w.currency_code = p_currency_code AND w.balance >= p_amount
      RETURNING * INTO v_wallet;
  END IF;
  IF v_wallet.id IS NULL THEN
    -- Nothing changed: say why, and undo the key (and a wallet just created) with the statement.
    SELECT * INTO STRICT v_wallet FROM "wallet"."wallets" w WHERE w.owner_id = p_owner_id;
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = CASE
      WHEN v_wallet.currency_code <> p_currency_code THEN 'CURRENCY_MISMATCH:' || v_wallet.currency_code
      WHEN p_kind = 'CREDIT' THEN 'MAX_BALANCE'
      ELSE 'INSUFFICIENT_FUNDS' END;
  END IF;
  INSERT INTO "wallet"."ledger_entries" (wallet_id, kind, amount, balance_after, currency_code, description, operation, idempotency_key)
    VALUES (v_wallet.id, p_kind, p_amount, v_wallet.balance, v_wallet.currency_code, p_description, p_operation, p_key)
    RETURNING * INTO v_entry;
  -- The other side, on the system account the operation names (double entry): no row is
  -- locked for it, the account's balance being the sum of its entries.
  INSERT INTO "wallet"."system_entries" (wallet_entry_id, account, currency_code, amount)
    VALUES (v_entry.id, "wallet"."system_account_of"(p_operation), v_entry.currency_code,
      CASE WHEN p_kind = 'CREDIT' THEN -p_amount ELSE p_amount END);
  UPDATE "wallet"."idempotency_keys" k SET entry_id = v_entry.id WHERE k.scope = p_scope AND k.key = p_key;
  RETURN QUERY SELECT 'POSTED'::text, v_entry.id, v_entry.seq::text, v_entry.wallet_id, v_entry.kind, v_entry.amount::text,
    v_entry.balance_after::text, v_entry.currency_code, v_entry.description, v_entry.operation, v_entry.idempotency_key,
    v_entry.counterparty_wallet_id, v_entry.created_at, v_wallet.id, v_wallet.owner_id, v_wallet.currency_code,
    v_wallet.balance::text, v_wallet.created_at, v_wallet.updated_at;
END;
$$;
--> statement-breakpoint
-- The books per currency (Query.ledgerReport, `giftpay reconcile`, the imbalance gauge): what
-- the wallets hold, what gift cards paid in, what was spent, the adjustments (credits minus
-- debits) and the imbalance, walletsTotal - giftCardsRedeemed + spent - adjustments, which is
-- the sum of every account's balance and 0 when the books balance. Then two counts that must
-- be 0: wallets whose stored balance is not the sum of their entries, and wallet entries
-- (other than transfers) without their other side. Amounts as text, exactly.
CREATE FUNCTION "wallet"."ledger_report"()
RETURNS TABLE (
  currency_code text, wallets_total text, gift_cards_redeemed text, spent text, adjustments text, imbalance text,
  wallets_off_their_entries bigint, entries_without_other_side bigint
)
LANGUAGE sql STABLE AS $$
  WITH wallet_totals AS (
    SELECT w.currency_code, sum(w.balance) AS total FROM "wallet"."wallets" w GROUP BY w.currency_code
  ), system_totals AS (
    SELECT s.currency_code,
      coalesce(-sum(s.amount) FILTER (WHERE s.account = 'GIFT_CARDS'), 0) AS gift_cards,
      coalesce(sum(s.amount) FILTER (WHERE s.account = 'SPENDING'), 0) AS spent,
      coalesce(-sum(s.amount) FILTER (WHERE s.account = 'ADJUSTMENTS'), 0) AS adjustments
    FROM "wallet"."system_entries" s GROUP BY s.currency_code
  ), entry_sums AS (
    SELECT e.wallet_id, sum(CASE WHEN e.kind = 'CREDIT' THEN e.amount ELSE -e.amount END) AS total
    FROM "wallet"."ledger_entries" e GROUP BY e.wallet_id
  ), off AS (
    SELECT w.currency_code, count(*) AS n FROM "wallet"."wallets" w LEFT JOIN entry_sums t ON t.wallet_id = w.id
    WHERE w.balance <> coalesce(t.total, 0) GROUP BY w.currency_code
  ), missing AS (
    SELECT e.currency_code, count(*) AS n FROM "wallet"."ledger_entries" e
    LEFT JOIN "wallet"."system_entries" s ON s.wallet_entry_id = e.id
    WHERE e.operation <> 'transfer' AND (s.wallet_entry_id IS NULL OR s.currency_code <> e.currency_code
      OR s.amount <> CASE WHEN e.kind = 'CREDIT' THEN -e.amount ELSE e.amount END)
    GROUP BY e.currency_code
  ), currencies AS (
    SELECT w.currency_code FROM wallet_totals w UNION SELECT s.currency_code FROM system_totals s UNION SELECT m.currency_code FROM missing m
  )
  SELECT c.currency_code,
    coalesce(w.total, 0)::text, coalesce(s.gift_cards, 0)::text, coalesce(s.spent, 0)::text, coalesce(s.adjustments, 0)::text,
    (coalesce(w.total, 0) - coalesce(s.gift_cards, 0) + coalesce(s.spent, 0) - coalesce(s.adjustments, 0))::text,
    coalesce(o.n, 0), coalesce(m.n, 0)
  FROM currencies c
  LEFT JOIN wallet_totals w ON w.currency_code = c.currency_code
  LEFT JOIN system_totals s ON s.currency_code = c.currency_code
  LEFT JOIN off o ON o.currency_code = c.currency_code
  LEFT JOIN missing m ON m.currency_code = c.currency_code
  ORDER BY c.currency_code
$$;
