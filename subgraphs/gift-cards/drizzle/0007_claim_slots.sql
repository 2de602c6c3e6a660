-- claim_slots: the claims of one card by a batch of users, in one statement and one commit.
-- gift-cards gathers the claims of a card that arrive while earlier batches are on their way
-- (natural batching, as it does for the wallet's credits), so a promotion's burst costs the
-- database one transaction, one walk over the card's counters and one commit per batch
-- instead of per winner, and far fewer claims contend for the same rows.
--
-- Each user of p_user_ids is answered in its place (ord, from 1) with what claim_slot would
-- answer it: the users are served in the array's order (the batch's arrival order), the
-- first ones taking the slots left. A user named twice in one batch claims once, and its
-- second place answers ALREADY_REDEEMED. One outcome more than claim_slot: RETRY, for the
-- users of a sharded card left without a slot while shards with room are held by other
-- claims; the caller sends each of them through claim_slot, which waits for those shards.
-- A batch waits for a shard only while it holds none (see below), so batches, claim_slot and
-- an admin's change never wait on each other in a circle.
--
-- Locks, in the order every claim takes them: the card's row in share mode (sharded cards:
-- an admin's change waits for the claim, and the claim for it); the users' redemption rows,
-- inserted in user order so two batches naming the same users wait in one direction; then
-- the counters: the card's own row (K = 1) or its shards (K > 1).
CREATE FUNCTION "gift_cards"."claim_slots"(p_card_id uuid, p_user_ids text[], p_lease_ms integer)
RETURNS TABLE (ord integer, outcome text, redemption_id uuid, redemption_count integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_card "gift_cards"."gift_cards"%ROWTYPE;
  -- The users who got a new redemption row, in the batch's order: their first place, their row.
  v_ords integer[];
  v_ids uuid[];
  v_need integer;
  v_taken integer := 0;
  -- The count the batch's first winner commits (each next winner one more).
  v_first integer;
  -- What the users left without a slot hear.
  v_refusal text := 'USED_UP';
  v_start integer;
  v_shard integer;
  v_room integer;
  v_take integer;
BEGIN
  SELECT * INTO v_card FROM "gift_cards"."gift_cards" c WHERE c.id = p_card_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT u.ord::integer, 'NOT_FOUND'::text, NULL::uuid, NULL::integer
      FROM unnest(p_user_ids) WITH ORDINALITY AS u(user_id, ord) ORDER BY u.ord;
    RETURN;
  END IF;
  IF v_card.slot_shards > 1 THEN
    -- Every shard full in the last committed state: refused without a write or a lock, as in
    -- claim_sharded_slot; the card's own users still hear ALREADY_REDEEMED.
    IF NOT EXISTS (SELECT 1 FROM "gift_cards"."card_slot_shards" s WHERE s.card_id = p_card_id AND s.used < s.capacity) THEN
      RETURN QUERY SELECT u.ord::integer,
        CASE
          WHEN EXISTS (SELECT 1 FROM "gift_cards"."redemptions" r WHERE r.gift_card_id = p_card_id AND r.user_id = u.user_id) THEN 'ALREADY_REDEEMED'
          WHEN v_card.disabled_at IS NOT NULL THEN 'DISABLED'
          WHEN v_card.expires_at IS NOT NULL AND v_card.expires_at <= now() THEN 'EXPIRED'
          ELSE 'USED_UP'
        END, NULL::uuid, NULL::integer
      FROM unnest(p_user_ids) WITH ORDINALITY AS u(user_id, ord) ORDER BY u.ord;
      RETURN;
    END IF;
    SELECT * INTO v_card FROM "gift_cards"."gift_cards" c WHERE c.id = p_card_id FOR SHARE;
  END IF;
  -- The per-user rule first, as in claim_slot: a user who already has a row (or whose other
  -- claim is committing one) collides with it and hears ALREADY_REDEEMED.
  WITH firsts AS (
    SELECT u.user_id, min(u.ord)::integer AS first_ord
    FROM unnest(p_user_ids) WITH ORDINALITY AS u(user_id, ord)
    GROUP BY u.user_id
  ), inserted AS (
    INSERT INTO "gift_cards"."redemptions" (gift_card_id, user_id, amount, currency_code, status, next_attempt_at)
    SELECT p_card_id, f.user_id, v_card.value_amount, v_card.currency_code, 'PENDING', now() + make_interval(secs => p_lease_ms / 1000.0)
    FROM firsts f
    ORDER BY f.user_id
    ON CONFLICT (gift_card_id, user_id) DO NOTHING
    RETURNING id AS new_id, user_id AS new_user_id
  )
  SELECT array_agg(f.first_ord ORDER BY f.first_ord), array_agg(i.new_id ORDER BY f.first_ord) INTO v_ords, v_ids
  FROM inserted i JOIN firsts f ON f.user_id = i.new_user_id;
  v_need := coalesce(array_length(v_ords, 1), 0);

  IF v_need > 0 AND v_card.slot_shards > 1 THEN
    IF v_card.disabled_at IS NOT NULL THEN
      v_refusal := 'DISABLED';
    ELSIF v_card.expires_at IS NOT NULL AND v_card.expires_at <= now() THEN
      v_refusal := 'EXPIRED';
    ELSE
      -- Shards with room that no other claim holds, from a random one on, each taken as far
      -- as the batch needs. When every shard with room is held by other claims and the batch
      -- holds none, it waits for one it still sees with room, as claim_sharded_slot does
      -- (whoever holds it waits for nothing this batch holds), then takes what it can of the
      -- others without waiting; holding a shard, it never waits again.
      v_start := floor(random() * v_card.slot_shards)::integer;
      LOOP
        LOOP
          SELECT s.shard, s.capacity - s.used INTO v_shard, v_room FROM "gift_cards"."card_slot_shards" s
          WHERE s.card_id = p_card_id AND s.used < s.capacity
          ORDER BY (s.shard - v_start + v_card.slot_shards) % v_card.slot_shards
          LIMIT 1
          FOR UPDATE SKIP LOCKED;
          EXIT WHEN v_shard IS NULL;
          v_take := least(v_room, v_need - v_taken);
          UPDATE "gift_cards"."card_slot_shards" s SET used = s.used + v_take WHERE s.card_id = p_card_id AND s.shard = v_shard;
          v_taken := v_taken + v_take;
          EXIT WHEN v_taken = v_need;
        END LOOP;
        EXIT WHEN v_taken > 0;
        SELECT s.shard INTO v_shard FROM "gift_cards"."card_slot_shards" s
        WHERE s.card_id = p_card_id AND s.used < s.capacity
        ORDER BY (s.shard - v_start + v_card.slot_shards) % v_card.slot_shards
        LIMIT 1;
        EXIT WHEN v_shard IS NULL;
        SELECT s.capacity - s.used INTO v_room FROM "gift_cards"."card_slot_shards" s
        WHERE s.card_id = p_card_id AND s.shard = v_shard AND s.used < s.capacity
        FOR UPDATE;
        -- Filled meanwhile, for good: look again (at most once per shard). Otherwise take it,
        -- and go round once more for the shards no one holds.
        IF v_room IS NOT NULL THEN
          v_taken := least(v_room, v_need);
          UPDATE "gift_cards"."card_slot_shards" s SET used = s.used + v_taken WHERE s.card_id = p_card_id AND s.shard = v_shard;
          EXIT WHEN v_taken = v_need;
        END IF;
      END LOOP;
      -- Users still without a slot: USED_UP once every shard is seen full (committed, or
      -- filled by this batch); otherwise some are held by claims that may not take them, and
      -- those users go through claim_slot, which waits (this batch, holding shards now, may not).
      IF v_taken < v_need AND EXISTS (SELECT 1 FROM "gift_cards"."card_slot_shards" s WHERE s.card_id = p_card_id AND s.used < s.capacity) THEN
        v_refusal := 'RETRY';
      END IF;
      SELECT v_card.redemption_count + coalesce(sum(s.used), 0)::integer - v_taken + 1 INTO v_first
      FROM "gift_cards"."card_slot_shards" s WHERE s.card_id = p_card_id;
    END IF;
  ELSIF v_need > 0 THEN
    -- One counter, the card's row: locked (as claim_slot's UPDATE locks it) until the commit.
    -- NO KEY UPDATE, as an UPDATE takes: the redemptions' foreign-key checks still pass it.
    SELECT * INTO v_card FROM "gift_cards"."gift_cards" c WHERE c.id = p_card_id FOR NO KEY UPDATE;
    IF v_card.disabled_at IS NOT NULL THEN
      v_refusal := 'DISABLED';
    ELSIF v_card.expires_at IS NOT NULL AND v_card.expires_at <= now() THEN
      v_refusal := 'EXPIRED';
    ELSE
      v_taken := greatest(0, least(v_need, v_card.usage_limit - v_card.redemption_count));
      IF v_taken > 0 THEN
        UPDATE "gift_cards"."gift_cards" c SET redemption_count = c.redemption_count + v_taken WHERE c.id = p_card_id;
      END IF;
      v_first := v_card.redemption_count + 1;
    END IF;
  END IF;
  IF v_taken < v_need THEN
    -- Take back the rows of the users left without a slot, which no other transaction has seen.
    DELETE FROM "gift_cards"."redemptions" r WHERE r.id = ANY (v_ids[v_taken + 1 : v_need]);
  END IF;
  RETURN QUERY
  SELECT u.ord::integer,
    CASE WHEN w.rank IS NULL THEN 'ALREADY_REDEEMED' WHEN w.rank <= v_taken THEN 'CLAIMED' ELSE v_refusal END,
    CASE WHEN w.rank <= v_taken THEN w.id END,
    CASE WHEN w.rank <= v_taken THEN v_first + w.rank::integer - 1 END
  FROM unnest(p_user_ids) WITH ORDINALITY AS u(user_id, ord)
  LEFT JOIN unnest(v_ords, v_ids) WITH ORDINALITY AS w(first_ord, id, rank) ON w.first_ord = u.ord
  ORDER BY u.ord;
END;
$$;
