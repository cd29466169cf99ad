DROP TABLE "Products";
