DROP TABLE "OrderItems";
