DROP TABLE "crm_customer_merges";
