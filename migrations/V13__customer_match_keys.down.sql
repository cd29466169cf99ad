DROP INDEX "customers_phone_key_idx";
DROP INDEX "customers_email_key_idx";
