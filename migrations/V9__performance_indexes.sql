-- The reference's performance indexes. It builds them CONCURRENTLY on a live database; refinery runs
-- each migration in a transaction, where CONCURRENTLY is not allowed, so they are built plainly here
-- (on an existing large database, build them by hand CONCURRENTLY first: IF NOT EXISTS keeps this
-- migration from failing on them).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX IF NOT EXISTS "orders_customer_date_idx" ON "Orders" ("customerId", "createdAt");
CREATE INDEX IF NOT EXISTS "products_name_trgm_idx" ON "Products" USING gin ("name" gin_trgm_ops);
CREATE INDEX IF NOT EXISTS "customers_name_trgm_idx" ON "Customers" USING gin (("firstName" || ' ' || "lastName") gin_trgm_ops);

-- Partial indexes for common queries
CREATE INDEX IF NOT EXISTS "orders_pending_idx" ON "Orders" ("createdAt") WHERE "status" = 'pending';
CREATE INDEX IF NOT EXISTS "products_low_stock_idx" ON "Products" ("stock") WHERE "stock" < 10;
