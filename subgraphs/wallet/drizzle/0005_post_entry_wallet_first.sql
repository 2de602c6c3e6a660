-- wallet.post_entry takes the wallet's row before the idempotency key: every writer on a
-- wallet now locks in one order, the wallet's row (owners in order, when there are several)
-- and then the key. It took the key first and the row at its UPDATE, so a batch of credits
-- holding a wallet's row and going on to its next key could wait for a single credit that
-- had claimed that key and waited for the row: a deadlock, broken by PostgreSQL after
-- deadlock_timeout and retried, or under load a lock timeout that failed the credit.
-- A request whose key is already used waits for the row too now (a replay, or KEY_REUSED),
-- and a KEY_REUSED for an owner with no wallet leaves one, empty, as reading it would.
-- Otherwise unchanged: outcomes, refusals and columns are 0003's.
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
  -- The wallet's row first (created when the owner has none), then the key.
  PERFORM 1 FROM "wallet"."wallets" w WHERE w.owner_id = p_owner_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    INSERT INTO "wallet"."wallets" (owner_id, currency_code) VALUES (p_owner_id, p_default_currency)
      ON CONFLICT (owner_id) DO NOTHING;
    PERFORM 1 FROM "wallet"."wallets" w WHERE w.owner_id = p_owner_id FOR NO KEY UPDATE;
  END IF;
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
