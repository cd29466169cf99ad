//! `crm notify send | list | show | read | prefs | prune | low-stock | stale-orders`: fan-out
//! with preferences, inboxes and read state, preferences, and the cron jobs. Given these rows,
//! running this command prints that and leaves those rows.

use crate::harness::{Output, TestDb, count, label_type, sql};
use serde_json::{Value, json};

/// Four users, two admins and two staff, and the preferences for `order_created` of three
/// kinds: Bob turned it off, Carol wants it by e-mail too, Dan's row has NULLs (the defaults);
/// Alice has no row.
const USERS: &str = r#"
INSERT INTO "Users" ("id", "firstName", "lastName", "email", "password", "role",
                     "createdAt", "updatedAt") VALUES
  (1, 'Alice', 'Admin', 'alice@example.com', 'not-a-hash', 'admin',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Bob', 'Staff', 'bob@example.com', 'not-a-hash', 'staff',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 'Carol', 'Staff', 'carol@example.com', 'not-a-hash', 'staff',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (4, 'Dan', 'Admin', 'dan@example.com', 'not-a-hash', 'admin',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Users_id_seq"', 4);
INSERT INTO "NotificationPreferences" ("userId", "notificationType", "enabled", "emailEnabled",
                                       "createdAt", "updatedAt") VALUES
  (2, 'order_created', false, true, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 'order_created', true, true, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (4, 'order_created', NULL, NULL, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
"#;

/// Three notifications at fixed times in the inboxes of Bob (all three; the low-stock one read)
/// and Carol (the newest, its isRead NULL: unread).
const INBOXES: &str = r#"
INSERT INTO "Notifications" ("id", "type", "title", "message", "data", "priority", "createdBy",
                             "createdAt", "updatedAt") VALUES
  (1, 'order_created', 'Order 1', 'Ada ordered', '{"orderId": 1}', 'medium', 1,
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'low_stock', 'Low', 'Book is low', NULL, 'high', NULL,
   '2025-07-02T09:30:00Z', '2025-07-02T09:30:00Z'),
  (3, 'order_created', 'Order 2', 'Grace ordered', NULL, 'low', 1,
   '2025-07-03T09:30:00Z', '2025-07-03T09:30:00Z');
SELECT setval('"Notifications_id_seq"', 3);
INSERT INTO "UserNotifications" ("userId", "notificationId", "isRead", "readAt",
                                 "createdAt", "updatedAt") VALUES
  (2, 1, false, NULL, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 2, true, '2025-07-02T10:00:00Z', '2025-07-02T09:30:00Z', '2025-07-02T10:00:00Z'),
  (2, 3, false, NULL, '2025-07-03T09:30:00Z', '2025-07-03T09:30:00Z'),
  (3, 3, NULL, NULL, '2025-07-03T09:30:00Z', '2025-07-03T09:30:00Z');
"#;

fn with_users() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, USERS);
    db
}

fn with_inboxes() -> TestDb {
    let db = with_users();
    sql(&db, INBOXES);
    db
}

/// The one JSON value a command printed.
fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{out}"))
}

