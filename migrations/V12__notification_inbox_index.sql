-- The inbox entries of one notification: the cascade delete of `crm notify prune` and the
-- per-notification counts of `crm notify list` and `show` scanned the table, whose only other
-- indexes start with "userId".
CREATE INDEX IF NOT EXISTS "user_notifications_notification_idx" ON "UserNotifications" ("notificationId");
