-- A database adopted from the Sequelize application also has the ENUM type of its "priority" column.
DROP TABLE "Notifications";
DROP TYPE IF EXISTS "enum_Notifications_priority";
