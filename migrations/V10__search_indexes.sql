-- crm's own addition to the reference's indexes: `crm customers list --search` matches the name
-- (served by customers_name_trgm_idx) or the e-mail, which this trigram index serves, so that a
-- search on a large table never scans it.
CREATE INDEX IF NOT EXISTS "customers_email_trgm_idx" ON "Customers" USING gin ("email" gin_trgm_ops);
