CREATE TABLE "Orders" (
  "id" SERIAL PRIMARY KEY,
  "customerId" INTEGER REFERENCES "Customers"("id") ON DELETE SET NULL,
  "createdBy" INTEGER REFERENCES "Users"("id") ON DELETE SET NULL,
  "status" VARCHAR(255) DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'cancelled')),
  "total" DECIMAL(10,2) NOT NULL,
  "notes" TEXT,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE INDEX "orders_customer_idx" ON "Orders" ("customerId");
CREATE INDEX "orders_status_idx" ON "Orders" ("status");
CREATE INDEX "orders_created_by_idx" ON "Orders" ("createdBy");
CREATE INDEX "orders_date_idx" ON "Orders" ("createdAt");
