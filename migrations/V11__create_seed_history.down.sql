DROP TABLE "crm_seed_history";
