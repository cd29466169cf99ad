//! `crm db health`: each check driven into WARNING or CRITICAL for real (a session idle in
//! transaction, one blocked on a row lock, a sequence moved near 2^31, an index left invalid,
//! low thresholds on the command line), the monitoring exit codes, JSON and Nagios output, an
//! unreachable server, and a role that lacks pg_monitor.

use crate::harness::{
    Schema, TestDb, TestRole, count, free_port, insert_user, server, sql, wait_for,
};
use serde_json::Value as Json;
use std::time::{Duration, Instant};

/// Every check but `backup-age` (which needs --backup-dir), in the order they print.
const CHECKS: [&str; 23] = [
    "connection",
    "migrations",
    "schema",
    "connections",
    "cache-hit",
    "long-queries",
    "idle-in-transaction",
    "blocked",
    "dead-tuples",
    "vacuum-age",
    "analyze-age",
    "xid-age",
    "sequences",
    "invalid-indexes",
    "unused-indexes",
    "database-size",
    "table-size",
    "slow-statements",
    "role",
    "replication-lag",
    "replay-delay",
    "replication-slots",
    "archiver",
];

/// `crm db health -o json ARGS`, its exit code and its rows parsed.
fn health(db: &TestDb, args: &[&str]) -> (i32, Vec<Json>) {
    let out = db
        .crm()
        .args(["db", "health", "-o", "json"])
        .args(args)
        .run();
    let parsed: Json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("db health printed no JSON array: {e}\n\n{out}"));
    let rows = parsed.as_array().cloned().expect("a JSON array");
    (out.code(), rows)
}

/// The row of check `name`.
fn row<'a>(rows: &'a [Json], name: &str) -> &'a Json {
    rows.iter()
        .find(|r| r["check"] == name)
        .unwrap_or_else(|| panic!("no row for check {name} in {rows:#?}"))
}

#[test]
fn a_healthy_database_is_ok_on_every_check_and_exits_0() {
    let db = TestDb::migrated();
    // A fresh copy's cache is cold (hit ratio below 99%), and the test cluster has no
    // pg_stat_statements: both are checked on their own below.
    let (code, rows) = health(&db, &["--exclude", "cache-hit,slow-statements"]);
    let names: Vec<&str> = rows.iter().map(|r| r["check"].as_str().unwrap()).collect();
    let expected: Vec<&str> = CHECKS
        .iter()
        .copied()
        .filter(|c| !["cache-hit", "slow-statements"].contains(c))
        .collect();
    assert_eq!(names, expected);
    for r in &rows {
        assert_eq!(r["status"], "OK", "{r}");
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["check", "status", "value", "warning", "critical", "message"]
        );
    }
    assert_eq!(code, 0);
    let connections = row(&rows, "connections");
    assert_eq!(connections["warning"], "90%");
    assert_eq!(connections["critical"], "95%");
    assert!(
        row(&rows, "connection")["message"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL "),
        "{rows:#?}"
    );
    assert_eq!(row(&rows, "migrations")["value"], "15 of 15 applied");
    let compatible = match Schema::under_test() {
        Schema::Crm => "0 drift, 0 compatible",
        Schema::App => "0 drift, 10 compatible",
    };
    assert_eq!(row(&rows, "schema")["value"], compatible);
}

