CREATE TABLE "Products" (
  "id" SERIAL PRIMARY KEY,
  "name" VARCHAR(255) NOT NULL,
  "description" TEXT,
  "price" DECIMAL(10,2) NOT NULL,
  "stock" INTEGER DEFAULT 0,
  "category" VARCHAR(255),
  "image" VARCHAR(255),
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE INDEX "products_name_idx" ON "Products" ("name");
CREATE INDEX "products_category_idx" ON "Products" ("category");
CREATE INDEX "products_stock_idx" ON "Products" ("stock");
