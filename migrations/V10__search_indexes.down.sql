DROP INDEX "customers_email_trgm_idx";
DROP INDEX "customers_full_name_trgm_idx";
