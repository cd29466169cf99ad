# The notify section: fanning one notification out to every user (the whole crm process) against
# psql running the same one statement. Sourced by scripts/bench.sh (see there for what it gets).
#
# The data set: USERS users (default 10,000; not ROWS: a CRM has staff, not millions), a third
# of them with the type turned off and a fifth with e-mail on; the same rows every run. Each
# run adds USERS inbox rows, as a real send would.
USERS=${USERS:-10000}
DB=$(new_db crm_bench_notify)

echo "bench: generating $USERS users and their preferences" >&2
psql -X -q -v ON_ERROR_STOP=1 "$DB" <<SQL
INSERT INTO "Users" ("firstName", "lastName", "email", "password", "role", "createdAt", "updatedAt")
SELECT 'User', 'N' || i, 'user' || i || '@example.com', 'not-a-hash',
       CASE WHEN i % 10 = 0 THEN 'admin' ELSE 'staff' END,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, $USERS) AS i;
INSERT INTO "NotificationPreferences" ("userId", "notificationType", "enabled", "emailEnabled",
                                       "createdAt", "updatedAt")
SELECT "id", 'general', "id" % 3 <> 0, "id" % 5 = 0, now(), now() FROM "Users";
VACUUM ANALYZE;
SQL

# What crm notify send --all does, as one psql statement.
SEND_SQL='WITH "notification" AS (
    INSERT INTO "Notifications" ("type", "title", "message", "priority", "createdAt", "updatedAt")
    VALUES ('"'general'"', '"'t'"', '"'m'"', '"'medium'"', now(), now()) RETURNING "id"
), "audience" AS (
    SELECT u."id", u."email", COALESCE(p."enabled", true) AS "enabled",
           COALESCE(p."emailEnabled", false) AS "emailEnabled"
    FROM "Users" u LEFT JOIN "NotificationPreferences" p
      ON p."userId" = u."id" AND p."notificationType" = '"'general'"'
), "delivered" AS (
    INSERT INTO "UserNotifications" ("userId", "notificationId", "isRead", "createdAt", "updatedAt")
    SELECT a."id", n."id", false, now(), now() FROM "audience" a CROSS JOIN "notification" n
    WHERE a."enabled" RETURNING "userId"
)
SELECT (SELECT "id" FROM "notification"), (SELECT count(*) FROM "delivered"),
       (SELECT count(*) FROM "audience" WHERE NOT "enabled"),
       ARRAY(SELECT "email" FROM "audience" WHERE "enabled" AND "emailEnabled" ORDER BY "id")'

echo "bench: notify send --all" >&2
read -r crm_send crm_send_kb < <(measure "$CRM" -q --database-url "$DB" notify send --type general --title t --message m --all)
read -r psql_send _ < <(measure psql -X -q "$DB" -c "$SEND_SQL")

header "Notifications ($USERS users, a third with the type turned off; other: psql running the same SQL)"
row "notify send --all ($USERS users)" "$crm_send" "$crm_send_kb" "$psql_send"
