-- Sample products, with their stock before the sample orders take theirs.
WITH ins AS (
  INSERT INTO "Products" ("name", "description", "price", "stock", "category", "image", "createdAt", "updatedAt")
  VALUES
    ('Laptop Pro 14', '14-inch laptop, 16 GB RAM, 512 GB SSD', 1299.00, 25, 'Electronics', NULL, now(), now()),
    ('Wireless Mouse', 'Ergonomic mouse, USB receiver', 24.99, 200, 'Electronics', NULL, now(), now()),
    ('Mechanical Keyboard', 'Tenkeyless, brown switches', 89.50, 60, 'Electronics', NULL, now(), now()),
    ('Office Chair', 'Mesh back, adjustable arms', 249.00, 15, 'Furniture', NULL, now(), now()),
    ('Standing Desk', 'Electric, 140 x 70 cm', 499.00, 8, 'Furniture', NULL, now(), now()),
    ('Notebook A5', 'Dotted, 120 pages', 4.75, 500, 'Stationery', NULL, now(), now()),
    ('Gel Pens (10)', 'Assorted colours', 7.20, 300, 'Stationery', NULL, now(), now()),
    ('USB-C Hub', '7 ports, 100 W passthrough', 39.90, 5, 'Electronics', NULL, now(), now())
  RETURNING "id"
)
INSERT INTO crm_seeded ("table", "id") SELECT 'Products', "id" FROM ins;
