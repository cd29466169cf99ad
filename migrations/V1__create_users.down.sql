-- A database adopted from the Sequelize application also has the ENUM type of its "role" column.
DROP TABLE "Users";
DROP TYPE IF EXISTS "enum_Users_role";
