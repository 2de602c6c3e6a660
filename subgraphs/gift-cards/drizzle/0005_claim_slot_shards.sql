-- A promotion's slots split over K counter rows (gift_cards.slot_shards = K, chosen at issue
-- by GIFT_CARD_SLOT_SHARDS), so its claims no longer all queue on the card's one row.
--
-- split_card_slots: gives each card that has K > 1 and no shards yet its K rows, holding
-- what it has left (usage_limit - redemption_count) in shares that differ by at most one.
-- Cards with K = 1 (every card issued before this migration among them) keep counting on
-- their own row, exactly as before: they need no conversion.
CREATE FUNCTION "gift_cards"."split_card_slots"(p_card_ids uuid[])
RETURNS integer
LANGUAGE sql AS $$
  WITH created AS (
    INSERT INTO "gift_cards"."card_slot_shards" (card_id, shard, capacity)
    SELECT c.id, s.shard,
      (c.usage_limit - c.redemption_count) / c.slot_shards
        + CASE WHEN s.shard < (c.usage_limit - c.redemption_count) % c.slot_shards THEN 1 ELSE 0 END
    FROM "gift_cards"."gift_cards" c
    CROSS JOIN LATERAL generate_series(0, c.slot_shards - 1) AS s(shard)
    WHERE c.id = ANY(p_card_ids) AND c.slot_shards > 1
    RETURNING 1
  )
  SELECT count(*)::integer FROM created;
