-- Claims one slot of a gift card for a user in one statement, so the card's row (the hot
-- row of a promotion) is locked only from the UPDATE below to the commit that ends the
-- statement, never across a round trip to the application.
-- Outcome: CLAIMED (with the redemption id and the new count), ALREADY_REDEEMED, USED_UP,
-- DISABLED, EXPIRED or NOT_FOUND.
CREATE FUNCTION "gift_cards"."claim_slot"(p_card_id uuid, p_user_id text, p_lease_ms integer)
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
