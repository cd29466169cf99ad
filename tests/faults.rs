//! crm under faults: a lock held elsewhere never hangs a command (`--lock-timeout`), while
//! waiting for another crm run stays unbounded.

use crate::harness::{Crm, Output, PrivateServer, TestDb, count, sql, wait_for, wait_until};
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

/// Whether crm's session runs a statement starting with `prefix` (case-insensitive).
fn running(prefix: &str) -> String {
    format!(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'crm' \
         AND state = 'active' AND query ILIKE '{prefix}%'"
    )
}

fn customers_csv(rows: usize) -> String {
    let mut csv = String::from("firstName,lastName,email\n");
    for i in 0..rows {
        csv.push_str(&format!("Ada,Lovelace,ada{i}@example.com\n"));
    }
    csv
}

fn generate_customers(client: &mut postgres::Client, rows: i32) {
    client
        .execute(
            r#"INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
               SELECT 'Ada', 'Lovelace', 'ada' || i || '@example.com', now(), now()
               FROM generate_series(1, $1) AS i"#,
            &[&rows],
        )
        .unwrap();
}

fn customer_count(server: &PrivateServer) -> i64 {
    server
        .client("crm")
        .query_one(r#"SELECT count(*) FROM "Customers""#, &[])
        .unwrap()
        .get(0)
}

/// Runs `crm`, waits until `busy` (a boolean query, run from the postgres database) holds, then
/// stops the server at once, as a crash would; crm must exit 4 saying the server went away.
fn crash_during(server: &PrivateServer, crm: &mut Crm, busy: &str, what: &str) -> Output {
    let mut watcher = server.client("postgres");
    let child = crm.spawn();
    wait_for(&mut watcher, busy, what, Duration::from_secs(30));
    drop(watcher);
    server.stop();
    let out = crm.wait(child);
    out.assert_code(4)
        .assert_stderr_contains("server closed the connection");
    out
}

#[test]
fn the_server_stopping_during_an_import_leaves_none_of_it() {
    let server = PrivateServer::start("");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    std::fs::write(&file, customers_csv(200_000)).unwrap();
    let mut import = server.crm();
    import.args(["customers", "import"]).arg(&file);
    let out = crash_during(&server, &mut import, &running("COPY"), "the import's COPY");
    assert!(
        out.stderr.starts_with("error: cannot import customers"),
        "{}",
        out.stderr
    );
    server.restart();
    assert_eq!(customer_count(&server), 0);
    // The next run works.
    server
        .crm()
        .args(["customers", "import"])
        .arg(&file)
        .run()
        .assert_success();
    assert_eq!(customer_count(&server), 200_000);
}

#[test]
fn the_server_stopping_during_an_export_leaves_no_file() {
    let server = PrivateServer::start("");
    generate_customers(&mut server.client("crm"), 300_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    let mut export = server.crm();
    export.args(["customers", "export"]).arg(&file);
    let out = crash_during(&server, &mut export, &running("COPY"), "the export's COPY");
    assert!(
        out.stderr.starts_with("error: cannot export customers"),
        "{}",
        out.stderr
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn the_server_stopping_during_an_order_leaves_no_order_and_the_stock() {
    let server = PrivateServer::start("");
    server.client("crm").batch_execute(PRODUCT).unwrap();
    let mut holder = server.client("crm");
    holder
        .batch_execute(r#"BEGIN; SELECT 1 FROM "Products" WHERE "id" = 1 FOR UPDATE"#)
        .unwrap();
    let mut order = server.crm();
    order.args([
        "--lock-timeout",
        "0",
        "orders",
        "create",
        "--customer",
        "1",
        "--item",
        "1:2",
    ]);
    let out = crash_during(
        &server,
        &mut order,
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'crm' \
         AND wait_event_type = 'Lock'",
        "the order to wait for the product",
    );
    drop(holder);
    assert!(
        out.stderr.starts_with("error: cannot create the order")
            && out.stderr.contains("the server closed the connection"),
        "{}",
        out.stderr
    );
    server.restart();
    let mut client = server.client("crm");
    let orders: i64 = client
        .query_one(r#"SELECT count(*) FROM "Orders""#, &[])
        .unwrap()
        .get(0);
    let stock: i32 = client
        .query_one(r#"SELECT "stock" FROM "Products" WHERE "id" = 1"#, &[])
        .unwrap()
        .get(0);
    assert_eq!((orders, stock), (0, 5));
}

#[test]
fn the_server_stopping_during_a_restore_leaves_the_live_database_as_it_was() {
    let server = PrivateServer::start("");
    generate_customers(&mut server.client("crm"), 300_000);
    let dir = tempfile::tempdir().unwrap();
    server
        .crm()
        .args(["db", "backup", "--dir"])
        .arg(dir.path())
        .run()
        .assert_success();
    let backup = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .unwrap();
    server
        .client("crm")
        .batch_execute(r#"DELETE FROM "Customers" WHERE "id" > 1000"#)
        .unwrap();

    let mut restore = server.crm();
    restore.args(["db", "restore", "--yes"]).arg(&backup);
    let out = crash_during(
        &server,
        &mut restore,
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname LIKE 'crm\\_restoring\\_%' \
         AND state = 'active' AND query ILIKE 'COPY%'",
        "pg_restore's COPY",
    );
    // The copy being restored could not be dropped with the server gone: crm says so.
    assert!(
        out.stderr.contains("could not be dropped")
            && out.stderr.contains("and database \"crm\" was not touched"),
        "{}",
        out.stderr
    );
    server.restart();
    assert_eq!(customer_count(&server), 1000);
    // The next run works, puts the backup's rows in place, and names the partial copy left.
    server
        .crm()
        .args(["db", "restore", "--yes"])
        .arg(&backup)
        .run()
        .assert_success()
        .assert_stderr_contains("is the partial copy of an earlier restore that was cut short")
        .assert_stderr_contains("DROP DATABASE \"crm_restoring_");
    assert_eq!(customer_count(&server), 300_000);
}

#[test]
fn a_server_with_every_connection_slot_taken_gives_exit_4() {
    let server = PrivateServer::start("max_connections = 4\nsuperuser_reserved_connections = 0");
    let held: Vec<postgres::Client> = (0..4).map(|_| server.client("crm")).collect();
    server
        .crm()
        .args(["customers", "list"])
        .run()
        .assert_code(4)
        .assert_stderr_contains("too many clients");
    drop(held);
    server
        .crm()
        .args(["customers", "list"])
        .run()
        .assert_success();
}

fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

/// crm's session in `db` runs a statement starting with `prefix`.
fn running_in(db: &TestDb, prefix: &str) -> String {
    format!(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' \
         AND application_name = 'crm' AND query ILIKE '{prefix}%'",
        db.name
    )
}

fn interrupted_import(signal_name: &str) {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    std::fs::write(&file, customers_csv(200_000)).unwrap();
    let mut watcher = db.client();
    let mut import = db.crm();
    import.args(["customers", "import"]).arg(&file);
    let child = import.spawn();
    wait_for(
        &mut watcher,
        &running_in(&db, "COPY"),
        "the import's COPY",
        Duration::from_secs(30),
    );
    signal(&child, signal_name);
    let out = import.wait(child);
    if signal_name == "INT" {
        out.assert_code(130).assert_stderr_contains("interrupted");
    } else {
        assert_ne!(out.code(), 0);
    }
    // The server notices the closed connection and rolls back; give it a moment to.
    wait_for(
        &mut watcher,
        &format!(
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = '{}' \
             AND application_name = 'crm'",
            db.name
        ),
        "the interrupted session to end",
        Duration::from_secs(30),
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 0);
    db.crm()
        .args(["customers", "import"])
        .arg(&file)
        .run()
        .assert_success();
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 200_000);
}

#[test]
fn ctrl_c_during_an_import_commits_nothing_and_the_next_run_works() {
    interrupted_import("INT");
}

#[test]
fn sigkill_during_an_import_commits_nothing_and_the_next_run_works() {
    interrupted_import("KILL");
}

/// A pg_dump on PATH that writes half an archive into its --file, says so, and then hangs: a
/// backup caught in the middle.
fn hanging_pg_dump(bin: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let script = bin.join("pg_dump");
    std::fs::write(
        &script,
        "#!/bin/sh\n\
         if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.0'; exit 0; fi\n\
         while [ $# -gt 0 ]; do if [ \"$1\" = --file ]; then out=$2; fi; shift; done\n\
         printf 'PGDMP half an archive' > \"$out\"\n\
         touch \"$out.started\"\n\
         exec sleep 20\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn interrupted_backup(signal_name: &str) {
    let db = TestDb::migrated();
    let bin = tempfile::tempdir().unwrap();
    hanging_pg_dump(bin.path());
    let backups = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut backup = db.crm();
    backup
        .env("PATH", &path)
        .args(["db", "backup", "--dir"])
        .arg(backups.path());
    let child = backup.spawn();
    wait_until(Duration::from_secs(30), "pg_dump to start", || {
        files_in(backups.path())
            .iter()
            .any(|n| n.ends_with(".started"))
    });
    signal(&child, signal_name);
    let out = backup.wait(child);
    let left = files_in(backups.path());
    assert!(
        !left.iter().any(|n| n.starts_with("backup_")),
        "a file under a backup's name: {left:?}"
    );
    if signal_name == "INT" {
        out.assert_code(130);
        // The guard removed the temporary file.
        assert!(
            !left.iter().any(|n| n.ends_with(".partial")),
            "temporary files left: {left:?}"
        );
    } else {
        assert_ne!(out.code(), 0);
    }
    // The next run, with the real pg_dump, sweeps what was left and writes a good backup.
    for name in &left {
        if name.ends_with(".started") {
            std::fs::remove_file(backups.path().join(name)).unwrap();
        }
    }
    db.crm()
        .args(["db", "backup", "--dir"])
        .arg(backups.path())
        .run()
        .assert_success();
    let after = files_in(backups.path());
    assert!(!after.iter().any(|n| n.ends_with(".partial")), "{after:?}");
    assert_eq!(
        after.iter().filter(|n| n.ends_with(".dump")).count(),
        1,
        "{after:?}"
    );
}

#[test]
fn ctrl_c_during_a_backup_leaves_no_file_and_the_next_run_works() {
    interrupted_backup("INT");
}

#[test]
fn sigkill_during_a_backup_leaves_no_backup_and_the_next_run_sweeps_its_temporary_file() {
    interrupted_backup("KILL");
}