#[test]
fn the_schema_check_warns_on_drift_and_is_ok_on_the_application_schema() {
    let db = TestDb::on(Schema::App);
    let (code, rows) = health(&db, &["--check", "schema"]);
    let r = row(&rows, "schema");
    assert_eq!(r["status"], "OK", "{r}");
    assert_eq!(r["value"], "0 drift, 10 compatible", "{r}");
    assert_eq!(code, 0);

    sql(&db, r#"DROP INDEX "orders_customer_date_idx""#);
    let (code, rows) = health(&db, &["--check", "schema"]);
    let r = row(&rows, "schema");
    assert_eq!(r["status"], "WARNING", "{r}");
    assert_eq!(r["value"], "1 drift, 10 compatible", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("orders_customer_date_idx (index)"),
        "{r}"
    );
    assert_eq!(code, 1);
}

#[test]
fn the_cache_hit_ratio_is_measured_against_99_percent() {
    let db = TestDb::migrated();
    sql(&db, r#"SELECT count(*) FROM "Users""#);
    let (code, rows) = health(
        &db,
        &["--check", "cache-hit", "--critical", "cache-hit=50%"],
    );
    let r = row(&rows, "cache-hit");
    assert_eq!(r["warning"], "< 99%");
    assert_eq!(r["critical"], "< 50%");
    let value = r["value"].as_str().unwrap();
    let percent: f64 = value.trim_end_matches('%').parse().unwrap();
    let expected = match percent {
        p if p < 50.0 => ("CRITICAL", 2),
        p if p < 99.0 => ("WARNING", 1),
        _ => ("OK", 0),
    };
    assert_eq!((r["status"].as_str().unwrap(), code), expected, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("blocks found in shared buffers"),
        "{r}"
    );
}

#[test]
fn without_pg_stat_statements_the_slow_statements_check_is_unknown() {
    let db = TestDb::migrated();
    let (code, rows) = health(&db, &["--check", "slow-statements"]);
    let r = row(&rows, "slow-statements");
    assert_eq!(r["status"], "UNKNOWN");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("pg_stat_statements is not installed"),
        "{r}"
    );
    assert_eq!(code, 3);
}

#[test]
fn a_session_idle_in_transaction_warns_and_then_is_critical() {
    let db = TestDb::migrated();
    let mut idle = db.client();
    let pid: i32 = idle
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    idle.batch_execute("BEGIN; SELECT count(*) FROM \"Users\"")
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));

    let check = ["--check", "idle-in-transaction"];
    let (code, rows) = health(
        &db,
        &[&check[..], &["--warning", "idle-in-transaction=1s"]].concat(),
    );
    let r = row(&rows, "idle-in-transaction");
    assert_eq!(r["status"], "WARNING", "{r}");
    assert_eq!(r["warning"], "1s");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains(&format!("pid {pid} (")), "{message}");
    assert!(
        message.contains("SELECT count(*) FROM \"Users\""),
        "{message}"
    );
    assert_eq!(code, 1);

    let (code, rows) = health(
        &db,
        &[&check[..], &["--critical", "idle-in-transaction=500ms"]].concat(),
    );
    assert_eq!(row(&rows, "idle-in-transaction")["status"], "CRITICAL");
    assert_eq!(code, 2);

    // With the default threshold (60 s) the same session is fine.
    let (code, _) = health(&db, &check);
    assert_eq!(code, 0);

    // Nagios: one line, the worst state first, perfdata label=value;warn;crit.
    let out = db
        .crm()
        .args([
            "db",
            "health",
            "--nagios",
            "--check",
            "idle-in-transaction,connections",
        ])
        .args(["--warning", "idle-in-transaction=1s"])
        .run();
    out.assert_code(1);
    let line = out.stdout.trim_end();
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    assert!(
        line.starts_with(
            "CRM WARNING - idle-in-transaction WARNING: 1 session idle in transaction: pid"
        ),
        "{out}"
    );
    let (status, perfdata) = line.split_once(" | ").expect("perfdata after |");
    assert!(status.ends_with("; 1 ok"), "{out}");
    let perf: Vec<(&str, Vec<&str>)> = perfdata
        .split(' ')
        .map(|item| {
            let (label, rest) = item.split_once('=').expect("label=value");
            (label, rest.split(';').collect())
        })
        .collect();
    // In the checks' order.
    assert_eq!(perf[0].0, "connections");
    assert_eq!(&perf[0].1[1..], ["90", "95"]);
    assert!(perf[0].1[0].ends_with('%'), "{perfdata}");
    assert_eq!(perf[1].0, "idle-in-transaction");
    assert!(perf[1].1[0].ends_with('s'), "{perfdata}");
    assert!(perf[1].1[0].trim_end_matches('s').parse::<f64>().unwrap() >= 1.0);
    assert_eq!(&perf[1].1[1..], ["1", ""]);
    drop(idle);
}

