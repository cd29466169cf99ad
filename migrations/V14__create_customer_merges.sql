-- crm's record of `crm customers merge`, from which `crm customers merge undo` puts a merge back:
-- when and by whom (the --as user), the kept customer as it was before and after, the deleted
-- customers' rows as they were (a JSON array of whole rows, ids included), and the orders moved
-- (a JSON array of {"id", "from"}). Ids are not foreign keys: the customers they name are gone,
-- and the user who merged may be deleted later.
CREATE TABLE "crm_customer_merges" (
  "id" SERIAL PRIMARY KEY,
  "mergedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  "mergedBy" INTEGER,
  "keepId" INTEGER NOT NULL,
  "keepBefore" JSONB NOT NULL,
  "keepAfter" JSONB,
  "deleted" JSONB NOT NULL,
  "movedOrders" JSONB NOT NULL,
  "undoneAt" TIMESTAMP WITH TIME ZONE
);
