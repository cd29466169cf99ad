-- The pg_trgm extension stays: other objects of the database may use it, and dropping it is not
-- ours to decide. Migrating again finds it there (CREATE EXTENSION IF NOT EXISTS).
DROP INDEX "products_low_stock_idx";
DROP INDEX "orders_pending_idx";
DROP INDEX "customers_name_trgm_idx";
DROP INDEX "products_name_trgm_idx";
DROP INDEX "orders_customer_date_idx";
