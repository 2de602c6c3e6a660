CREATE SCHEMA "wallet";
--> statement-breakpoint
CREATE TABLE "wallet"."idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"entry_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE TABLE "wallet"."ledger_entries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"wallet_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"balance_after" bigint NOT NULL,
	"currency_code" text NOT NULL,
	"description" text NOT NULL,
	"operation" text NOT NULL,
	"idempotency_key" text,
	"counterparty_wallet_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_entries_seq_unique" UNIQUE("seq"),
	CONSTRAINT "ledger_entries_amount_positive" CHECK ("wallet"."ledger_entries"."amount" > 0),
	CONSTRAINT "ledger_entries_balance_after_not_negative" CHECK ("wallet"."ledger_entries"."balance_after" >= 0)
);
--> statement-breakpoint
CREATE TABLE "wallet"."wallets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" text NOT NULL,
	"currency_code" text NOT NULL,
	"balance" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "wallets_owner_id_unique" UNIQUE("owner_id"),
	CONSTRAINT "wallets_balance_not_negative" CHECK ("wallet"."wallets"."balance" >= 0)
);
--> statement-breakpoint
ALTER TABLE "wallet"."idempotency_keys" ADD CONSTRAINT "idempotency_keys_entry_id_ledger_entries_id_fk" FOREIGN KEY ("entry_id") REFERENCES "wallet"."ledger_entries"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallet"."ledger_entries" ADD CONSTRAINT "ledger_entries_wallet_id_wallets_id_fk" FOREIGN KEY ("wallet_id") REFERENCES "wallet"."wallets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallet"."ledger_entries" ADD CONSTRAINT "ledger_entries_counterparty_wallet_id_wallets_id_fk" FOREIGN KEY ("counterparty_wallet_id") REFERENCES "wallet"."wallets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ledger_entries_wallet_seq_idx" ON "wallet"."ledger_entries" USING btree ("wallet_id","seq" DESC NULLS LAST);