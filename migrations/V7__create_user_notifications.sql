CREATE TABLE "UserNotifications" (
  "id" SERIAL PRIMARY KEY,
  "userId" INTEGER REFERENCES "Users"("id") ON DELETE CASCADE,
  "notificationId" INTEGER REFERENCES "Notifications"("id") ON DELETE CASCADE,
  "isRead" BOOLEAN DEFAULT FALSE,
  "readAt" TIMESTAMP WITH TIME ZONE,
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE UNIQUE INDEX "user_notifications_unique_idx" ON "UserNotifications" ("userId", "notificationId");
CREATE INDEX "user_notifications_user_idx" ON "UserNotifications" ("userId");
CREATE INDEX "user_notifications_read_idx" ON "UserNotifications" ("isRead");
