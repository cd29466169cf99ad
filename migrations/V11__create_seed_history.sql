-- crm's record of the seeds it loaded (`crm db seed`): each seed once, with the checksum of its
-- text, and the ids it inserted per table (a JSON object of int4multirange texts, such as
-- {"Customers": "{[1,9)}"}), so that `crm db seed undo` removes exactly those rows.
CREATE TABLE "crm_seed_history" (
  "id" SERIAL PRIMARY KEY,
  "name" VARCHAR(255) UNIQUE NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "appliedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  "inserted" JSONB NOT NULL DEFAULT '{}'
);
