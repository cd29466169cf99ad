-- The reference's admin and staff users. Their password's bcrypt hash is not in this file: crm
-- sets it for the transaction (`crm.seed_password_hash`) from --password-stdin,
-- CRM_SEED_PASSWORD, or a password it generates and prints once.
WITH ins AS (
  INSERT INTO "Users" ("firstName", "lastName", "email", "password", "role", "createdAt", "updatedAt")
  VALUES
    ('Admin', 'User', 'admin@geminicrm.com', current_setting('crm.seed_password_hash'), 'admin', now(), now()),
    ('Staff', 'User', 'staff@geminicrm.com', current_setting('crm.seed_password_hash'), 'staff', now(), now())
  RETURNING "id"
)
INSERT INTO crm_seeded ("table", "id") SELECT 'Users', "id" FROM ins;