#[test]
fn a_session_blocked_on_a_row_lock_names_its_blocker() {
    let db = TestDb::migrated();
    sql(
        &db,
        r#"INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt")
           VALUES (1, 'Book', 19.99, 10, now(), now())"#,
    );
    let mut holder = db.client();
    holder
        .batch_execute(r#"BEGIN; SELECT * FROM "Products" WHERE "id" = 1 FOR UPDATE"#)
        .unwrap();
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let url = db.url();
    let waiter = std::thread::spawn(move || {
        let mut client = server().connect(&url);
        client
            .batch_execute(r#"UPDATE "Products" SET "stock" = 9 WHERE "id" = 1"#)
            .unwrap();
    });
    wait_for(
        &mut db.client(),
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock')",
        "the update to wait for the lock",
        Duration::from_secs(10),
    );

    let (code, rows) = health(&db, &["--check", "blocked", "--critical", "blocked=0s"]);
    let r = row(&rows, "blocked");
    assert_eq!(r["status"], "CRITICAL", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(message.starts_with("1 session blocked: pid "), "{message}");
    assert!(
        message.contains(&format!("for pid {holder_pid} (")),
        "the blocker is named: {message}"
    );
    assert!(message.contains("idle in transaction"), "{message}");
    assert!(message.contains(r#"UPDATE "Products""#), "{message}");
    assert_eq!(code, 2);

    holder.batch_execute("COMMIT").unwrap();
    waiter.join().unwrap();
    let (code, rows) = health(&db, &["--check", "blocked", "--critical", "blocked=0s"]);
    assert_eq!(row(&rows, "blocked")["value"], "none");
    assert_eq!(code, 0);
}

#[test]
fn a_sequence_near_the_int4_maximum_warns_then_is_critical() {
    let db = TestDb::migrated();
    // 88% of 2^31 - 1.
    sql(&db, r#"SELECT setval('"Orders_id_seq"', 1890000000)"#);
    let (code, rows) = health(&db, &["--check", "sequences"]);
    let r = row(&rows, "sequences");
    assert_eq!(r["status"], "WARNING", "{r}");
    assert_eq!(r["value"], "88.0%");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("Orders.id (int4) at 1890000000 of 2147483647 (88.0%)"),
        "{r}"
    );
    assert_eq!(code, 1);

    sql(&db, r#"SELECT setval('"OrderItems_id_seq"', 2147483000)"#);
    let (code, rows) = health(&db, &["--check", "sequences"]);
    let r = row(&rows, "sequences");
    assert_eq!(r["status"], "CRITICAL", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("OrderItems.id (int4)"),
        "{r}"
    );
    assert_eq!(code, 2);
}

#[test]
fn an_index_left_invalid_by_a_failed_concurrent_build_warns() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "L", "ada@example.com", "staff");
    insert_user(&db, "Bob", "S", "bob@example.com", "staff");
    let failed = db.client().batch_execute(
        r#"CREATE UNIQUE INDEX CONCURRENTLY "users_role_unique" ON "Users" ("role")"#,
    );
    assert!(
        failed.is_err(),
        "two staff users make the unique index fail"
    );

    let (code, rows) = health(&db, &["--check", "invalid-indexes"]);
    let r = row(&rows, "invalid-indexes");
    assert_eq!(r["status"], "WARNING", "{r}");
    assert_eq!(r["value"], "1");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("users_role_unique on Users"),
        "{r}"
    );
    assert_eq!(code, 1);
}

#[test]
fn low_thresholds_given_on_the_command_line_raise_each_check() {
    let db = TestDb::migrated();
    let (code, rows) = health(
        &db,
        &[
            "--check",
            "database-size,table-size,unused-indexes,xid-age,connections,connection",
            "--warning",
            "database-size=1MB",
            "--critical",
            "unused-indexes=1",
            "--warning",
            "table-size=1kB",
            "--warning",
            "xid-age=0%",
            "--critical",
            "connections=0%",
            "--warning",
            "connection=0ms",
        ],
    );
    let status = |name| row(&rows, name)["status"].as_str().unwrap().to_string();
    assert_eq!(status("database-size"), "WARNING");
    assert_eq!(row(&rows, "database-size")["warning"], "1.0 MiB");
    assert_eq!(status("table-size"), "WARNING");
    assert_eq!(status("unused-indexes"), "CRITICAL");
    assert!(
        row(&rows, "unused-indexes")["message"]
            .as_str()
            .unwrap()
            .contains("never scanned"),
        "{rows:#?}"
    );
    assert_eq!(status("xid-age"), "WARNING");
    assert_eq!(status("connections"), "CRITICAL");
    assert_eq!(status("connection"), "WARNING");
    assert_eq!(code, 2);
}

#[test]
fn dead_tuples_beyond_the_autovacuum_threshold_and_vacuum_age() {
    let db = TestDb::migrated();
    sql(
        &db,
        r#"ALTER TABLE "Products" SET (autovacuum_enabled = false);
           INSERT INTO "Products" ("name", "price", "createdAt", "updatedAt")
             SELECT 'p' || i, 1, now(), now() FROM generate_series(1, 120) i;
           DELETE FROM "Products""#,
    );
    wait_for(
        &mut db.client(),
        r#"SELECT n_dead_tup = 120 FROM pg_stat_user_tables WHERE relname = 'Products'"#,
        "the statistics to count the dead tuples",
        Duration::from_secs(10),
    );
    // 120 dead tuples against autovacuum's 50 + 20% of 0 (never analyzed).
    let (code, rows) = health(&db, &["--check", "dead-tuples,vacuum-age"]);
    let r = row(&rows, "dead-tuples");
    assert_eq!(r["status"], "CRITICAL", "{r}");
    assert_eq!(r["value"], "240%");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("Products 120 (240% of 50)"),
        "{r}"
    );
    let r = row(&rows, "vacuum-age");
    assert_eq!(
        r["status"], "OK",
        "never vacuumed is left to dead-tuples: {r}"
    );
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("never vacuumed: Products"),
        "{r}"
    );
    assert_eq!(code, 2);
    // A table's own autovacuum settings are what autovacuum uses, and so does the check.
    sql(
        &db,
        r#"ALTER TABLE "Products" SET (autovacuum_vacuum_threshold = 200, autovacuum_vacuum_scale_factor = 0)"#,
    );
    let (_, rows) = health(&db, &["--check", "dead-tuples"]);
    let r = row(&rows, "dead-tuples");
    assert_eq!(r["value"], "60%", "{r}");
    assert_eq!(r["status"], "OK", "{r}");
    sql(
        &db,
        r#"ALTER TABLE "Products" RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor)"#,
    );

    // Vacuumed, then one more dead tuple: its age counts.
    sql(&db, r#"VACUUM "Products""#);
    sql(
        &db,
        r#"INSERT INTO "Products" ("name", "price", "createdAt", "updatedAt")
             VALUES ('q', 1, now(), now());
           DELETE FROM "Products""#,
    );
    wait_for(
        &mut db.client(),
        r#"SELECT n_dead_tup > 0 AND last_vacuum IS NOT NULL FROM pg_stat_user_tables
           WHERE relname = 'Products'"#,
        "the statistics to count the dead tuple and the vacuum",
        Duration::from_secs(10),
    );
    let (code, rows) = health(
        &db,
        &["--check", "vacuum-age", "--warning", "vacuum-age=0s"],
    );
    let r = row(&rows, "vacuum-age");
    assert_eq!(r["status"], "WARNING", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("Products vacuumed "),
        "{r}"
    );
    assert_eq!(code, 1);
}

#[test]
fn the_newest_backup_warns_after_a_day_and_is_critical_after_two() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let (code, rows) = health(
        &db,
        &[
            "--check",
            "backup-age",
            "--backup-dir",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(row(&rows, "backup-age")["status"], "CRITICAL");
    assert!(
        row(&rows, "backup-age")["message"]
            .as_str()
            .unwrap()
            .starts_with("no backup_* file in")
    );
    assert_eq!(code, 2);

    let age = |file: &str, hours: u64| {
        let path = dir.path().join(file);
        let f = std::fs::File::create(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(hours * 3600))
            .unwrap();
    };
    age("backup_20250101_000000.dump", 50);
    let args = [
        "--check",
        "backup-age",
        "--backup-dir",
        dir.path().to_str().unwrap(),
    ];
    let (code, rows) = health(&db, &args);
    assert_eq!(row(&rows, "backup-age")["status"], "CRITICAL");
    assert_eq!(code, 2);
    age("backup_20250102_000000.sql.gz", 30);
    age("notes_backup.dump", 0);
    let (code, rows) = health(&db, &args);
    let r = row(&rows, "backup-age");
    assert_eq!(r["status"], "WARNING", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("newest: backup_20250102_000000.sql.gz")
    );
    assert_eq!(code, 1);
    age("backup_20250103_000000.dump", 1);
    let (code, _) = health(&db, &args);
    assert_eq!(code, 0);
}

#[test]
fn an_unreachable_server_is_unknown_and_exits_3() {
    let url = format!("postgresql://nobody@127.0.0.1:{}/crm", free_port());
    let out = crate::harness::crm()
        .args(["--database-url", &url, "db", "health", "-o", "json"])
        .env("PGCONNECT_TIMEOUT", "3")
        .run();
    out.assert_code(3);
    let rows: Vec<Json> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["check"], "connection");
    assert_eq!(rows[0]["status"], "UNKNOWN");
    assert_eq!(rows[0]["value"], "unreachable");
    assert!(
        rows[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot connect to database \"crm\" on host \"127.0.0.1\""),
        "{out}"
    );
    let nagios = crate::harness::crm()
        .args(["--database-url", &url, "db", "health", "--nagios"])
        .run();
    nagios.assert_code(3);
    assert!(
        nagios
            .stdout
            .starts_with("CRM UNKNOWN - connection UNKNOWN: cannot connect"),
        "{nagios}"
    );
}

#[test]
fn unknown_checks_thresholds_and_values_are_bad_usage() {
    let db = TestDb::migrated();
    db.crm()
        .args(["db", "health", "--warning", "nosuch=1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "--warning nosuch: no such check (the checks are connection, migrations,",
        );
    db.crm()
        .args(["db", "health", "--critical", "connections=fast"])
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "--critical connections=fast: expected a non-negative number percent",
        );
    db.crm()
        .args(["db", "health", "--warning", "migrations=1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("--warning migrations: this check takes no threshold");
    db.crm()
        .args(["db", "health", "--check", "vacuum"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("--check vacuum: no such check");
    db.crm()
        .args(["db", "health", "--check", "backup-age"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("--check backup-age needs --backup-dir DIR");
}

#[test]
fn a_role_without_pg_monitor_gets_unknown_with_a_hint_never_a_crash() {
    let db = TestDb::migrated();
    let role = TestRole::create(&db, "mon", "");
    let mut idle = db.client();
    idle.batch_execute("BEGIN; SELECT 1").unwrap();
    let url = format!(
        "postgresql://{}@127.0.0.1:{}/{}",
        role.0,
        server().port,
        db.name
    );
    let run = |args: &[&str]| {
        let out = crate::harness::crm()
            .args(["--database-url", &url, "db", "health", "-o", "json"])
            .args(args)
            .run();
        let rows: Vec<Json> =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("no JSON: {e}\n\n{out}"));
        (out.code(), rows)
    };
    let (code, rows) = run(&["--check", "idle-in-transaction,migrations,connections"]);
    let r = row(&rows, "idle-in-transaction");
    assert_eq!(r["status"], "UNKNOWN", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains(&format!(
            "1 session of other roles not visible: grant pg_monitor to {}",
            role.0
        )),
        "{r}"
    );
    let r = row(&rows, "migrations");
    assert_eq!(r["status"], "UNKNOWN", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(message.starts_with("cannot run: "), "{message}");
    assert!(message.contains("permission denied"), "{message}");
    assert!(
        message.ends_with(&format!("hint: grant pg_monitor to {}", role.0)),
        "{message}"
    );
    assert_eq!(row(&rows, "connections")["status"], "OK");
    assert_eq!(code, 3);

    // Every check runs as this role: what it may not see is UNKNOWN, nothing crashes.
    // (The cache of a fresh copy may be cold: cache-hit is left out.)
    let (code, rows) = run(&["--exclude", "cache-hit"]);
    assert_eq!(rows.len(), CHECKS.len() - 1, "{rows:#?}");
    for r in &rows {
        let status = r["status"].as_str().unwrap();
        assert!(["OK", "UNKNOWN"].contains(&status), "{r}");
    }
    assert_eq!(code, 3);

    sql(&db, &format!("GRANT pg_monitor TO {}", role.0));
    let (code, rows) = run(&["--check", "idle-in-transaction"]);
    assert_eq!(
        row(&rows, "idle-in-transaction")["status"],
        "OK",
        "{rows:#?}"
    );
    assert!(
        row(&rows, "idle-in-transaction")["message"]
            .as_str()
            .unwrap()
            .starts_with("1 session idle in transaction: pid"),
        "{rows:#?}"
    );
    assert_eq!(code, 0);
    drop(idle);
}

#[test]
fn a_check_that_would_wait_for_a_lock_gives_up_after_50_ms_and_is_unknown() {
    let db = TestDb::migrated();
    // Someone rewrites a table (VACUUM FULL, ALTER TABLE): reading its size would wait.
    let mut rewriter = db.client();
    rewriter
        .batch_execute(r#"BEGIN; LOCK TABLE "Customers" IN ACCESS EXCLUSIVE MODE"#)
        .unwrap();
    let started = Instant::now();
    let (code, rows) = health(&db, &["--check", "table-size,connections"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "health waited for the lock"
    );
    let r = row(&rows, "table-size");
    assert_eq!(r["status"], "UNKNOWN", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(message.starts_with("cannot run: "), "{message}");
    assert!(
        message.ends_with("a lock was not granted within 50 ms (lock_timeout)"),
        "{message}"
    );
    assert_eq!(
        row(&rows, "connections")["status"],
        "OK",
        "the other checks still run"
    );
    assert_eq!(code, 3);
    rewriter.batch_execute("ROLLBACK").unwrap();
    let (code, _) = health(&db, &["--check", "table-size"]);
    assert_eq!(code, 0);
}

#[test]
fn with_pg_stat_statements_a_statement_slower_than_the_threshold_warns() {
    let server = crate::harness::PrivateServer::start(
        "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all",
    );
    let mut client = server.client("crm");
    client
        .batch_execute("CREATE EXTENSION pg_stat_statements")
        .unwrap();
    // 120 calls of 20 ms each: a mean of about 20 ms over more than pghero's 100 calls.
    for _ in 0..120 {
        client.execute("SELECT pg_sleep(0.02)", &[]).unwrap();
    }
    let out = server
        .crm()
        .args(["db", "health", "-o", "json", "--check", "slow-statements"])
        .args(["--warning", "slow-statements=10ms"])
        .run();
    let rows: Vec<Json> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    let r = row(&rows, "slow-statements");
    assert_eq!(r["status"], "WARNING", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("pg_sleep"),
        "names the statement: {r}"
    );
    assert_eq!(out.code(), 1);
    // Above the mean, the same statements are OK.
    let out = server
        .crm()
        .args(["db", "health", "-o", "json", "--check", "slow-statements"])
        .args(["--warning", "slow-statements=1s"])
        .run();
    let rows: Vec<Json> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(row(&rows, "slow-statements")["status"], "OK");
    assert_eq!(out.code(), 0);
}

/// Issue 15, item 8: a default server (no pg_stat_statements, as the test cluster) is OK: the
/// check is skipped with a note, and UNKNOWN only when `--check` asks for it.
#[test]
fn without_pg_stat_statements_a_default_run_skips_the_check_with_a_note_and_exits_0() {
    let db = TestDb::migrated();
    // Every default check runs; only the cold cache of a fresh copy is allowed for.
    let (code, rows) = health(&db, &["--warning", "cache-hit=0%"]);
    let names: Vec<&str> = rows.iter().map(|r| r["check"].as_str().unwrap()).collect();
    assert_eq!(names, CHECKS, "every default check has its row");
    let r = row(&rows, "slow-statements");
    assert_eq!(r["status"], "OK", "{r}");
    assert_eq!(r["value"], "skipped", "{r}");
    assert!(
        r["message"].as_str().unwrap().starts_with(
            "skipped: pg_stat_statements is not installed in this database (add it to \
             shared_preload_libraries and CREATE EXTENSION pg_stat_statements"
        ),
        "{r}"
    );
    for r in &rows {
        assert_eq!(r["status"], "OK", "{r}");
    }
    assert_eq!(code, 0);

    let nagios = db
        .crm()
        .args(["db", "health", "--nagios", "--warning", "cache-hit=0%"])
        .run();
    nagios.assert_code(0);
    assert!(
        nagios
            .stdout
            .starts_with("CRM OK - 22 checks ok; skipped: slow-statements |"),
        "{nagios}"
    );

    let (code, rows) = health(&db, &["--check", "slow-statements"]);
    assert_eq!(row(&rows, "slow-statements")["status"], "UNKNOWN");
    assert_eq!(code, 3);
}

/// Issue 15, item 8: crm's local cluster preloads pg_stat_statements, so that creating the
/// extension is all the check needs.
#[test]
fn the_local_cluster_preloads_pg_stat_statements() {
    let home = crate::local::LocalHome::new();
    let local = || {
        let mut crm = crate::harness::crm();
        crm.env("CRM_HOME", &home.crm_home);
        crm
    };
    local().args(["-q", "db", "migrate"]).run().assert_success();
    let out = local()
        .args(["db", "health", "-o", "json", "--check", "slow-statements"])
        .run();
    out.assert_code(3);
    let rows: Vec<Json> = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        row(&rows, "slow-statements")["message"]
            .as_str()
            .unwrap()
            .contains("the server preloads it: CREATE EXTENSION pg_stat_statements"),
        "{out}"
    );

    let url = local().args(["db", "local", "url"]).run();
    url.assert_success();
    let mut client = postgres::Client::connect(url.stdout.trim(), postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect to {}: {e}", url.stdout));
    client
        .batch_execute("CREATE EXTENSION pg_stat_statements")
        .unwrap();
    let out = local()
        .args(["db", "health", "-o", "json", "--check", "slow-statements"])
        .run();
    out.assert_code(0);
    let rows: Vec<Json> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(row(&rows, "slow-statements")["status"], "OK", "{out}");
}

/// Issue 15, item 9: bad arguments to `db health` are UNKNOWN (3), the monitoring convention,
/// never 2, which Nagios reads as CRITICAL; clap's own refusals included. Other commands keep
/// SPEC's 2.
#[test]
fn bad_arguments_to_db_health_exit_3_and_other_commands_still_exit_2() {
    let db = TestDb::migrated();
    db.crm()
        .args(["db", "health", "--check", "bogus"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("error: --check bogus: no such check (the checks are connection,");
    db.crm()
        .args(["db", "health", "--bogus"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("unexpected argument '--bogus' found");
    db.crm()
        .args(["-o", "json", "db", "health", "--warning"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("a value is required for '--warning <NAME=VALUE>'");
    db.crm()
        .args(["db", "health", "--warning", "connections=fast"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("--warning connections=fast: expected a non-negative number");
    db.crm()
        .args(["db", "health", "-o", "yaml"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("invalid value 'yaml' for '--format <FORMAT>'");
    crate::harness::crm()
        .args(["--database-url", "postgresql://[", "db", "health"])
        .run()
        .assert_code(3);
    db.crm()
        .args(["db", "health", "--help"])
        .run()
        .assert_success()
        .assert_stdout_contains("Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN");

    db.crm()
        .args(["customers", "list", "--bogus"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("unexpected argument '--bogus' found");
    db.crm()
        .args(["db", "check", "--bogus"])
        .run()
        .assert_code(2);
    db.crm()
        .args(["db", "healthy"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("unrecognized subcommand 'healthy'");
}

#[test]
fn health_shows_sizes_in_iec_units_with_one_decimal() {
    let db = TestDb::migrated();
    let (_, rows) = health(
        &db,
        &[
            "--check",
            "database-size,table-size",
            "--warning",
            "table-size=10GiB",
        ],
    );
    let size = row(&rows, "database-size")["value"]
        .as_str()
        .unwrap()
        .to_string();
    let (number, unit) = size.split_once(' ').expect("a number and a unit");
    assert!(["KiB", "MiB", "GiB"].contains(&unit), "{size}");
    let (whole, tenth) = number.split_once('.').expect("one decimal");
    assert!(whole.parse::<u32>().is_ok() && tenth.len() == 1, "{size}");
    assert_eq!(row(&rows, "table-size")["warning"], "10.0 GiB");
    let message = row(&rows, "table-size")["message"].as_str().unwrap();
    assert!(
        message.contains(" KiB") || message.contains(" MiB"),
        "{message}"
    );
}

/// Prometheus's text format parsed by a real parser (the `prometheus-parse` crate), held to
/// what that parser forgives: every line is a HELP, a TYPE or a sample it read (it drops a line
/// it cannot read), every family is a documented gauge, and no sample carries a timestamp
/// (node_exporter's textfile collector refuses them).
pub(crate) fn scrape(text: &str) -> prometheus_parse::Scrape {
    let lines: Vec<&str> = text.lines().collect();
    let scrape = prometheus_parse::Scrape::parse(lines.iter().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not Prometheus's format: {e}\n{text}"));
    let samples = lines.iter().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        scrape.samples.len(),
        samples,
        "a line was not read:\n{text}"
    );
    for line in lines.iter().filter(|l| l.starts_with('#')) {
        assert!(
            line.starts_with("# HELP crm_") || line.starts_with("# TYPE crm_"),
            "{line}"
        );
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            assert!(rest.ends_with(" gauge"), "{line}");
        }
    }
    for sample in &scrape.samples {
        assert!(
            matches!(sample.value, prometheus_parse::Value::Gauge(_)),
            "{} is not a gauge:\n{text}",
            sample.metric
        );
        assert!(
            scrape.docs.contains_key(&sample.metric),
            "{} has no HELP",
            sample.metric
        );
    }
    for line in lines.iter().filter(|l| !l.starts_with('#')) {
        // After the labels (whose values may hold spaces), or the name: the value alone.
        let after = match line.rsplit_once('}') {
            Some((_, after)) => after.to_string(),
            None => line.split_once(' ').map(|(_, v)| format!(" {v}")).unwrap(),
        };
        assert_eq!(
            after.split(' ').count(),
            2,
            "a timestamp or no value: {line}"
        );
    }
    scrape
}

/// The value of `metric` whose `label` is `value` (or with no labels when `label` is empty).
pub(crate) fn gauge(
    scrape: &prometheus_parse::Scrape,
    metric: &str,
    label: &str,
    value: &str,
) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && (label.is_empty() || s.labels.get(label) == Some(value)))
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("{metric} is not a gauge: {other:?}"),
        })
}

#[test]
fn prometheus_output_has_each_check_s_state_and_figure_and_the_same_exit_code() {
    let db = TestDb::migrated();
    let checks = "connection,connections,database-size,invalid-indexes,xid-age,migrations";
    let out = db
        .crm()
        .args(["-o", "prometheus", "db", "health", "--check", checks])
        .args(["--warning", "database-size=1MiB"])
        .run();
    out.assert_code(1);
    let metrics = scrape(&out.stdout);
    let status = |check| {
        gauge(&metrics, "crm_health_check_status", "check", check)
            .unwrap_or_else(|| panic!("no state for {check}:\n{}", out.stdout))
    };
    for check in checks.split(',') {
        let expected = if check == "database-size" { 1.0 } else { 0.0 };
        assert_eq!(status(check), expected, "{check}");
    }
    assert_eq!(gauge(&metrics, "crm_health_status", "", ""), Some(1.0));
    // Figures in Prometheus's base units, one family per unit.
    let size = gauge(&metrics, "crm_health_check_bytes", "check", "database-size").unwrap();
    let listed_size = count(&db, "SELECT pg_database_size(current_database())") as f64;
    assert!(size > 1024.0 * 1024.0 && (size - listed_size).abs() < listed_size / 2.0);
    let used = gauge(&metrics, "crm_health_check_ratio", "check", "connections").unwrap();
    assert!(used > 0.0 && used < 1.0, "{used}");
    let latency = gauge(&metrics, "crm_health_check_seconds", "check", "connection").unwrap();
    assert!((0.0..5.0).contains(&latency), "{latency}");
    assert_eq!(
        gauge(
            &metrics,
            "crm_health_check_count",
            "check",
            "invalid-indexes"
        ),
        Some(0.0)
    );
    assert_eq!(
        gauge(&metrics, "crm_health_check_seconds", "check", "migrations"),
        None,
        "migrations has a state but no figure"
    );
    assert!(metrics.docs["crm_health_check_status"].contains("0 OK, 1 WARNING, 2 CRITICAL"));

    // CRITICAL and UNKNOWN: the exit code is the worst state, as in every other format.
    let out = db
        .crm()
        .args(["-o", "prometheus", "db", "health", "--check", "connections"])
        .args(["--critical", "connections=0%"])
        .run();
    out.assert_code(2);
    assert_eq!(
        gauge(&scrape(&out.stdout), "crm_health_status", "", ""),
        Some(2.0)
    );
    let out = db
        .crm()
        .args([
            "-o",
            "prometheus",
            "db",
            "health",
            "--check",
            "slow-statements",
        ])
        .run();
    out.assert_code(3);
    let metrics = scrape(&out.stdout);
    assert_eq!(
        gauge(
            &metrics,
            "crm_health_check_status",
            "check",
            "slow-statements"
        ),
        Some(3.0)
    );
}

#[test]
fn prometheus_output_to_a_file_replaces_it_whole_for_the_textfile_collector() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crm.prom");
    std::fs::write(&file, "# an older run\n").unwrap();
    let out = db
        .crm()
        .args(["-o", "prometheus", "db", "health", "--check", "connections"])
        .args(["--warning", "connections=0%", "--output"])
        .arg(&file)
        .run();
    out.assert_code(1);
    assert_eq!(out.stdout, "", "the metrics go to the file only");
    let text = std::fs::read_to_string(&file).unwrap();
    let metrics = scrape(&text);
    assert_eq!(
        gauge(&metrics, "crm_health_check_status", "check", "connections"),
        Some(1.0)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["crm.prom"], "no temporary file is left behind");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o444, 0o444, "node_exporter's user can read it");

    // A folder that does not exist: UNKNOWN, and nothing written.
    db.crm()
        .args(["-o", "prometheus", "db", "health", "--check", "connections"])
        .arg("--output")
        .arg(dir.path().join("nowhere/crm.prom"))
        .run()
        .assert_code(3)
        .assert_stderr_contains("nowhere");
}

#[test]
fn output_without_prometheus_and_nagios_with_it_are_bad_arguments_exit_3() {
    let db = TestDb::migrated();
    db.crm()
        .args(["-o", "json", "db", "health", "--output", "x.prom"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("--output FILE writes the metrics of -o prometheus");
    db.crm()
        .args(["-o", "prometheus", "db", "health", "--nagios"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("--nagios and -o prometheus are two formats");
}

#[test]
fn commands_whose_results_are_not_metrics_refuse_prometheus_before_doing_anything() {
    let db = TestDb::migrated();
    db.crm()
        .args(["-o", "prometheus", "customers", "list"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "-o prometheus is the format of `crm db health` and `crm db backup list` only",
        );
    db.crm()
        .args([
            "-o",
            "prometheus",
            "customers",
            "create",
            "--first-name",
            "Ada",
        ])
        .args(["--last-name", "Lovelace", "--email", "ada@example.com"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("expected table, wide, csv or json");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 0);
}
