CREATE TABLE "OrderItems" (
  "id" SERIAL PRIMARY KEY,
  "orderId" INTEGER REFERENCES "Orders"("id") ON DELETE CASCADE,
  "productId" INTEGER REFERENCES "Products"("id") ON DELETE SET NULL,
  "quantity" INTEGER NOT NULL,
  "price" DECIMAL(10,2) NOT NULL,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE INDEX "order_items_order_idx" ON "OrderItems" ("orderId");
CREATE INDEX "order_items_product_idx" ON "OrderItems" ("productId");
