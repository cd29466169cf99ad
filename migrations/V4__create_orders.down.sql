-- A database adopted from the Sequelize application also has the ENUM type of its "status" column.
DROP TABLE "Orders";
DROP TYPE IF EXISTS "enum_Orders_status";
