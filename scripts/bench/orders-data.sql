-- The orders data set of scripts/bench/orders.sh and backup.sh, for psql with the variables rows
-- and products: rows customers, products products, rows orders of 1-5 items each (about 3 on
-- average), 60% completed, spread over two years; the same rows every run.
INSERT INTO "Customers" ("firstName", "lastName", "email", "totalPurchases", "createdAt", "updatedAt")
SELECT (ARRAY['Ada','Bruno','Chloé','Dmitri','Eve','Farah'])[1 + i % 6],
       (ARRAY['Smith','Jones','García','Müller','Nakamura','Okafor','Rossi'])[1 + (i / 6) % 7],
       'customer' || i || '@example.com', 0.00,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, :rows) AS i;
-- Product 1 has stock for every order the benchmark places.
INSERT INTO "Products" ("name", "price", "stock", "category", "createdAt", "updatedAt")
SELECT 'Product ' || i, ((i % 10000) + 99) / 100.0, CASE WHEN i = 1 THEN 1000000000 ELSE i % 200 END,
       (ARRAY['books','tools','games','food'])[1 + i % 4],
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, :products) AS i;
-- Order i has 1 + i % 5 items; item k is product 1 + (13 i + 101 k) % PRODUCTS, quantity
-- 1 + (i + k) % 4, at that product's price; the order's total is the sum of its items.
INSERT INTO "Orders" ("customerId", "status", "total", "createdAt", "updatedAt")
SELECT 1 + (i::int8 * 7919) % :rows,
       (ARRAY['completed','completed','completed','completed','completed','completed',
              'pending','pending','processing','cancelled'])[1 + (i * 31) % 10],
       (SELECT sum((1 + (i + k) % 4) * (((1 + (i::int8 * 13 + k * 101) % :products) % 10000) + 99) / 100.0)
        FROM generate_series(1, 1 + i % 5) AS k)::numeric(10,2),
       timestamptz '2024-01-01 00:00:00+00' + ((i::int8 * 63072000) / :rows || ' seconds')::interval,
       timestamptz '2024-01-01 00:00:00+00' + ((i::int8 * 63072000) / :rows || ' seconds')::interval
FROM generate_series(1, :rows) AS i;
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
SELECT o.i, 1 + (o.i::int8 * 13 + k * 101) % :products, 1 + (o.i + k) % 4,
       (((1 + (o.i::int8 * 13 + k * 101) % :products) % 10000) + 99) / 100.0,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, :rows) AS o(i), generate_series(1, 1 + o.i % 5) AS k;
VACUUM ANALYZE;
