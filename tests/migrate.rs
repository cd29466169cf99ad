//! `crm db migrate`, `status` and the schema lock: fresh, partly migrated and divergent databases,
//! dry runs, two runs at once, and adopting a database made by the original Sequelize application.

use crate::harness::{APP_FIXTURE, TestDb, count, table_exists};
use std::path::Path;
use std::time::Duration;

/// crm's schema advisory lock: ('crm' in ASCII, 1).
const SCHEMA_LOCK: &str = "SELECT pg_advisory_lock(x'63726d'::int, 1)";

fn history(db: &TestDb) -> Vec<(i32, String)> {
    db.client()
        .query(
            "SELECT version, name FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .expect("read the history")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// `version,state` pairs from `status`'s CSV.
fn states(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            (cols[0].to_string(), cols[2].to_string())
        })
        .collect()
}

#[test]
fn status_on_a_fresh_database_lists_every_migration_pending_and_creates_nothing() {
    let db = TestDb::empty();
    let out = db.crm().args(["db", "migrate", "status"]).run();
    out.assert_success();
    let states = states(&out.stdout);
    assert_eq!(states.len(), 15, "{}", out.stdout);
    assert!(states.iter().all(|(_, s)| s == "pending"), "{}", out.stdout);
    assert!(
        out.stdout
            .starts_with("version,name,state,appliedAt\n1,create_users,pending,\n")
    );
    assert!(!table_exists(&db, "refinery_schema_history"));

    db.crm()
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_code(1);
    assert!(!table_exists(&db, "refinery_schema_history"));
}

#[test]
fn migrate_applies_everything_and_a_second_run_has_nothing_to_do() {
    let db = TestDb::empty();
    let out = db.crm().args(["db", "migrate"]).run();
    out.assert_success()
        .assert_stderr_contains("applied V1 create_users")
        .assert_stderr_contains("applied 15 migrations: the database is at version 15");
    assert_eq!(history(&db).len(), 15);

    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_success()
        .assert_stderr_contains("nothing to apply: the database is at version 15");
    let status = db
        .crm()
        .args(["db", "migrate", "status", "--exit-code"])
        .run();
    status.assert_success();
    assert!(states(&status.stdout).iter().all(|(_, s)| s == "applied"));
}

#[test]
fn status_on_a_partly_migrated_database() {
    let db = TestDb::empty();
    db.crm()
        .args(["db", "migrate", "--to", "4"])
        .run()
        .assert_success();
    assert!(table_exists(&db, "Orders"));
    assert!(!table_exists(&db, "OrderItems"));
    let out = db.crm().args(["db", "migrate", "status"]).run();
    out.assert_success();
    let states = states(&out.stdout);
    for (version, state) in &states {
        let expected = if version.parse::<u32>().unwrap() <= 4 {
            "applied"
        } else {
            "pending"
        };
        assert_eq!(state, expected, "V{version}\n{}", out.stdout);
    }
    // Applied rows carry their time as RFC 3339 in UTC.
    let first = out.stdout.lines().nth(1).unwrap();
    assert!(
        first.starts_with("1,create_users,applied,20") && first.ends_with('Z'),
        "{first}"
    );
    db.crm()
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_code(1);
}

#[test]
fn a_divergent_migration_shows_in_status_and_stops_migrate() {
    let db = TestDb::empty();
    db.crm()
        .args(["db", "migrate", "--to", "8"])
        .run()
        .assert_success();
    db.client()
        .execute(
            "UPDATE refinery_schema_history SET checksum = '42' WHERE version = 3",
            &[],
        )
        .unwrap();
    let out = db.crm().args(["db", "migrate", "status"]).run();
    out.assert_success();
    assert!(
        states(&out.stdout).contains(&("3".into(), "divergent".into())),
        "{}",
        out.stdout
    );
    db.crm()
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_code(1);

    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("migration V3 create_products was changed since it was applied");
    assert_eq!(history(&db).len(), 8, "nothing more was applied");
}

