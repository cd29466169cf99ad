DROP INDEX "customers_email_trgm_idx";
