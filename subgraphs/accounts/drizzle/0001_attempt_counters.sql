CREATE TABLE "accounts"."attempt_counters" (
	"subject" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "attempt_counters_pkey" PRIMARY KEY("subject","window_start")
);