/// The ids of the users who have notification `id` in their inbox, in order.
fn recipients_of(db: &TestDb, id: i64) -> Vec<i32> {
    db.client()
        .query(
            r#"SELECT "userId" FROM "UserNotifications" WHERE "notificationId" = $1::int8::int4
               ORDER BY "userId""#,
            &[&id],
        )
        .expect("read the recipients")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `crm -o json notify send --type T --title T --message M ARGS...`, which must succeed.
fn send(db: &TestDb, kind: &str, args: &[&str]) -> Value {
    let out = db
        .crm()
        .args(["-o", "json", "notify", "send", "--type", kind])
        .args(["--title", "An order", "--message", "Ada ordered a book"])
        .args(args)
        .run();
    out.assert_success();
    json_of(&out)
}

#[test]
fn send_to_all_skips_disabled_lists_email_recipients_and_treats_no_row_as_enabled() {
    let db = with_users();
    let out = db
        .crm()
        .args(["-o", "json", "--as", "ALICE@example.com", "notify", "send"])
        .args(["--type", "order_created", "--title", "Order 12"])
        .args(["--message", "Ada ordered a book", "--priority", "high"])
        .args(["--data", r#"{"orderId": 12}"#, "--all"])
        .run();
    out.assert_success().assert_stderr_contains(
        "sent notification 1 (order_created) to 3 users; 1 skipped by preference; 1 asked for e-mail",
    );
    assert_eq!(
        json_of(&out),
        json!({"id": 1, "type": "order_created", "recipients": 3, "skipped": 1,
               "emailRecipients": ["carol@example.com"]})
    );
    // Bob turned it off; Alice (no row) and Dan (NULLs) get it as the defaults say.
    assert_eq!(recipients_of(&db, 1), vec![1, 3, 4]);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "UserNotifications" WHERE "isRead" = false
               AND "readAt" IS NULL AND "createdAt" IS NOT NULL AND "updatedAt" IS NOT NULL"#
        ),
        3
    );
    let row = db
        .client()
        .query_one(
            r#"SELECT "type", "title", "message", "data"::text, "priority"::text, "createdBy"
               FROM "Notifications""#,
            &[],
        )
        .expect("read the notification");
    let got: (String, String, String, String, String, Option<i32>) = (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
    );
    assert_eq!(
        got,
        (
            "order_created".into(),
            "Order 12".into(),
            "Ada ordered a book".into(),
            r#"{"orderId": 12}"#.into(),
            "high".into(),
            Some(1)
        )
    );

    // CSV lists the e-mail recipients separated by spaces.
    db.crm()
        .args(["notify", "send", "--type", "order_created", "--title", "t"])
        .args(["--message", "m", "--all"])
        .run()
        .assert_success()
        .assert_stdout_eq(
            "id,type,recipients,skipped,emailRecipients\n2,order_created,3,1,carol@example.com\n",
        );
}

#[test]
fn send_to_a_role_or_to_named_users_by_id_or_email() {
    let db = with_users();
    let admins = send(&db, "general", &["--role", "admin"]);
    assert_eq!(admins["recipients"], 2);
    assert_eq!(recipients_of(&db, 1), vec![1, 4]);

    let staff = send(&db, "general", &["--role", "staff"]);
    assert_eq!(recipients_of(&db, 2), vec![2, 3]);
    assert_eq!(staff["skipped"], 0);

    // Several after one --to and --to repeated; one user named twice is one recipient.
    let named = send(
        &db,
        "general",
        &["--to", "4", "CAROL@Example.com", "--to", "dan@example.com"],
    );
    assert_eq!(named["recipients"], 2);
    assert_eq!(recipients_of(&db, 3), vec![3, 4]);

    // Bob, named, still has order_created turned off.
    let bob = send(&db, "order_created", &["--to", "bob@example.com", "1"]);
    assert_eq!(
        (bob["recipients"].clone(), bob["skipped"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(recipients_of(&db, 4), vec![1]);
}

#[test]
fn send_to_an_unknown_user_writes_nothing_and_exits_3() {
    let db = with_users();
    db.crm()
        .args([
            "notify",
            "send",
            "--type",
            "general",
            "--title",
            "t",
            "--message",
            "m",
        ])
        .args(["--to", "1", "nobody@example.com"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("user \"nobody@example.com\" does not exist");
    db.crm()
        .args([
            "--as", "99", "notify", "send", "--type", "general", "--title", "t",
        ])
        .args(["--message", "m", "--all"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("--as names no CRM user");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Notifications""#), 0);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "UserNotifications""#), 0);
}

#[test]
fn send_refuses_bad_input_with_exit_2_and_writes_nothing() {
    let db = with_users();
    let long_title = "t".repeat(256);
    // Each case replaces one flag of a good command line, or adds one.
    let cases: &[(&str, &str, &str)] = &[
        (
            "--data",
            "[1, 2]",
            "must be a JSON object ({...}), got an array",
        ),
        ("--data", r#"{"orderId": "#, "not JSON: EOF while parsing"),
        (
            "--type",
            "Order-Created",
            "not a notification type: \"Order-Created\"",
        ),
        ("--title", &long_title, "at most 255 characters, got 256"),
        ("--message", " ", "must not be empty"),
        (
            "--priority",
            "urgent",
            "invalid value 'urgent' for '--priority",
        ),
        ("--role", "admin", "cannot be used with"),
    ];
    for (flag, value, message) in cases {
        let mut args = vec![
            ("--type", "general"),
            ("--title", "t"),
            ("--message", "m"),
            ("--data", "{}"),
        ];
        match args.iter_mut().find(|(f, _)| f == flag) {
            Some(arg) => arg.1 = value,
            None => args.push((flag, value)),
        }
        let mut crm = db.crm();
        crm.args(["notify", "send", "--all"]);
        for (f, v) in args {
            crm.args([f, v]);
        }
        crm.run().assert_code(2).assert_stderr_contains(message);
    }
    db.crm()
        .args([
            "notify",
            "send",
            "--type",
            "general",
            "--title",
            "t",
            "--message",
            "m",
        ])
        .run()
        .assert_code(2)
        .assert_stderr_contains("<--to <USER>...|--role <ROLE>|--all>");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Notifications""#), 0);
}

/// PostgreSQL's jsonb refuses `\u0000` anywhere, in a key too: crm refuses it first, naming
/// `--data` and where it is, and writes nothing; the six characters `\u0000` as text are fine.
#[test]
fn send_refuses_data_with_a_nul_character_that_jsonb_cannot_store() {
    let db = with_users();
    let send = |data: &str| {
        db.crm()
            .args(["notify", "send", "--all", "--type", "general"])
            .args(["--title", "t", "--message", "m", "--data", data])
            .run()
    };
    let cases = [
        (r#"{"a":"\u0000"}"#, "at $.a"),
        (
            r#"{"orderId": 1, "items": [{"note": "ok"}, {"note": "x\u0000y"}]}"#,
            "at $.items[1].note",
        ),
        (
            r#"{"a": {"b\u0000c": 1}}"#,
            r#"in the key "b\u0000c" at $.a"#,
        ),
    ];
    for (data, place) in cases {
        send(data)
            .assert_code(2)
            .assert_stderr_contains("invalid value")
            .assert_stderr_contains("for '--data <JSON>': contains \\u0000 (a NUL character)")
            .assert_stderr_contains(place);
    }
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Notifications""#), 0);

    send(r#"{"a":"\\u0000"}"#).assert_success();
    let stored: String = db
        .client()
        .query_one(r#"SELECT "data"->>'a' FROM "Notifications""#, &[])
        .unwrap()
        .get(0);
    assert_eq!(stored, r"\u0000");
}

const INBOX_HEADER: &str =
    "id,type,title,message,priority,data,createdBy,isRead,readAt,createdAt\n";
const BOB_3: &str = "3,order_created,Order 2,Grace ordered,low,,1,false,,2025-07-03T09:30:00Z\n";
const BOB_2: &str =
    "2,low_stock,Low,Book is low,high,,,true,2025-07-02T10:00:00Z,2025-07-02T09:30:00Z\n";
const BOB_1: &str = "1,order_created,Order 1,Ada ordered,medium,\"{\"\"orderId\"\":1}\",1,false,,2025-07-01T09:30:00Z\n";

#[test]
fn an_inbox_is_newest_first_with_read_state_and_filters() {
    let db = with_inboxes();
    let list = |args: &[&str]| {
        let out = db
            .crm()
            .args(["notify", "list", "--user", "BOB@example.com"])
            .args(args)
            .run();
        out.assert_success();
        out.stdout
    };
    assert_eq!(list(&[]), format!("{INBOX_HEADER}{BOB_3}{BOB_2}{BOB_1}"));
    assert_eq!(list(&["--unread"]), format!("{INBOX_HEADER}{BOB_3}{BOB_1}"));
    assert_eq!(
        list(&["--type", "low_stock"]),
        format!("{INBOX_HEADER}{BOB_2}")
    );
    assert_eq!(
        list(&["--since", "2025-07-02"]),
        format!("{INBOX_HEADER}{BOB_3}{BOB_2}")
    );
    assert_eq!(
        list(&["--limit", "1", "--offset", "1"]),
        format!("{INBOX_HEADER}{BOB_2}")
    );

    // Carol's entry has isRead NULL: unread.
    db.crm()
        .args(["notify", "list", "--user", "3", "--unread"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!(
            "{INBOX_HEADER}3,order_created,Order 2,Grace ordered,low,,1,false,,2025-07-03T09:30:00Z\n"
        ));
    db.crm()
        .args(["notify", "list", "--user", "nobody@example.com"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("user \"nobody@example.com\" does not exist");
    db.crm()
        .args(["notify", "list", "--unread"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--user");
}

#[test]
fn list_without_a_user_counts_recipients_and_reads_and_show_names_each_recipient() {
    let db = with_inboxes();
    db.crm()
        .args(["notify", "list"])
        .run()
        .assert_success()
        .assert_stdout_eq(
            "id,type,title,priority,createdBy,recipients,readCount,createdAt\n\
             3,order_created,Order 2,low,1,2,0,2025-07-03T09:30:00Z\n\
             2,low_stock,Low,high,,1,1,2025-07-02T09:30:00Z\n\
             1,order_created,Order 1,medium,1,1,0,2025-07-01T09:30:00Z\n",
        );
    let out = db.crm().args(["-o", "json", "notify", "show", "2"]).run();
    out.assert_success();
    assert_eq!(
        json_of(&out),
        json!({"id": 2, "type": "low_stock", "title": "Low", "message": "Book is low",
               "priority": "high", "data": null, "createdBy": null,
               "createdAt": "2025-07-02T09:30:00Z", "updatedAt": "2025-07-02T09:30:00Z",
               "recipients": [{"userId": 2, "email": "bob@example.com", "isRead": true,
                               "readAt": "2025-07-02T10:00:00Z"}]})
    );
    db.crm()
        .args(["notify", "show", "9"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("notification 9 does not exist");
}

/// Bob's inbox entry for notification `id`: (isRead, readAt as text).
fn entry(db: &TestDb, user: i32, id: i32) -> (Option<bool>, Option<String>) {
    let row = db
        .client()
        .query_one(
            r#"SELECT "isRead", "readAt"::text FROM "UserNotifications"
               WHERE "userId" = $1 AND "notificationId" = $2"#,
            &[&user, &id],
        )
        .expect("read the entry");
    (row.get(0), row.get(1))
}

#[test]
fn reading_marks_once_and_a_second_read_keeps_the_first_read_at() {
    let db = with_inboxes();
    db.crm()
        .args(["notify", "read", "1", "--user", "bob@example.com"])
        .run()
        .assert_success()
        .assert_stdout_eq("userId,marked\n2,1\n")
        .assert_stderr_contains("marked notification 1 read for user 2 (bob@example.com)");
    let (read, first_at) = entry(&db, 2, 1);
    assert_eq!(read, Some(true));
    assert!(first_at.is_some());

    db.crm()
        .args(["notify", "read", "1", "--user", "2"])
        .run()
        .assert_success()
        .assert_stdout_eq("userId,marked\n2,0\n")
        .assert_stderr_contains("already read by user 2 (bob@example.com) at ");
    assert_eq!(entry(&db, 2, 1), (Some(true), first_at.clone()));

    // The fixture's read entry keeps its readAt too; the unread one is marked.
    db.crm()
        .args(["notify", "read", "--all", "--user", "2"])
        .run()
        .assert_success()
        .assert_stdout_eq("userId,marked\n2,1\n")
        .assert_stderr_contains("marked 1 notification read for user 2");
    assert_eq!(
        entry(&db, 2, 2),
        (Some(true), Some("2025-07-02 10:00:00+00".into()))
    );
    assert_eq!(entry(&db, 2, 1), (Some(true), first_at));
    assert_eq!(entry(&db, 2, 3).0, Some(true));
    // Carol's entry is hers: untouched.
    assert_eq!(entry(&db, 3, 3), (None, None));

    db.crm()
        .args(["notify", "read", "9", "--user", "2"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("notification 9 does not exist");
    db.crm()
        .args(["notify", "read", "1", "--user", "carol@example.com"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("notification 1 was not sent to user 3 (carol@example.com)");
    db.crm()
        .args(["notify", "read", "1", "--user", "nobody@example.com"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("user \"nobody@example.com\" does not exist");
    db.crm()
        .args(["notify", "read", "1", "--all", "--user", "2"])
        .run()
        .assert_code(2);
}

#[test]
fn prefs_show_the_rows_and_upsert_several_types_in_one_call() {
    let db = with_users();
    db.crm()
        .args(["-o", "table", "notify", "prefs", "dan@example.com"])
        .run()
        .assert_success()
        // updatedAt is a wide column: a table leaves it out.
        .assert_stdout_contains("│ order_created    ┆ true    ┆ false        │")
        .assert_stdout_contains("any other type: enabled, no e-mail (the defaults)");

    // A new type takes the defaults for what is not given; an existing row keeps what is not.
    let out = db
        .crm()
        .args(["-o", "json", "notify", "prefs", "2"])
        .args(["--set", "order_created=on", "--email", "low_stock=on"])
        .args(["--set", "stale_orders=off"])
        .run();
    out.assert_success()
        .assert_stderr_contains("updated 3 preferences of user 2 (bob@example.com)");
    let prefs: Vec<(Value, Value, Value)> = json_of(&out)
        .as_array()
        .expect("an array")
        .iter()
        .map(|p| {
            (
                p["notificationType"].clone(),
                p["enabled"].clone(),
                p["emailEnabled"].clone(),
            )
        })
        .collect();
    assert_eq!(
        prefs,
        vec![
            (json!("low_stock"), json!(true), json!(true)),
            (json!("order_created"), json!(true), json!(true)),
            (json!("stale_orders"), json!(false), json!(false)),
        ]
    );
    // Again: still one row per type (the unique index), the values changed.
    db.crm()
        .args([
            "notify",
            "prefs",
            "bob@example.com",
            "--email",
            "order_created=off",
        ])
        .args(["--set", "low_stock=off"])
        .run()
        .assert_success();
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "NotificationPreferences" WHERE "userId" = 2"#
        ),
        3
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "NotificationPreferences" WHERE "userId" = 2
               AND (("notificationType" = 'order_created' AND "enabled" AND NOT "emailEnabled")
                 OR ("notificationType" = 'low_stock' AND NOT "enabled" AND "emailEnabled"))"#
        ),
        2
    );
    db.crm()
        .args(["notify", "prefs", "2", "--set", "low_stock=maybe"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("\"maybe\" is neither on nor off");
    db.crm()
        .args(["notify", "prefs", "99", "--set", "low_stock=on"])
        .run()
        .assert_code(3);
}

#[test]
fn prune_deletes_old_notifications_with_their_inbox_entries() {
    let db = with_inboxes();
    // 1 and 2 are old; 2 is read by everyone; a fresh one stays whatever happens.
    sql(
        &db,
        r#"UPDATE "Notifications" SET "createdAt" = now() WHERE "id" = 3"#,
    );
    db.crm()
        .args(["notify", "prune", "--older-than", "90d", "--dry-run"])
        .run()
        .assert_success()
        .assert_stdout_eq("notifications,entries,dryRun\n2,2,true\n")
        .assert_stderr_contains(
            "would delete 2 notifications older than 90 days (and their 2 inbox entries)",
        );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Notifications""#), 3);

    db.crm()
        .args(["notify", "prune", "--older-than", "90d", "--read-only"])
        .run()
        .assert_success()
        .assert_stdout_eq("notifications,entries,dryRun\n1,1,false\n");
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Notifications" WHERE "id" = 2"#
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "UserNotifications" WHERE "notificationId" = 2"#
        ),
        0
    );

    db.crm()
        .args(["notify", "prune", "--older-than", "12w"])
        .run()
        .assert_success()
        .assert_stdout_eq("notifications,entries,dryRun\n1,1,false\n")
        .assert_stderr_contains(
            "deleted 1 notification older than 12 weeks (and their 1 inbox entry)",
        );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Notifications""#), 1);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "UserNotifications""#), 2);

    db.crm()
        .args(["notify", "prune", "--older-than", "90 days"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--older-than");
}

const PRODUCTS: &str = r#"
INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt") VALUES
  (1, 'Sweet', 0.10, 100, now(), now()),
  (2, 'Book', 19.99, 3, now(), now()),
  (3, 'Gadget', 24.50, 0, now(), now());
SELECT setval('"Products_id_seq"', 3);
"#;

fn low_stock(db: &TestDb) -> Output {
    let out = db.crm().args(["-o", "json", "notify", "low-stock"]).run();
    out.assert_success();
    out
}

fn alerts(db: &TestDb, kind: &str) -> i64 {
    count(
        db,
        &format!(r#"SELECT count(*) FROM "Notifications" WHERE "type" = '{kind}'"#),
    )
}

#[test]
fn low_stock_alerts_the_admins_once_until_something_changes_or_everyone_read_it() {
    let db = with_users();
    sql(&db, PRODUCTS);
    let first = low_stock(&db);
    assert_eq!(
        json_of(&first),
        json!({"id": 1, "type": "low_stock", "recipients": 2, "skipped": 0, "emailRecipients": []})
    );
    assert_eq!(recipients_of(&db, 1), vec![1, 4]);
    let row = db
        .client()
        .query_one(
            r#"SELECT "title", "message", "priority"::text, "data" - 'fingerprint',
                      length("data"->>'fingerprint')
               FROM "Notifications" WHERE "id" = 1"#,
            &[],
        )
        .expect("read the alert");
    let (title, message, priority, data, fingerprint): (String, String, String, Value, i32) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(title, "2 products under 10 in stock");
    assert_eq!(
        message,
        "products have fewer than 10 in stock:\n- Book (id 2): 3 in stock\n- Gadget (id 3): 0 in stock"
    );
    assert_eq!(priority, "high");
    assert_eq!(
        data,
        json!({"threshold": 10, "products": [{"id": 2, "name": "Book", "stock": 3},
                                             {"id": 3, "name": "Gadget", "stock": 0}]})
    );
    assert_eq!(fingerprint, 64);

    // Nothing changed: nothing new, and it says so.
    low_stock(&db).assert_stdout_eq("").assert_stderr_contains(
        "low stock: nothing changed since notification 1, which is still unread",
    );
    assert_eq!(alerts(&db, "low_stock"), 1);

    // A product going low is news.
    sql(&db, r#"UPDATE "Products" SET "stock" = 5 WHERE "id" = 1"#);
    assert_eq!(json_of(&low_stock(&db))["id"], 2);
    low_stock(&db).assert_stdout_eq("");
    assert_eq!(alerts(&db, "low_stock"), 2);

    // Read by one admin only: still unread by the other, so nothing new.
    db.crm()
        .args(["notify", "read", "2", "--user", "1"])
        .run()
        .assert_success();
    low_stock(&db).assert_stdout_eq("");
    // Read by everyone: the next run alerts again.
    db.crm()
        .args(["notify", "read", "2", "--user", "4"])
        .run()
        .assert_success();
    assert_eq!(json_of(&low_stock(&db))["id"], 3);
    assert_eq!(alerts(&db, "low_stock"), 3);
}

#[test]
fn low_stock_with_nothing_low_or_no_admin_to_tell_creates_nothing() {
    let db = with_users();
    sql(&db, PRODUCTS);
    db.crm()
        .args(["notify", "low-stock", "--threshold", "0"])
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains("no product has fewer than 0 in stock: no alert");
    sql(
        &db,
        r#"INSERT INTO "NotificationPreferences" ("userId", "notificationType", "enabled",
               "createdAt", "updatedAt")
           VALUES (1, 'low_stock', false, now(), now()), (4, 'low_stock', false, now(), now())"#,
    );
    db.crm()
        .args(["notify", "low-stock"])
        .run()
        .assert_success()
        .assert_stderr_contains("no admin user would receive the alert");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Notifications""#), 0);
}

#[test]
fn stale_orders_alerts_once_and_again_when_another_order_goes_stale() {
    let db = with_users();
    sql(
        &db,
        r#"INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "createdAt", "updatedAt")
             VALUES (1, 'Ada', 'Lovelace', 'ada@example.com', now(), now());
           INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt") VALUES
             (1, 1, 'pending', 20.29, '2025-07-01T09:30:00Z', now()),
             (2, 1, 'completed', 5.00, '2025-07-01T09:30:00Z', now()),
             (3, NULL, NULL, 7.50, '2025-07-02T09:30:00Z', now()),
             (4, 1, 'pending', 1.00, now() - interval '1 day', now());"#,
    );
    let out = db
        .crm()
        .args(["-o", "json", "notify", "stale-orders"])
        .run();
    out.assert_success();
    assert_eq!(json_of(&out)["recipients"], 2);
    let row = db
        .client()
        .query_one(
            r#"SELECT "title", "message", "data"->'orders', "priority"::text FROM "Notifications"
               WHERE "id" = 1"#,
            &[],
        )
        .expect("read the alert");
    let (title, message, orders, priority): (String, String, Value, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(priority, "medium");
    assert_eq!(title, "2 orders pending for longer than 3 days");
    assert_eq!(
        message,
        "orders are pending for longer than 3 days:\n\
         - order 1 of customer 1 (Ada Lovelace), total 20.29, pending since 2025-07-01T09:30:00Z\n\
         - order 3 of no customer, total 7.50, pending since 2025-07-02T09:30:00Z"
    );
    assert_eq!(
        orders,
        json!([{"id": 1, "customerId": 1, "total": "20.29", "createdAt": "2025-07-01T09:30:00Z"},
               {"id": 3, "customerId": null, "total": "7.50", "createdAt": "2025-07-02T09:30:00Z"}])
    );
    db.crm()
        .args(["notify", "stale-orders", "--older-than", "3d"])
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains(
            "stale orders: nothing changed since notification 1, which is still unread",
        );
    assert_eq!(alerts(&db, "stale_orders"), 1);
    // With a shorter age, order 4 is stale too: a new alert.
    db.crm()
        .args(["notify", "stale-orders", "--older-than", "12h"])
        .run()
        .assert_success()
        .assert_stdout_contains("2,stale_orders,2,0,");
    assert_eq!(alerts(&db, "stale_orders"), 2);
    // No longer pending: nothing to alert of.
    sql(
        &db,
        r#"UPDATE "Orders" SET "status" = 'cancelled' WHERE "id" IN (1, 3, 4)"#,
    );
    db.crm()
        .args(["notify", "stale-orders"])
        .run()
        .assert_success()
        .assert_stderr_contains("no order is pending for longer than 3 days: no alert");
    assert_eq!(alerts(&db, "stale_orders"), 2);
}

#[test]
fn two_low_stock_runs_at_once_create_one_notification() {
    let db = with_users();
    sql(&db, PRODUCTS);
    for round in 1..=3 {
        let (mut a, mut b) = (db.crm(), db.crm());
        a.args(["notify", "low-stock"]);
        b.args(["notify", "low-stock"]);
        let (child_a, child_b) = (a.spawn(), b.spawn());
        let (out_a, out_b) = (a.wait(child_a), b.wait(child_b));
        out_a.assert_success();
        out_b.assert_success();
        // One of them alerted, the other found its alert.
        let created = [&out_a, &out_b]
            .iter()
            .filter(|o| o.stdout.contains("low_stock"))
            .count();
        assert_eq!(created, 1, "round {round}\n{out_a}\n{out_b}");
        assert_eq!(alerts(&db, "low_stock"), round);
        // Everyone reads it, so the next round alerts again.
        sql(
            &db,
            r#"UPDATE "UserNotifications" SET "isRead" = true, "readAt" = now()"#,
        );
    }
}

/// The `sql:` lines `crm -v notify send --all` logs with `users` users in the database.
fn statements_to_send_to(users: i64) -> usize {
    let db = TestDb::migrated();
    let role_type = label_type(&db, "Users", "role");
    sql(
        &db,
        &format!(
            r#"INSERT INTO "Users" ("firstName", "lastName", "email", "password", "role",
                                    "createdAt", "updatedAt")
               SELECT 'User', 'N' || i, 'user' || i || '@example.com', 'not-a-hash',
                      (CASE WHEN i % 2 = 0 THEN 'admin' ELSE 'staff' END)::{role_type}, now(), now()
               FROM generate_series(1, {users}) AS i;
               INSERT INTO "NotificationPreferences" ("userId", "notificationType", "enabled",
                      "emailEnabled", "createdAt", "updatedAt")
               SELECT "id", 'general', "id" % 3 <> 0, "id" % 5 = 0, now(), now() FROM "Users""#
        ),
    );
    let out = db
        .crm()
        .args(["-v", "--as", "1", "notify", "send", "--type", "general"])
        .args(["--title", "t", "--message", "m", "--all"])
        .run();
    out.assert_success();
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "UserNotifications""#),
        users - users / 3
    );
    out.stderr
        .lines()
        .filter(|l| l.starts_with("sql: "))
        .count()
}

#[test]
fn fan_out_is_the_same_few_statements_for_20_or_200_users() {
    let few = statements_to_send_to(20);
    let many = statements_to_send_to(200);
    assert_eq!(few, many);
    assert!(few <= 5, "{few} statements");
}
