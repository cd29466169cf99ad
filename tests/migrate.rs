//! `crm db migrate`, `status` and the schema lock: fresh, partly migrated and divergent databases,
//! dry runs, two runs at once, and adopting a database made by the original Sequelize application.

use crate::harness::{TestDb, table_exists};
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
    assert_eq!(states.len(), 12, "{}", out.stdout);
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
        .assert_stderr_contains("applied 12 migrations: the database is at version 12");
    assert_eq!(history(&db).len(), 12);

    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_success()
        .assert_stderr_contains("nothing to apply: the database is at version 12");
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
        applied_lines, 12,
        "first:\n{}\nsecond:\n{}",
        a.stderr, b.stderr
    );
    assert_eq!(history(&db).len(), 12);
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
    assert_eq!(history(&db).len(), 12);
}

/// The schema as the original application's Sequelize migrations made it: an ENUM type for the
/// role, Sequelize's own index names, and its `SequelizeMeta` listing the migrations it ran.
fn sequelize_schema(migrations: usize) -> String {
    let tables = [
        r#"CREATE TYPE "enum_Users_role" AS ENUM ('admin', 'staff');
           CREATE TABLE "Users" ("id" SERIAL PRIMARY KEY, "firstName" VARCHAR(255) NOT NULL,
             "lastName" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL UNIQUE,
             "password" VARCHAR(255) NOT NULL, "role" "enum_Users_role" DEFAULT 'staff',
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);
           CREATE INDEX "users_email" ON "Users" ("email");
           CREATE INDEX "users_role" ON "Users" ("role");"#,
        r#"CREATE TABLE "Customers" ("id" SERIAL PRIMARY KEY, "firstName" VARCHAR(255), "lastName" VARCHAR(255),
             "email" VARCHAR(255), "phone" VARCHAR(255), "address" TEXT, "totalPurchases" DECIMAL(10,2) DEFAULT 0,
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);"#,
        r#"CREATE TABLE "Products" ("id" SERIAL PRIMARY KEY, "name" VARCHAR(255) NOT NULL, "description" TEXT,
             "price" DECIMAL(10,2) NOT NULL, "stock" INTEGER DEFAULT 0, "category" VARCHAR(255), "image" VARCHAR(255),
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);"#,
        r#"CREATE TYPE "enum_Orders_status" AS ENUM ('pending', 'processing', 'completed', 'cancelled');
           CREATE TABLE "Orders" ("id" SERIAL PRIMARY KEY,
             "customerId" INTEGER REFERENCES "Customers" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
             "createdBy" INTEGER REFERENCES "Users" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
             "status" "enum_Orders_status" DEFAULT 'pending', "total" DECIMAL(10,2) NOT NULL, "notes" TEXT,
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);"#,
        r#"CREATE TABLE "OrderItems" ("id" SERIAL PRIMARY KEY,
             "orderId" INTEGER REFERENCES "Orders" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
             "productId" INTEGER REFERENCES "Products" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
             "quantity" INTEGER NOT NULL, "price" DECIMAL(10,2) NOT NULL,
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);"#,
        r#"CREATE TYPE "enum_Notifications_priority" AS ENUM ('low', 'medium', 'high');
           CREATE TABLE "Notifications" ("id" SERIAL PRIMARY KEY, "type" VARCHAR(255) NOT NULL,
             "title" VARCHAR(255) NOT NULL, "message" TEXT NOT NULL, "data" JSONB,
             "priority" "enum_Notifications_priority" DEFAULT 'medium',
             "createdBy" INTEGER REFERENCES "Users" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);"#,
        r#"CREATE TABLE "UserNotifications" ("id" SERIAL PRIMARY KEY,
             "userId" INTEGER REFERENCES "Users" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
             "notificationId" INTEGER REFERENCES "Notifications" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
             "isRead" BOOLEAN DEFAULT false, "readAt" TIMESTAMP WITH TIME ZONE,
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);"#,
        r#"CREATE TABLE "NotificationPreferences" ("id" SERIAL PRIMARY KEY,
             "userId" INTEGER REFERENCES "Users" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
             "notificationType" VARCHAR(255) NOT NULL, "enabled" BOOLEAN DEFAULT true,
             "emailEnabled" BOOLEAN DEFAULT false,
             "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL);"#,
    ];
    let names = [
        "create-users",
        "create-customers",
        "create-products",
        "create-orders",
        "create-order-items",
        "create-notifications",
        "create-user-notifications",
        "create-notification-preferences",
    ];
    let mut sql = String::from(
        r#"CREATE TABLE "SequelizeMeta" ("name" VARCHAR(255) NOT NULL UNIQUE PRIMARY KEY);"#,
    );
    for (i, (table, name)) in tables.iter().zip(names).take(migrations).enumerate() {
        sql.push_str(table);
        sql.push_str(&format!(
            r#"INSERT INTO "SequelizeMeta" VALUES ('2025010100000{}-{name}.js');"#,
            i + 1
        ));
    }
    sql
}

#[test]
fn a_database_made_by_the_sequelize_application_is_adopted() {
    let db = TestDb::empty();
    db.client().batch_execute(&sequelize_schema(8)).unwrap();
    db.client()
        .batch_execute(
            r#"INSERT INTO "Users" ("firstName", "lastName", "email", "password", "role", "createdAt", "updatedAt")
               VALUES ('Ada', 'Admin', 'ada@example.com', 'x', 'admin', now(), now())"#,
        )
        .unwrap();

    let status = db.crm().args(["db", "migrate", "status"]).run();
    status
        .assert_success()
        .assert_stderr_contains("made by the original Sequelize application");

    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_success()
        .assert_stderr_contains("recorded V1 to V8 as applied")
        .assert_stderr_contains("applied V9 performance_indexes")
        .assert_stderr_contains("applied V10 search_indexes");
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
    let users: i64 = db
        .client()
        .query_one(r#"SELECT count(*) FROM "Users""#, &[])
        .unwrap()
        .get(0);
    assert_eq!(users, 1, "the application's data is kept");
    assert!(table_exists(&db, "products_name_trgm_idx"));
}

#[test]
fn a_partly_built_sequelize_database_is_adopted_as_far_as_it_goes_then_migrated() {
    let db = TestDb::empty();
    db.client().batch_execute(&sequelize_schema(3)).unwrap();
    db.crm()
        .args(["db", "migrate"])
        .run()
        .assert_success()
        .assert_stderr_contains("recorded V1 to V3 as applied")
        .assert_stderr_contains("applied V4 create_orders");
    assert_eq!(history(&db).len(), 12);
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
