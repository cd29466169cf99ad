//! `crm db maintain`: VACUUM (ANALYZE) table by table leaves fewer dead tuples, `--analyze-only`
//! and `--dry-run` do what they say, `--reindex` drops what a failed rebuild left and rebuilds
//! the rest, and two runs at once queue on the maintenance lock.

use crate::harness::{TABLES, TestDb, count, insert_user, sql, wait_for};
use std::time::Duration;

/// crm's advisory lock keys: 'crm' and the maintenance lock.
const LOCK: &str = "SELECT pg_advisory_lock(x'0063726d'::int, 4)";

/// 150 products inserted and deleted, autovacuum kept away: 150 dead tuples.
fn with_dead_products(db: &TestDb) {
    sql(
        db,
        r#"ALTER TABLE "Products" SET (autovacuum_enabled = false);
           INSERT INTO "Products" ("name", "price", "createdAt", "updatedAt")
             SELECT 'p' || i, 1, now(), now() FROM generate_series(1, 150) i;
           DELETE FROM "Products""#,
    );
    wait_for(
        &mut db.client(),
        "SELECT n_dead_tup = 150 FROM pg_stat_user_tables WHERE relname = 'Products'",
        "the statistics to count the dead tuples",
        Duration::from_secs(10),
    );
}

/// An index crm's migration V9 makes under this name on both schemas (crm's own index names and
/// the application's differ, `users_email_idx` against `users_email`).
const AN_INDEX: &str = "orders_customer_date_idx";

#[test]
fn maintain_vacuums_every_crm_table_and_leaves_fewer_dead_tuples() {
    let db = TestDb::migrated();
    with_dead_products(&db);
    let out = db.crm().args(["db", "maintain", "-o", "csv"]).run();
    out.assert_success()
        .assert_stderr_contains("ran 8 statements in ")
        .assert_stderr_contains("dead tuples in the 8 vacuumed tables: 150 before, 0 after");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0], "statement,deadTuplesBefore,deadTuplesAfter,ms",
        "{out}"
    );
    let statements: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(",").next().unwrap().to_string())
        .collect();
    let expected: Vec<String> = TABLES
        .iter()
        .map(|t| format!(r#""VACUUM (ANALYZE) ""{t}""""#))
        .collect();
    assert_eq!(statements, expected, "{out}");
    assert!(
        lines[3].starts_with(r#""VACUUM (ANALYZE) ""Products""",150,0,"#),
        "{out}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'Products'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL \
             AND last_analyze IS NOT NULL"
        ),
        8
    );
}

#[test]
fn dry_run_lists_and_analyze_only_analyzes_without_vacuuming() {
    let db = TestDb::migrated();
    with_dead_products(&db);
    let out = db
        .crm()
        .args(["db", "maintain", "--dry-run", "--reindex", "-o", "csv"])
        .run();
    out.assert_success()
        .assert_stdout_contains("\"VACUUM (ANALYZE) \"\"Products\"\"\",150\n")
        .assert_stdout_contains(&format!(
            "\"REINDEX INDEX CONCURRENTLY \"\"public\"\".\"\"{AN_INDEX}\"\"\",\n"
        ));
    assert!(
        out.stdout.starts_with("statement,deadTuplesBefore\n"),
        "{out}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL \
             OR last_analyze IS NOT NULL"
        ),
        0,
        "a dry run changes nothing"
    );

    let out = db
        .crm()
        .args(["db", "maintain", "--analyze-only", "-o", "csv"])
        .run();
    out.assert_success();
    assert!(
        out.stdout.contains("\"ANALYZE \"\"Products\"\"\",,,"),
        "{out}"
    );
    assert!(!out.stdout.contains("VACUUM"), "{out}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_stat_user_tables WHERE last_vacuum IS NULL \
             AND last_analyze IS NOT NULL"
        ),
        8
    );
}

