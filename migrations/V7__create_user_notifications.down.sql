DROP TABLE "UserNotifications";