#[test]
fn a_migration_unknown_to_this_binary_shows_as_missing() {
    let db = TestDb::migrated();
    db.client()
        .execute(
            "INSERT INTO refinery_schema_history VALUES (99, 'from_a_newer_crm', '2030-01-01T00:00:00Z', '1')",
            &[],
        )
        .unwrap();
    let out = db.crm().args(["db", "migrate", "status"]).run();
    out.assert_success()
        .assert_stdout_contains("99,from_a_newer_crm,missing,2030-01-01T00:00:00Z");
    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("newer crm");
}

#[test]
fn dry_run_lists_what_would_run_and_changes_nothing() {
    let db = TestDb::empty();
    let out = db
        .crm()
        .args(["db", "migrate", "--dry-run", "--to", "2"])
        .run();
    out.assert_success()
        .assert_stdout_eq("version,name\n1,create_users\n2,create_customers\n");
    assert!(!table_exists(&db, "Users"));
}

#[test]
fn an_unknown_target_version_is_bad_usage() {
    let db = TestDb::empty();
    db.crm()
        .args(["db", "migrate", "--to", "77"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--to 77: no such migration");
    assert!(!table_exists(&db, "refinery_schema_history"));
}

#[test]
fn two_migrate_runs_at_once_both_succeed_and_apply_each_migration_once() {
    let db = TestDb::empty();
    let mut first = db.crm();
    let mut second = db.crm();
    first.args(["db", "migrate"]);
    second.args(["db", "migrate"]);
    let (a, b) = (first.spawn(), second.spawn());
    let (a, b) = (first.wait(a), second.wait(b));
    a.assert_success();
    b.assert_success();
    let applied_lines = format!("{}{}", a.stderr, b.stderr)
        .lines()
        .filter(|l| l.starts_with("applied V"))
        .count();
    assert_eq!(
        applied_lines, 15,
        "first:\n{}\nsecond:\n{}",
        a.stderr, b.stderr
    );
    assert_eq!(history(&db).len(), 15);
}

#[test]
fn no_wait_exits_5_while_another_run_holds_the_lock_and_a_waiting_run_goes_on_after() {
    let db = TestDb::empty();
    let mut holder = db.client();
    holder.execute(SCHEMA_LOCK, &[]).unwrap();

    db.crm()
        .args(["db", "migrate", "--no-wait"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("holds the schema lock");
    assert!(!table_exists(&db, "Users"));

    let mut waiting = db.crm();
    waiting.args(["db", "migrate"]);
    let child = waiting.spawn();
    // It waits as long as the lock is held; give it time to get there, then let go.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !table_exists(&db, "Users"),
        "migrate ran while the lock was held"
    );
    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();
    waiting
        .wait(child)
        .assert_success()
        .assert_stderr_contains("waiting for another crm run");
    assert_eq!(history(&db).len(), 15);
}

/// The application's database as its own tools made it (tests/fixtures/sequelize-app.sql, made
/// by scripts/make-sequelize-fixture.sh), with its data.
#[test]
fn the_fixture_is_what_the_applications_own_tools_made() {
    let fixture = std::fs::read_to_string(APP_FIXTURE).unwrap();
    assert!(
        fixture.starts_with("-- The database the Gemini CRM application makes with its own tools: made by\n-- scripts/make-sequelize-fixture.sh"),
        "the fixture does not name the script that made it"
    );
    assert!(
        fixture.contains("-- PostgreSQL database dump"),
        "not a pg_dump"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-sequelize-fixture.sh");
    assert!(script.is_file(), "{} is missing", script.display());

    let db = TestDb::app_fixture();
    let enums: Vec<String> = db
        .client()
        .query(
            "SELECT typname::text FROM pg_type WHERE typtype = 'e' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        enums,
        [
            "enum_Notifications_priority",
            "enum_Orders_status",
            "enum_Users_role"
        ]
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "SequelizeMeta""#), 9);
    assert!(
        table_exists(&db, "users_email"),
        "Sequelize's own index name"
    );
    assert!(!table_exists(&db, "refinery_schema_history"));
}

#[test]
fn a_database_made_by_the_sequelize_application_is_adopted() {
    let db = TestDb::app_fixture();
    let users = count(&db, r#"SELECT count(*) FROM "Users""#);
    let customers = count(&db, r#"SELECT count(*) FROM "Customers""#);
    assert!(users > 0 && customers > 0, "the fixture has its seed rows");

    let status = db.crm().args(["db", "migrate", "status"]).run();
    status
        .assert_success()
        .assert_stderr_contains("made by the original Sequelize application");

    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_success()
        .assert_stderr_contains("recorded V1 to V9 as applied")
        .assert_stderr_contains("applied V10 search_indexes")
        .assert_stderr_contains("applied V12 notification_inbox_index")
        .assert_stderr_contains("applied V13 customer_match_keys")
        .assert_stderr_contains("applied V14 create_customer_merges")
        .assert_stderr_contains("applied V15 customer_name_sort_index");
    let status = db
        .crm()
        .args(["db", "migrate", "status", "--exit-code"])
        .run();
    status.assert_success();
    assert!(
        states(&status.stdout).iter().all(|(_, s)| s == "applied"),
        "{}",
        status.stdout
    );
    assert_eq!(history(&db).len(), 15);
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "Users""#),
        users,
        "the application's data is kept"
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), customers);
    assert!(table_exists(&db, "customers_full_name_trgm_idx"));
    // Running it again changes nothing.
    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_success()
        .assert_stderr_contains("nothing to apply");
}

#[test]
fn a_partly_built_sequelize_database_is_adopted_as_far_as_it_goes_then_migrated() {
    // The application stopped after its third migration.
    let db = TestDb::app_fixture();
    db.client()
        .batch_execute(
            r#"DROP TABLE "NotificationPreferences", "UserNotifications", "Notifications",
                          "OrderItems", "Orders";
               DROP TYPE "enum_Orders_status", "enum_Notifications_priority";
               DELETE FROM "SequelizeMeta" WHERE "name" >= '20250101000004';"#,
        )
        .unwrap();
    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_success()
        .assert_stderr_contains("recorded V1 to V3 as applied")
        .assert_stderr_contains("applied V4 create_orders");
    assert_eq!(history(&db).len(), 15);
    assert!(table_exists(&db, "NotificationPreferences"));
}

#[test]
fn ctrl_c_while_waiting_for_the_lock_exits_130_and_applies_nothing() {
    let db = TestDb::empty();
    let mut holder = db.client();
    holder.execute(SCHEMA_LOCK, &[]).unwrap();
    let mut waiting = db.crm();
    waiting.args(["db", "migrate"]);
    let child = waiting.spawn();
    std::thread::sleep(Duration::from_millis(500));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    waiting
        .wait(child)
        .assert_code(130)
        .assert_stderr_contains("error: interrupted");
    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();
    assert!(!table_exists(&db, "Users"));
}

#[test]
fn verbose_logs_each_statement_with_its_timing_on_stderr() {
    let db = TestDb::empty();
    let out = db.crm().args(["-v", "db", "migrate", "status"]).run();
    out.assert_success()
        .assert_stderr_contains("ms: SELECT to_regclass('refinery_schema_history') IS NOT NULL");
    let quiet = db.crm().args(["db", "migrate", "status"]).run();
    assert!(!quiet.stderr.contains("sql: "), "{}", quiet.stderr);
}

#[test]
fn a_data_command_on_a_database_not_yet_migrated_says_to_migrate() {
    let db = TestDb::empty();
    db.crm()
        .args(["customers", "list"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("relation \"Customers\" does not exist")
        .assert_stderr_contains("crm db migrate applies the rest");
}

#[test]
fn a_failing_migration_names_the_servers_reason() {
    let db = TestDb::empty();
    db.client()
        .batch_execute(r#"CREATE TABLE "Products" ("id" int)"#)
        .unwrap();
    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("migration V3 create_products failed and was rolled back")
        .assert_stderr_contains(r#"relation "Products" already exists"#);
    assert_eq!(history(&db).len(), 2);
}
