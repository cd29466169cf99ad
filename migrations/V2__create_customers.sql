CREATE TABLE "Customers" (
  "id" SERIAL PRIMARY KEY,
  "firstName" VARCHAR(255),
  "lastName" VARCHAR(255),
  "email" VARCHAR(255),
  "phone" VARCHAR(255),
  "address" TEXT,
  "totalPurchases" DECIMAL(10,2) DEFAULT 0.00,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE INDEX "customers_email_idx" ON "Customers" ("email");
CREATE INDEX "customers_phone_idx" ON "Customers" ("phone");
CREATE INDEX "customers_name_idx" ON "Customers" ("firstName", "lastName");
