DROP TABLE "NotificationPreferences";
