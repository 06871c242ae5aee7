CREATE TABLE "credential_encryption" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"key_version" integer DEFAULT 1 NOT NULL,
	"rotated_at" timestamp with time zone,
	CONSTRAINT "credential_encryption_single_row" CHECK ("credential_encryption"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"settings" jsonb NOT NULL,
	"sealed_secret" text NOT NULL,
	"key_version" integer NOT NULL,
	"hint" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_workspace_name_idx" ON "credentials" USING btree ("workspace_id",lower("name"));--> statement-breakpoint
-- The key version new secrets are sealed with starts at 1; `npm run credentials:rotate` moves it on.
INSERT INTO "credential_encryption" ("id", "key_version") VALUES (1, 1);
