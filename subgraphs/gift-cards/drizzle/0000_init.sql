CREATE SCHEMA "gift_cards";
--> statement-breakpoint
CREATE TABLE "gift_cards"."gift_cards" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"code_hash" text NOT NULL,
	"last4" text NOT NULL,
	"value_amount" bigint NOT NULL,
	"currency_code" text NOT NULL,
	"usage_limit" integer NOT NULL,
	"redemption_count" integer DEFAULT 0 NOT NULL,
	"disabled_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gift_cards_seq_unique" UNIQUE("seq"),
	CONSTRAINT "gift_cards_code_hash_unique" UNIQUE("code_hash"),
	CONSTRAINT "gift_cards_value_positive" CHECK ("gift_cards"."gift_cards"."value_amount" > 0),
	CONSTRAINT "gift_cards_usage_limit_positive" CHECK ("gift_cards"."gift_cards"."usage_limit" >= 1),
	CONSTRAINT "gift_cards_redemption_count_in_range" CHECK ("gift_cards"."gift_cards"."redemption_count" between 0 and "gift_cards"."gift_cards"."usage_limit")
);
--> statement-breakpoint
CREATE TABLE "gift_cards"."redemptions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"gift_card_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency_code" text NOT NULL,
	"status" text NOT NULL,
	"wallet_transaction_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"credited_at" timestamp with time zone,
	CONSTRAINT "redemptions_seq_unique" UNIQUE("seq"),
	CONSTRAINT "redemptions_one_per_user" UNIQUE("gift_card_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "gift_cards"."redemptions" ADD CONSTRAINT "redemptions_gift_card_id_gift_cards_id_fk" FOREIGN KEY ("gift_card_id") REFERENCES "gift_cards"."gift_cards"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "redemptions_user_seq_idx" ON "gift_cards"."redemptions" USING btree ("user_id","seq" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "redemptions_pending_due_idx" ON "gift_cards"."redemptions" USING btree ("next_attempt_at") WHERE "gift_cards"."redemptions"."status" = 'PENDING';