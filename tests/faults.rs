//! crm under faults: a lock held elsewhere never hangs a command (`--lock-timeout`), while
//! waiting for another crm run stays unbounded.

use crate::harness::{TestDb, count, sql};
use std::time::Duration;

const PRODUCT: &str = r#"INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "createdAt", "updatedAt")
    VALUES (1, 'Ada', 'Lovelace', 'ada@example.com', now(), now());
INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt")
    VALUES (1, 'Lamp', 10.00, 5, now(), now())"#;

/// A session of its own that holds product 1's row lock until dropped.
fn hold_product_lock(db: &TestDb) -> postgres::Client {
    let mut holder = db.client();
    holder
        .batch_execute(r#"BEGIN; SELECT 1 FROM "Products" WHERE "id" = 1 FOR UPDATE"#)
        .unwrap();
    holder
}

#[test]
fn a_row_lock_held_elsewhere_gives_exit_5_after_the_lock_timeout_naming_the_table() {
    let db = TestDb::migrated();
    sql(&db, PRODUCT);
    let holder = hold_product_lock(&db);
    db.crm()
        .args([
            "--lock-timeout",
            "200ms",
            "products",
            "stock",
            "1",
            "--add",
            "1",
        ])
        .run()
        .assert_code(5)
        .assert_stderr_contains("lock timeout")
        .assert_stderr_contains("relation \"Products\"")
        .assert_stderr_contains("200 ms (--lock-timeout");
    db.crm()
        .env("CRM_LOCK_TIMEOUT", "200ms")
        .args(["orders", "create", "--customer", "1", "--item", "1:2"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("relation \"Products\"");
    drop(holder);
    assert_eq!(
        count(
            &db,
            r#"SELECT "stock"::int8 FROM "Products" WHERE "id" = 1"#
        ),
        5
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 0);
    // Once the lock is gone, the same command goes through.
    db.crm()
        .args([
            "--lock-timeout",
            "200ms",
            "orders",
            "create",
            "--customer",
            "1",
            "--item",
            "1:2",
        ])
        .run()
        .assert_success();
    assert_eq!(
        count(
            &db,
            r#"SELECT "stock"::int8 FROM "Products" WHERE "id" = 1"#
        ),
        3
    );
}

#[test]
fn with_lock_timeout_0_a_command_waits_for_the_lock_to_be_released() {
    let db = TestDb::migrated();
    sql(&db, PRODUCT);
    let holder = hold_product_lock(&db);
    let mut waiting = db.crm();
    waiting.args([
        "--lock-timeout",
        "0",
        "products",
        "stock",
        "1",
        "--add",
        "1",
    ]);
    let child = waiting.spawn();
    std::thread::sleep(Duration::from_millis(700));
    drop(holder);
    waiting.wait(child).assert_success();
    assert_eq!(
        count(
            &db,
            r#"SELECT "stock"::int8 FROM "Products" WHERE "id" = 1"#
        ),
        6
    );
}

#[test]
fn waiting_for_another_crm_run_is_not_cut_short_by_the_lock_timeout() {
    let db = TestDb::empty();
    let mut holder = db.client();
    holder
        .execute("SELECT pg_advisory_lock(x'63726d'::int, 1)", &[])
        .unwrap();
    let mut waiting = db.crm();
    waiting.args(["--lock-timeout", "100ms", "db", "migrate"]);
    let child = waiting.spawn();
    std::thread::sleep(Duration::from_millis(600));
    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();
    waiting
        .wait(child)
        .assert_success()
        .assert_stderr_contains("waiting for another crm run");
}

#[test]
fn a_bad_lock_timeout_is_bad_usage() {
    let db = TestDb::migrated();
    for bad in ["30", "1h", "soon"] {
        db.crm()
            .args(["--lock-timeout", bad, "products", "list"])
            .run()
            .assert_code(2)
            .assert_stderr_contains("--lock-timeout");
    }
}
