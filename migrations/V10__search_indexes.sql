-- crm's own additions to the reference's indexes, for `crm customers list --search`, which matches
-- the full name or the e-mail. The reference's customers_name_trgm_idx is built on
-- ("firstName" || ' ' || "lastName"), which is NULL when either part is: a customer with only a
-- first name could not be found by name. This index is built on the NULL-safe full name, and a
-- second one serves the e-mail, so that a search on a large table never scans it.
CREATE INDEX IF NOT EXISTS "customers_full_name_trgm_idx" ON "Customers"
  USING gin ((coalesce("firstName", '') || ' ' || coalesce("lastName", '')) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS "customers_email_trgm_idx" ON "Customers" USING gin ("email" gin_trgm_ops);
