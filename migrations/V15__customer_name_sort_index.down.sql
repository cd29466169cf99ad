DROP INDEX "customers_last_name_idx";
