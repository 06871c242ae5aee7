CREATE TABLE "model_usage_months" (
	"workspace_id" uuid NOT NULL,
	"month" date NOT NULL,
	"tokens" bigint NOT NULL,
	"cost_usd" double precision NOT NULL,
	"requests" integer NOT NULL,
	CONSTRAINT "model_usage_months_workspace_id_month_pk" PRIMARY KEY("workspace_id","month")
);
--> statement-breakpoint
ALTER TABLE "model_usage_months" ADD CONSTRAINT "model_usage_months_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Months spent before this table existed, from the ledger rows still there.
INSERT INTO "model_usage_months" ("workspace_id", "month", "tokens", "cost_usd", "requests")
SELECT "workspace_id", date_trunc('month', "created_at" AT TIME ZONE 'utc')::date,
	sum("input_tokens" + "output_tokens"), sum("cost_usd"), count(*)
FROM "model_usage" GROUP BY 1, 2;
