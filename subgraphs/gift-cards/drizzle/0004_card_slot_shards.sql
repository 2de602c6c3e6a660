CREATE TABLE "gift_cards"."card_slot_shards" (
	"card_id" uuid NOT NULL,
	"shard" integer NOT NULL,
	"capacity" integer NOT NULL,
	"used" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "card_slot_shards_pkey" PRIMARY KEY("card_id","shard"),
	CONSTRAINT "card_slot_shards_used_in_range" CHECK ("gift_cards"."card_slot_shards"."used" between 0 and "gift_cards"."card_slot_shards"."capacity")
);
--> statement-breakpoint
ALTER TABLE "gift_cards"."gift_cards" ADD COLUMN "slot_shards" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "gift_cards"."card_slot_shards" ADD CONSTRAINT "card_slot_shards_card_id_gift_cards_id_fk" FOREIGN KEY ("card_id") REFERENCES "gift_cards"."gift_cards"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gift_cards"."gift_cards" ADD CONSTRAINT "gift_cards_slot_shards_in_range" CHECK ("gift_cards"."gift_cards"."slot_shards" between 1 and least(64, "gift_cards"."gift_cards"."usage_limit"));