$$;
--> statement-breakpoint
-- The claim of a sharded card; claim_slot hands it the card as it read it. Same outcomes as
-- claim_slot. Exact because `used` only ever grows: a shard seen full in a committed state is
-- full for good, so USED_UP is answered only once every shard has been seen full.
CREATE FUNCTION "gift_cards"."claim_sharded_slot"(p_card "gift_cards"."gift_cards", p_user_id text, p_lease_ms integer)
RETURNS TABLE (outcome text, redemption_id uuid, redemption_count integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_card "gift_cards"."gift_cards"%ROWTYPE := p_card;
  v_redemption_id uuid;
  v_start integer;
  v_shard integer;
  v_taken integer;
  v_count integer;
BEGIN
  -- Every shard full in the last committed state: refused without a write or a lock, so the
  -- rest of a burst after the last slot costs two index reads. Its own users still hear
  -- ALREADY_REDEEMED (a claim in flight holds a shard with room, so it is not this case).
  IF NOT EXISTS (SELECT 1 FROM "gift_cards"."card_slot_shards" s WHERE s.card_id = v_card.id AND s.used < s.capacity) THEN
    IF EXISTS (SELECT 1 FROM "gift_cards"."redemptions" r WHERE r.gift_card_id = v_card.id AND r.user_id = p_user_id) THEN
      RETURN QUERY SELECT 'ALREADY_REDEEMED'::text, NULL::uuid, NULL::integer;
    ELSE
      RETURN QUERY SELECT
        CASE
          WHEN v_card.disabled_at IS NOT NULL THEN 'DISABLED'
          WHEN v_card.expires_at IS NOT NULL AND v_card.expires_at <= now() THEN 'EXPIRED'
          ELSE 'USED_UP'
        END, NULL::uuid, NULL::integer;
    END IF;
    RETURN;
  END IF;
  -- A share lock on the card's row: it waits for an admin's change in progress (disabling,
  -- an expiry moved) and holds the next one off until this claim commits, so a claim never
  -- takes a slot of a card disabled before it; the other claims share it and never queue on it.
  SELECT * INTO v_card FROM "gift_cards"."gift_cards" c WHERE c.id = v_card.id FOR SHARE;
  -- The per-user rule first, as in claim_slot: a repeat waits for the first claim and collides with it.
  INSERT INTO "gift_cards"."redemptions" (gift_card_id, user_id, amount, currency_code, status, next_attempt_at)
  VALUES (v_card.id, p_user_id, v_card.value_amount, v_card.currency_code, 'PENDING', now() + make_interval(secs => p_lease_ms / 1000.0))
  ON CONFLICT (gift_card_id, user_id) DO NOTHING
  RETURNING id INTO v_redemption_id;
  IF v_redemption_id IS NULL THEN
    RETURN QUERY SELECT 'ALREADY_REDEEMED'::text, NULL::uuid, NULL::integer;
    RETURN;
  END IF;
  IF v_card.disabled_at IS NOT NULL OR (v_card.expires_at IS NOT NULL AND v_card.expires_at <= now()) THEN
    DELETE FROM "gift_cards"."redemptions" r WHERE r.id = v_redemption_id;
    RETURN QUERY SELECT CASE WHEN v_card.disabled_at IS NOT NULL THEN 'DISABLED' ELSE 'EXPIRED' END, NULL::uuid, NULL::integer;
    RETURN;
  END IF;
  v_start := floor(random() * v_card.slot_shards)::integer;
  LOOP
    -- A shard with room that no other claim holds, from a random one on: claims spread over
    -- the shards without waiting on each other.
    SELECT s.shard INTO v_shard FROM "gift_cards"."card_slot_shards" s
    WHERE s.card_id = v_card.id AND s.used < s.capacity
    ORDER BY (s.shard - v_start + v_card.slot_shards) % v_card.slot_shards
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF v_shard IS NOT NULL THEN
      UPDATE "gift_cards"."card_slot_shards" s SET used = s.used + 1 WHERE s.card_id = v_card.id AND s.shard = v_shard;
      v_taken := v_shard;
      EXIT;
    END IF;
    -- Every shard with room is held by another claim, which may take its last slot or not:
    -- wait for one. One wait per statement, on a shard this statement's snapshot still sees
    -- with room (taken after every lock this claim holds), so no two claims wait on each other.
    SELECT s.shard INTO v_shard FROM "gift_cards"."card_slot_shards" s
    WHERE s.card_id = v_card.id AND s.used < s.capacity
    ORDER BY (s.shard - v_start + v_card.slot_shards) % v_card.slot_shards
    LIMIT 1;
    EXIT WHEN v_shard IS NULL;
    UPDATE "gift_cards"."card_slot_shards" s SET used = s.used + 1
    WHERE s.card_id = v_card.id AND s.shard = v_shard AND s.used < s.capacity
    RETURNING s.shard INTO v_taken;
    EXIT WHEN v_taken IS NOT NULL;
    -- That shard filled meanwhile, for good: look again (at most once per shard).
  END LOOP;
  IF v_taken IS NULL THEN
    -- Every shard seen full: take back the redemption row, which no other transaction has seen.
    DELETE FROM "gift_cards"."redemptions" r WHERE r.id = v_redemption_id;
    RETURN QUERY SELECT 'USED_UP'::text, NULL::uuid, NULL::integer;
    RETURN;
  END IF;
  -- The count as this claim commits it: its own slot and every claim committed before.
  SELECT v_card.redemption_count + coalesce(sum(s.used), 0)::integer INTO v_count
  FROM "gift_cards"."card_slot_shards" s WHERE s.card_id = v_card.id;
  RETURN QUERY SELECT 'CLAIMED'::text, v_redemption_id, v_count;
END;
$$;
--> statement-breakpoint
-- claim_slot as in 0002_claim_slot.sql, with one branch added: a card with K > 1 slot shards
-- is claimed by claim_sharded_slot. A card with K = 1 takes exactly the path it took before.
CREATE OR REPLACE FUNCTION "gift_cards"."claim_slot"(p_card_id uuid, p_user_id text, p_lease_ms integer)
RETURNS TABLE (outcome text, redemption_id uuid, redemption_count integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_redemption_id uuid;
  v_count integer;
  v_card "gift_cards"."gift_cards"%ROWTYPE;
BEGIN
  SELECT * INTO v_card FROM "gift_cards"."gift_cards" c WHERE c.id = p_card_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'NOT_FOUND'::text, NULL::uuid, NULL::integer;
    RETURN;
  END IF;
  IF v_card.slot_shards > 1 THEN
    RETURN QUERY SELECT * FROM "gift_cards"."claim_sharded_slot"(v_card, p_user_id, p_lease_ms);
    RETURN;
  END IF;
  -- The per-user rule first, on the unique (card, user) index: a repeat waits for the first
  -- claim and collides with it, without touching the card's row.
  INSERT INTO "gift_cards"."redemptions" (gift_card_id, user_id, amount, currency_code, status, next_attempt_at)
  VALUES (p_card_id, p_user_id, v_card.value_amount, v_card.currency_code, 'PENDING', now() + make_interval(secs => p_lease_ms / 1000.0))
  ON CONFLICT (gift_card_id, user_id) DO NOTHING
  RETURNING id INTO v_redemption_id;
  IF v_redemption_id IS NULL THEN
    RETURN QUERY SELECT 'ALREADY_REDEEMED'::text, NULL::uuid, NULL::integer;
    RETURN;
  END IF;
  -- Then the one conditional increment that locks the card's row.
  UPDATE "gift_cards"."gift_cards" c SET redemption_count = c.redemption_count + 1
  WHERE c.id = p_card_id AND c.disabled_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now()) AND c.redemption_count < c.usage_limit
  RETURNING c.redemption_count INTO v_count;
  IF v_count IS NULL THEN
    -- No slot: take back the redemption row, which no other transaction has seen.
    DELETE FROM "gift_cards"."redemptions" r WHERE r.id = v_redemption_id;
    SELECT * INTO v_card FROM "gift_cards"."gift_cards" c WHERE c.id = p_card_id;
    RETURN QUERY SELECT
      CASE
        WHEN v_card.disabled_at IS NOT NULL THEN 'DISABLED'
        WHEN v_card.expires_at IS NOT NULL AND v_card.expires_at <= now() THEN 'EXPIRED'
        ELSE 'USED_UP'
      END, NULL::uuid, NULL::integer;
    RETURN;
  END IF;
  RETURN QUERY SELECT 'CLAIMED'::text, v_redemption_id, v_count;
END;
$$;