#[test]
fn reindex_drops_what_a_failed_rebuild_left_and_rebuilds_the_rest() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "L", "ada@example.com", "staff");
    insert_user(&db, "Bob", "S", "bob@example.com", "staff");
    // What an interrupted REINDEX ... CONCURRENTLY leaves: an invalid copy named *_ccnew.
    let failed = db.client().batch_execute(
        r#"CREATE UNIQUE INDEX CONCURRENTLY "users_role_idx_ccnew" ON "Users" ("role")"#,
    );
    assert!(failed.is_err());
    let oid_of_an_index = format!("SELECT '{AN_INDEX}'::regclass::oid::int8");
    let oid_before = count(&db, &oid_of_an_index);
    let out = db
        .crm()
        .args(["db", "maintain", "--reindex", "-o", "csv"])
        .run();
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[1].starts_with(
            r#""DROP INDEX CONCURRENTLY IF EXISTS ""public"".""users_role_idx_ccnew""",,,"#
        ),
        "the leftover goes first: {out}"
    );
    assert!(
        out.stdout.contains(&format!(
            r#""REINDEX INDEX CONCURRENTLY ""public"".""{AN_INDEX}""""#
        )),
        "{out}"
    );
    assert!(
        !out.stdout
            .contains("REINDEX INDEX CONCURRENTLY \"\"public\"\".\"\"users_role_idx_ccnew")
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_class WHERE relname = 'users_role_idx_ccnew'"
        ),
        0
    );
    // Rebuilt: a new index under the old name.
    assert_ne!(count(&db, &oid_of_an_index), oid_before);
}

#[test]
fn a_second_run_waits_for_the_first_or_exits_5_with_no_wait() {
    let db = TestDb::migrated();
    let mut holder = db.client();
    holder.batch_execute(LOCK).unwrap();
    db.crm()
        .args(["db", "maintain", "--no-wait"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("holds the maintenance lock (held by crm db maintain)");

    let mut waiting = db.crm();
    waiting.args(["db", "maintain", "--analyze-only"]);
    let child = waiting.spawn();
    wait_for_lock_waiter(&db);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
        ),
        0,
        "it waits"
    );
    drop(holder);
    waiting
        .wait(child)
        .assert_success()
        .assert_stderr_contains("waiting for another crm run (backend pid");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
        ),
        8
    );
}

fn wait_for_lock_waiter(db: &TestDb) {
    wait_for(
        &mut db.client(),
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
         AND objid = 4)",
        "a second run to wait for the maintenance lock",
        Duration::from_secs(10),
    );
}

/// On a terminal, a run shows a named bar (its length the bytes of the tables and indexes it
/// goes through), cleared before the statements are printed.
#[test]
fn on_a_terminal_maintain_shows_a_named_bar_and_clears_it() {
    let db = TestDb::migrated();
    sql(
        &db,
        r#"INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
           SELECT 'Ada', 'Lovelace', 'ada' || i || '@example.com', now(), now()
           FROM generate_series(1, 50000) AS i"#,
    );
    let (code, screen) = crate::harness::crm_on_terminal(
        &[
            "--database-url",
            &db.url(),
            "db",
            "maintain",
            "--reindex",
            "-o",
            "csv",
        ],
        "",
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("maintain ["), "no bar: {screen}");
    assert!(
        screen.contains(" left: REINDEX INDEX CONCURRENTLY"),
        "{screen}"
    );
    assert!(screen.contains("ran "), "{screen}");
    // The bar's statement is cut to the terminal's width (the test's terminal reports no size:
    // 80 columns by default), so that a long one does not wrap, leaving a copy of the bar on
    // each line it wraps to.
    for drawn in screen.split(['\r', '\n']).map(without_escapes) {
        let drawn = drawn.trim_end();
        if drawn.contains("maintain [") {
            assert!(
                drawn.chars().count() <= 80,
                "a bar line of {} columns: {drawn}\n\n{screen}",
                drawn.chars().count()
            );
        }
    }
}

/// `text` without its terminal escape sequences (`ESC [ ... letter`).
fn without_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}
