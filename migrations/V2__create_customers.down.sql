DROP TABLE "Customers";
