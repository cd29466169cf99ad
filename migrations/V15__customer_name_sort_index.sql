-- `crm customers list --sort lastName` orders by the last name, then by "id": with this index it
-- reads the first rows in that order instead of sorting the whole table (a top-N sort over a
-- million customers, ten times longer at ten million). `--sort -lastName` reads it backwards,
-- sorting only the customers of one last name by id.
CREATE INDEX IF NOT EXISTS "customers_last_name_idx" ON "Customers" ("lastName", "id");
