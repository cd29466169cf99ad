DROP INDEX "user_notifications_notification_idx";
