//! Arguments of `crm orders` and `crm notify` as people type them (issue 15): a negative number
//! after a flag is a value to judge, not an unknown flag; an e-mail or a word where an id goes
//! says what was expected; `--since`/`--until` take relative times as `--older-than` does.

use crate::harness::TestDb;

/// `crm ARGS` is refused with exit 2 and `message` on stderr.
fn refused(db: &TestDb, args: &[&str], message: &str) {
    db.crm()
        .args(args)
        .run()
        .assert_code(2)
        .assert_stderr_contains(message);
}

#[test]
fn orders_and_notify_say_what_a_bad_number_or_id_is() {
    let db = TestDb::migrated();
    refused(
        &db,
        &["orders", "show", "john.doe@example.com"],
        "invalid value 'john.doe@example.com' for '<ID>': expected an order id (a whole number)",
    );
    refused(
        &db,
        &["orders", "cancel", "first"],
        "expected an order id (a whole number)",
    );
    refused(
        &db,
        &["orders", "set-status", "1.5", "completed"],
        "expected an order id (a whole number)",
    );
    refused(
        &db,
        &["orders", "list", "--customer", "john.doe@example.com"],
        "invalid value 'john.doe@example.com' for '--customer <ID>': expected a customer id (a \
         whole number); to find a customer by e-mail: crm customers list --search \
         john.doe@example.com",
    );
    refused(
        &db,
        &[
            "orders",
            "create",
            "--customer",
            "ada@example.com",
            "--item",
            "1:1",
        ],
        "to find a customer by e-mail: crm customers list --search ada@example.com",
    );
    refused(
        &db,
        &["orders", "create", "--customer", "1", "--item", "-1:2"],
        "invalid value '-1:2' for '--item <PRODUCT:QTY>': the product id must be at least 1, got -1",
    );
    refused(
        &db,
        &["orders", "list", "--limit", "-5"],
        "invalid value '-5' for '--limit <N>': expected a whole number of at least 1, got -5",
    );
    refused(
        &db,
        &["orders", "list", "--offset", "-5"],
        "expected a whole number of at least 0, got -5",
    );
    refused(
        &db,
        &["orders", "report", "customers", "--limit", "-2"],
        "invalid value '-2' for '--limit <N>': expected a whole number of at least 1, got -2",
    );
    refused(
        &db,
        &["orders", "report", "products", "--limit", "0"],
        "expected a whole number of at least 1, got 0",
    );
    refused(
        &db,
        &["notify", "show", "latest"],
        "invalid value 'latest' for '<ID>': expected a notification id (a whole number)",
    );
    refused(
        &db,
        &["notify", "read", "latest", "--user", "1"],
        "expected a notification id (a whole number)",
    );
    refused(
        &db,
        &["notify", "list", "--limit", "-1"],
        "expected a whole number of at least 1, got -1",
    );
    refused(
        &db,
        &["notify", "low-stock", "--threshold", "-4"],
        "invalid value '-4' for '--threshold <N>': must not be negative, got -4",
    );
    refused(
        &db,
        &["notify", "prune", "--older-than", "-3d"],
        "invalid value '-3d' for '--older-than <AGE>': not an age: \"-3d\"",
    );
    refused(
        &db,
        &["notify", "stale-orders", "--older-than", "-1h"],
        "invalid value '-1h' for '--older-than <AGE>': not an age",
    );
    // A negative id is one that does not exist.
    db.crm()
        .args(["orders", "show", "-1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("order -1");
    db.crm()
        .args(["notify", "show", "-1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("notification -1");
}

/// Orders created relative to now: 1 an hour ago, 2 at yesterday's noon (UTC), 3 three days ago,
/// 4 ten days ago; all completed, so that the reports count them too.
const RECENT_ORDERS: &str = r#"
INSERT INTO "Orders" ("id", "status", "total", "createdAt", "updatedAt") VALUES
  (1, 'completed', 10.00, now() - interval '1 hour', now()),
  (2, 'completed', 10.00,
   (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '12 hours') AT TIME ZONE 'UTC', now()),
  (3, 'completed', 10.00, now() - interval '3 days', now()),
  (4, 'completed', 10.00, now() - interval '10 days', now());
SELECT setval('"Orders_id_seq"', 4);
INSERT INTO "Notifications" ("id", "type", "title", "message", "createdAt", "updatedAt") VALUES
  (1, 'note', 'Recent', 'an hour ago', now() - interval '1 hour', now()),
  (2, 'note', 'Old', 'ten days ago', now() - interval '10 days', now());
"#;

/// The ids of `crm -o json ARGS`'s rows.
fn ids(db: &TestDb, args: &[&str]) -> Vec<i64> {
    let out = db.crm().args(["-o", "json"]).args(args).run();
    out.assert_success();
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{out}"));
    let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids
}

/// The ids of the orders SQL says were created in `[since, until)` (expressions over now()).
fn expected(db: &TestDb, since: &str, until: &str) -> Vec<i64> {
    let query = format!(
        r#"SELECT "id"::int8 FROM "Orders" WHERE "createdAt" >= {since} AND "createdAt" < {until}
           ORDER BY 1"#
    );
    db.client()
        .query(&query, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Issue 15, item 16: `--since` and `--until` take `7d`, `24h`, `yesterday` and `today`, as
/// `notify prune --older-than` takes ages, in every command that has them.
#[test]
fn since_and_until_take_ages_today_and_yesterday() {
    let db = TestDb::migrated();
    crate::harness::sql(&db, RECENT_ORDERS);
    const TODAY: &str = "(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')";
    const YESTERDAY: &str =
        "(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day')";
    const EVER: &str = "'-infinity'";
    const NEVER: &str = "'infinity'";

    assert_eq!(ids(&db, &["orders", "list", "--since", "7d"]), [1, 2, 3]);
    assert_eq!(ids(&db, &["orders", "list", "--until", "7d"]), [4]);
    assert_eq!(
        ids(&db, &["orders", "list", "--since", "30m"]),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&db, &["orders", "list", "--since", "2w"]), [1, 2, 3, 4]);
    assert_eq!(
        ids(&db, &["orders", "list", "--since", "24h"]),
        expected(&db, "now() - interval '24 hours'", NEVER)
    );
    assert_eq!(
        ids(
            &db,
            &["orders", "list", "--since", "yesterday", "--until", "today"]
        ),
        expected(&db, YESTERDAY, TODAY)
    );
    assert!(expected(&db, YESTERDAY, TODAY).contains(&2));
    assert_eq!(
        ids(&db, &["orders", "list", "--since", "today"]),
        expected(&db, TODAY, NEVER)
    );
    assert_eq!(
        ids(&db, &["orders", "list", "--until", "yesterday"]),
        expected(&db, EVER, YESTERDAY)
    );
    // export, the reports and notify list take them too.
    let export = db
        .crm()
        .args(["orders", "export", "--since", "7d", "--until", "2d"])
        .run();
    export.assert_success();
    let rows: Vec<&str> = export.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{export}");
    assert!(rows[0].starts_with("3,"), "{export}");
    let report = db
        .crm()
        .args(["-o", "json", "orders", "report", "sales", "--by", "day"])
        .args(["--since", "7d"])
        .run();
    report.assert_success();
    let periods: Vec<serde_json::Value> = serde_json::from_str(&report.stdout).unwrap();
    let counted: i64 = periods.iter().map(|p| p["orders"].as_i64().unwrap()).sum();
    assert_eq!(counted, 3, "{report}");
    assert_eq!(ids(&db, &["notify", "list", "--since", "24h"]), [1]);
    assert_eq!(ids(&db, &["notify", "list", "--since", "yesterday"]), [1]);

    db.crm()
        .args(["orders", "list", "--since", "tomorrow"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "invalid value 'tomorrow' for '--since <WHEN>': not a date or time: \"tomorrow\" \
             (expected 2025-07-01, 2025-07-01T09:30:00Z, today, yesterday, or an age before now \
             such as 7d or 24h)",
        );
    db.crm()
        .args(["orders", "list", "--since", "0d"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("must be more than zero");
    db.crm()
        .args(["orders", "list", "--since", "today", "--until", "yesterday"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("is not after --since");
}
