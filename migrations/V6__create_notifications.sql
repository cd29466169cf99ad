CREATE TABLE "Notifications" (
  "id" SERIAL PRIMARY KEY,
  "type" VARCHAR(255) NOT NULL,
  "title" VARCHAR(255) NOT NULL,
  "message" TEXT NOT NULL,
  "data" JSONB,
  "priority" VARCHAR(255) DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
  "createdBy" INTEGER REFERENCES "Users"("id") ON DELETE SET NULL,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE INDEX "notifications_type_idx" ON "Notifications" ("type");
CREATE INDEX "notifications_priority_idx" ON "Notifications" ("priority");
CREATE INDEX "notifications_created_at_idx" ON "Notifications" ("createdAt");
