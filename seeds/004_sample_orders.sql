-- Sample orders with their items, placed by the seeded staff user for the seeded customers.
-- Then, as `crm orders create` and `set-status` would have left them: each item has its
-- product's price, each total is the sum of its items, the stock of every order not cancelled
-- was taken, and each customer's "totalPurchases" is the sum of its completed orders. Only rows
-- the seeds inserted are touched (found through crm_seed_rows, the seed history's ids).
-- "status" has the type of "Orders"."status" (VARCHAR, or the original application's ENUM).
CREATE TEMP TABLE crm_sample_items ON COMMIT DROP AS
  SELECT 0::int AS "order", ''::text AS "customer", "status", ''::text AS "product", 0::int AS "quantity"
  FROM "Orders" WITH NO DATA;
INSERT INTO crm_sample_items VALUES
  (1, 'john.doe@example.com', 'completed', 'Laptop Pro 14', 1),
  (1, 'john.doe@example.com', 'completed', 'Wireless Mouse', 2),
  (2, 'jane.smith@example.com', 'completed', 'Office Chair', 2),
  (2, 'jane.smith@example.com', 'completed', 'Notebook A5', 10),
  (3, 'john.doe@example.com', 'processing', 'Mechanical Keyboard', 1),
  (4, 'carlos.garcia@example.com', 'pending', 'Standing Desk', 1),
  (4, 'carlos.garcia@example.com', 'pending', 'USB-C Hub', 1),
  (4, 'carlos.garcia@example.com', 'pending', 'Gel Pens (10)', 3),
  (5, 'aiko.tanaka@example.com', 'cancelled', 'Laptop Pro 14', 1),
  (6, 'fatima.okafor@example.com', 'completed', 'Gel Pens (10)', 5),
  (6, 'fatima.okafor@example.com', 'completed', 'Notebook A5', 4);

CREATE TEMP TABLE crm_sample_orders ON COMMIT DROP AS
WITH ins AS (
  INSERT INTO "Orders" ("customerId", "createdBy", "status", "total", "notes", "createdAt", "updatedAt")
  SELECT c."id", u."id", o."status", 0.00, 'sample order ' || o."order", now(), now()
  FROM (SELECT DISTINCT "order", "customer", "status" FROM crm_sample_items) o
  JOIN "Customers" c ON c."email" = o."customer"
    AND c."id" IN (SELECT "id" FROM crm_seed_rows WHERE "seed" = '002_sample_customers' AND "table" = 'Customers')
  JOIN "Users" u ON u."email" = 'staff@geminicrm.com'
    AND u."id" IN (SELECT "id" FROM crm_seed_rows WHERE "seed" = '001_admin_users' AND "table" = 'Users')
  ORDER BY o."order"
  RETURNING "id", "notes"
)
SELECT "id", substr("notes", length('sample order ') + 1)::int AS "order" FROM ins;
INSERT INTO crm_seeded ("table", "id") SELECT 'Orders', "id" FROM crm_sample_orders;

WITH ins AS (
  INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
  SELECT o."id", p."id", i."quantity", p."price", now(), now()
  FROM crm_sample_items i
  JOIN crm_sample_orders o ON o."order" = i."order"
  JOIN "Products" p ON p."name" = i."product"
    AND p."id" IN (SELECT "id" FROM crm_seed_rows WHERE "seed" = '003_sample_products' AND "table" = 'Products')
  ORDER BY i."order", i."product"
  RETURNING "id"
)
INSERT INTO crm_seeded ("table", "id") SELECT 'OrderItems', "id" FROM ins;

UPDATE "Orders" o SET "total" = s."sum"
FROM (SELECT i."orderId", sum(i."quantity" * i."price") AS "sum"
      FROM "OrderItems" i JOIN crm_sample_orders so ON so."id" = i."orderId"
      GROUP BY i."orderId") s
WHERE o."id" = s."orderId";

UPDATE "Products" p SET "stock" = p."stock" - s."taken"
FROM (SELECT i."productId", sum(i."quantity") AS "taken"
      FROM "OrderItems" i JOIN crm_sample_orders so ON so."id" = i."orderId"
      JOIN "Orders" o ON o."id" = i."orderId" AND o."status" <> 'cancelled'
      GROUP BY i."productId") s
WHERE p."id" = s."productId";

UPDATE "Customers" c SET "totalPurchases" = s."sum"
FROM (SELECT o."customerId", sum(o."total") AS "sum"
      FROM "Orders" o JOIN crm_sample_orders so ON so."id" = o."id"
      WHERE o."status" = 'completed'
      GROUP BY o."customerId") s
WHERE c."id" = s."customerId";
