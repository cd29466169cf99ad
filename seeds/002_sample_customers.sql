-- Sample customers. "totalPurchases" starts at 0.00: the orders seed sets it from their
-- completed orders.
WITH ins AS (
  INSERT INTO "Customers" ("firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt")
  VALUES
    ('John', 'Doe', 'john.doe@example.com', '+1-555-0101', '12 Main Street, Springfield', 0.00, now(), now()),
    ('Jane', 'Smith', 'jane.smith@example.com', '+1-555-0102', '34 Oak Avenue, Riverside', 0.00, now(), now()),
    ('Carlos', 'García', 'carlos.garcia@example.com', '+34 600 123 456', 'Calle Mayor 5, Madrid', 0.00, now(), now()),
    ('Aiko', 'Tanaka', 'aiko.tanaka@example.com', '+81 90 1234 5678', '2-1 Shibuya, Tokyo', 0.00, now(), now()),
    ('Fatima', 'Okafor', 'fatima.okafor@example.com', '+234 803 555 0199', '7 Marina Road, Lagos', 0.00, now(), now()),
    ('Liam', 'O''Brien', 'liam.obrien@example.com', '+353 87 555 0142', '3 Harbour View, Cork', 0.00, now(), now())
  RETURNING "id"
)
INSERT INTO crm_seeded ("table", "id") SELECT 'Customers', "id" FROM ins;
