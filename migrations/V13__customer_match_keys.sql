-- The keys `crm customers duplicates` compares customers by: the e-mail trimmed and lower-cased,
-- and the phone's last ten digits (its other characters dropped). With these, the duplicates of
-- one customer (`--customer ID`) are found by index lookups rather than by reading the table.
CREATE INDEX IF NOT EXISTS "customers_email_key_idx" ON "Customers" (lower(btrim("email")));
CREATE INDEX IF NOT EXISTS "customers_phone_key_idx" ON "Customers"
  (right(regexp_replace("phone", '\D', '', 'g'), 10));
