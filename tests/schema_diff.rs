//! `crm db schema diff`: nothing on crm's own schema, only compatible rows on the original
//! application's database once adopted, one drift row for each change made by hand, and no
//! scratch database left behind whether the command succeeds, fails or is interrupted.

use crate::harness::{Schema, TestDb, TestRole, count, crm, server, sql, wait_for};
use crate::local::LocalHome;
use std::time::Duration;

const HEADER: &str = "object,kind,expected,actual,verdict\n";

/// The rows of a diff's CSV (without the header), each split into its five fields.
fn rows(stdout: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The scratch databases of diffs of `db` that exist now.
fn scratch_databases(db: &TestDb) -> i64 {
    let mut admin = server().admin_client();
    admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)",
            &[&format!("{}_schema_diff_", db.name)],
        )
        .unwrap()
        .get(0)
}

#[test]
fn on_crms_own_schema_there_is_no_difference() {
    let db = TestDb::on(Schema::Crm);
    let out = db.crm().args(["db", "schema", "diff"]).run();
    out.assert_success().assert_stdout_eq(HEADER);
    assert_eq!(
        scratch_databases(&db),
        0,
        "the scratch database was left behind"
    );
}

#[test]
fn on_the_adopted_application_database_every_difference_is_compatible() {
    let db = TestDb::on(Schema::App);
    let out = db.crm().args(["db", "schema", "diff"]).run();
    out.assert_success();
    let rows = rows(&out.stdout);
    for row in &rows {
        assert_eq!(
            row[4], "compatible",
            "a row that is not compatible: {row:?}\n{out}"
        );
    }
    let has = |object: &str, kind: &str| rows.iter().any(|r| r[0] == object && r[1] == kind);
    for column in ["Users.role", "Orders.status", "Notifications.priority"] {
        assert!(
            has(column, "type"),
            "no row for the ENUM column {column}\n{out}"
        );
    }
    assert!(has("users_email_idx", "index name"), "{out}");
    assert!(has("SequelizeMeta", "table"), "{out}");
    let role = rows
        .iter()
        .find(|r| r[0] == "Users.role" && r[1] == "type")
        .unwrap();
    assert_eq!(role[3], r#""enum_Users_role" ENUM (admin, staff)"#);
}

/// Each change made by hand, on a fresh database of the schema under test, is one drift row
/// naming what changed, and exit 1.
#[test]
fn each_change_made_by_hand_is_one_drift_row_and_exit_1() {
    let changes = [
        (
            r#"ALTER TABLE "Customers" DROP COLUMN "address""#,
            "Customers.address",
            "column",
        ),
        (
            r#"DROP INDEX "orders_customer_date_idx""#,
            "orders_customer_date_idx",
            "index",
        ),
        (
            r#"ALTER TABLE "Products" ALTER COLUMN "image" TYPE text"#,
            "Products.image",
            "type",
        ),
        (
            r#"ALTER TABLE "Orders" DROP CONSTRAINT "Orders_customerId_fkey""#,
            "Orders.Orders_customerId_fkey",
            "foreign key",
        ),
    ];
    for (change, object, kind) in changes {
        let db = TestDb::migrated();
        sql(&db, change);
        let out = db.crm().args(["db", "schema", "diff"]).run();
        out.assert_code(1)
            .assert_stderr_contains("drifted from crm's migrations in 1 place");
        let drift: Vec<Vec<String>> = rows(&out.stdout)
            .into_iter()
            .filter(|r| r[4] == "drift")
            .collect();
        assert_eq!(drift.len(), 1, "after {change}: {drift:?}\n{out}");
        assert_eq!(
            (drift[0][0].as_str(), drift[0][1].as_str()),
            (object, kind),
            "after {change}"
        );
    }
    // A changed rule of a foreign key is drift too, shown with both definitions.
    let db = TestDb::migrated();
    sql(
        &db,
        r#"ALTER TABLE "Orders" DROP CONSTRAINT "Orders_customerId_fkey";
           ALTER TABLE "Orders" ADD CONSTRAINT "Orders_customerId_fkey" FOREIGN KEY ("customerId")
               REFERENCES "Customers"("id") ON DELETE CASCADE"#,
    );
    let out = db.crm().args(["db", "schema", "diff"]).run();
    out.assert_code(1);
    let drift: Vec<Vec<String>> = rows(&out.stdout)
        .into_iter()
        .filter(|r| r[4] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{out}");
    assert!(
        drift[0][2].contains("ON DELETE SET NULL") && drift[0][3].contains("ON DELETE CASCADE")
    );
    assert_eq!(
        scratch_databases(&db),
        0,
        "a scratch database was left behind"
    );
}

/// A session of the test's own holding crm's schema lock, as `crm db migrate` does.
fn hold_schema_lock(db: &TestDb) -> postgres::Client {
    let mut holder = db.client();
    holder
        .batch_execute("SELECT pg_advisory_lock(x'63726d'::int, 1)")
        .unwrap();
    holder
}

const WAITING_FOR_THE_SCHEMA_LOCK: &str = "SELECT count(*) > 0 FROM pg_locks \
     WHERE locktype = 'advisory' AND NOT granted AND classid = x'63726d'::int::oid AND objid = 1";

/// While a migration holds the schema lock the diff waits (a half-applied migration is not
/// drift); a diff that fails there, or is interrupted there, leaves no scratch database.
#[test]
fn the_scratch_database_is_dropped_when_the_diff_fails_or_is_interrupted() {
    let db = TestDb::migrated();
    let holder = hold_schema_lock(&db);

    // Failing: the wait is bounded by --lock-timeout.
    let out = db
        .crm()
        .args(["--lock-timeout", "1s", "db", "schema", "diff"])
        .run();
    out.assert_code(5);
    assert_eq!(
        scratch_databases(&db),
        0,
        "the failed diff left its scratch database\n{out}"
    );

    // Interrupted, while the scratch database exists and the diff waits.
    let mut diff = db.crm();
    diff.args(["--lock-timeout", "0", "db", "schema", "diff"]);
    let child = diff.spawn();
    wait_for(
        &mut db.client(),
        WAITING_FOR_THE_SCHEMA_LOCK,
        "the diff to wait for the schema lock",
        Duration::from_secs(20),
    );
    assert_eq!(
        scratch_databases(&db),
        1,
        "the scratch database should exist by now"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    diff.wait(child).assert_code(130);
    assert_eq!(
        scratch_databases(&db),
        0,
        "the interrupted diff left its scratch database"
    );

    // Once the migration is done, the diff runs.
    drop(holder);
    db.crm()
        .args(["db", "schema", "diff"])
        .run()
        .assert_success();
    assert_eq!(count(&db, "SELECT 1::int8"), 1);
}

/// A role that may not create databases still gets its diff: crm's schema is built in crm's
/// local cluster, which it says, and nothing is left on the server.
#[test]
fn without_createdb_crms_schema_is_built_in_the_local_cluster() {
    let db = TestDb::migrated();
    sql(&db, r#"ALTER TABLE "Customers" DROP COLUMN "address""#);
    let role = TestRole::create(&db, "nocreatedb", "NOCREATEDB");
    let url = format!(
        "postgresql://{}@127.0.0.1:{}/{}",
        role.0,
        server().port,
        db.name
    );
    let home = LocalHome::new();
    let out = crm()
        .env("CRM_HOME", &home.crm_home)
        .args(["--database-url", &url, "db", "schema", "diff"])
        .run();
    out.assert_code(1)
        .assert_stderr_contains("refuses CREATE DATABASE to this role")
        .assert_stderr_contains("crm's local cluster");
    let drift: Vec<Vec<String>> = rows(&out.stdout)
        .into_iter()
        .filter(|r| r[4] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{out}");
    assert_eq!(drift[0][0], "Customers.address");
    assert_eq!(scratch_databases(&db), 0);
}
