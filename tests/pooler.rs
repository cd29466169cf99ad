//! crm through PgBouncer 1.18 in transaction pooling (issue 19, item 1), each test with a
//! PgBouncer of its own in front of the test server: every command group's main commands give
//! the same results through the pooler as directly; the session-bound commands (migrate, seed,
//! maintain, backup, restore) either work or refuse with exit 2 naming `--direct-url` and
//! `CRM_DIRECT_URL`, and work when given one; no advisory lock is ever left held on a pooled
//! server connection; `--lock-timeout` still applies; and a pooler that refuses or silently drops
//! the `options` startup parameter is detected all the same.
//!
//! Reads are run both ways on the same database and compared byte for byte; writes are made
//! through the pooler and checked by the rows they leave (read directly). A failed assertion on a
//! run through the pooler ([`Through`]) shows PgBouncer's log after crm's output. One test puts
//! the pooler in front of a private server with fewer connection slots than crm processes, which
//! is what a pooler is for.

use crate::harness::{
    Crm, Output, PgBouncer, PrivateServer, Schema, TABLES, TestDb, checksums, count, crm,
    databases_like, free_port, server, sql,
};
use serde_json::Value;
use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// The seeded users' password, and bcrypt's cheapest cost crm accepts (its default takes four
/// times as long and is tested elsewhere).
const PASSWORD: &str = "pooled pass 4 tests";
const BCRYPT_COST: &str = "10";

/// What a refusal of a session-bound command through the pooler must name.
const DIRECT_URL_FLAG: &str = "--direct-url";
const DIRECT_URL_VARIABLE: &str = "CRM_DIRECT_URL";

/// PgBouncer told to drop the `options` startup parameter silently instead of refusing it.
const IGNORE_OPTIONS: &str = "ignore_startup_parameters = extra_float_digits, options";

/// check's clean data set (users, customers, products, orders, a notification, a preference)
/// in a migrated database, and a PgBouncer in front of the server.
fn clean_behind_pooler() -> (TestDb, PgBouncer) {
    let db = TestDb::migrated();
    sql(&db, crate::check::CLEAN);
    (db, PgBouncer::in_front_of_test_server(""))
}

/// `crm --database-url <db through the pooler>`.
fn pooled(db: &TestDb, bouncer: &PgBouncer) -> Crm {
    let mut crm = crm();
    crm.arg("--database-url").arg(bouncer.url(&db.name));
    crm
}

/// `crm --database-url <db through the pooler> --direct-url <db directly>`.
fn pooled_with_direct_url(db: &TestDb, bouncer: &PgBouncer) -> Crm {
    let mut crm = pooled(db, bouncer);
    crm.arg("--direct-url").arg(db.url());
    crm
}

/// Runs `crm ARGS` directly, then through the pooler, on the same database: both must exit
/// alike and print the same stdout. Returns the pooled run.
#[track_caller]
fn same_both_ways(db: &TestDb, bouncer: &PgBouncer, args: &[&str]) -> Output {
    let direct = db.crm().args(args).run();
    let through = pooled(db, bouncer).args(args).run();
    if direct.code() != through.code() || direct.stdout != through.stdout {
        panic!(
            "through the pooler differs from directly\n\n--- directly ---\n{direct}\n\
             --- through the pooler ---\n{through}\n{}",
            bouncer.log()
        );
    }
    through
}

/// Like [`same_both_ways`], and both must succeed.
#[track_caller]
fn same_both_ways_ok(db: &TestDb, bouncer: &PgBouncer, args: &[&str]) -> Output {
    let out = same_both_ways(db, bouncer, args);
    out.assert_success();
    out
}

/// The advisory locks held in `db` (over a direct connection, after crm exited): any would be
/// one crm left on a server connection that the pool keeps open.
fn advisory_locks(db: &TestDb) -> i64 {
    count(
        db,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
}

#[track_caller]
fn assert_no_advisory_lock(db: &TestDb, after: &Output) {
    assert_eq!(
        advisory_locks(db),
        0,
        "an advisory lock is still held in the database after crm exited\n\n{after}"
    );
}

/// A run through the pooler: crm's output, and the pooler whose log a failed assertion shows.
struct Through<'a> {
    out: Output,
    bouncer: &'a PgBouncer,
}

trait RunThrough {
    /// Runs crm to the end, through `bouncer`.
    fn run_through<'a>(&mut self, bouncer: &'a PgBouncer) -> Through<'a>;
}

impl RunThrough for Crm {
    fn run_through<'a>(&mut self, bouncer: &'a PgBouncer) -> Through<'a> {
        Through {
            out: self.run(),
            bouncer,
        }
    }
}

impl Through<'_> {
    #[track_caller]
    fn assert_success(&self) -> &Self {
        if !self.out.status.success() {
            self.fail("expected crm to succeed");
        }
        self
    }

    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        if self.out.code() != code {
            self.fail(&format!(
                "expected exit code {code}, got {}",
                self.out.code()
            ));
        }
        self
    }

    #[track_caller]
    fn assert_stderr_contains(&self, needle: &str) -> &Self {
        if !self.out.stderr.contains(needle) {
            self.fail(&format!("expected stderr to contain {needle:?}"));
        }
        self
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!("{what}\n\n{self}")
    }
}

impl std::ops::Deref for Through<'_> {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.out
    }
}

impl std::fmt::Display for Through<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.out, self.bouncer.log())
    }
}

/// A refusal of a session-bound command through the pooler: exit 2, naming both ways to give
/// a direct URL.
#[track_caller]
fn assert_refused_for_direct_url(out: &Through) {
    out.assert_code(2)
        .assert_stderr_contains(DIRECT_URL_FLAG)
        .assert_stderr_contains(DIRECT_URL_VARIABLE);
}

/// The one JSON object a command printed.
fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not one JSON object: {e}\n{out}"))
}

/// The `id` of the one JSON object a command printed.
fn id_of(out: &Output) -> String {
    json_of(out)["id"].to_string()
}

/// A product's stock.
fn stock(db: &TestDb, product: i32) -> i64 {
    count(
        db,
        &format!(r#"SELECT "stock"::bigint FROM "Products" WHERE "id" = {product}"#),
    )
}

/// The single text a query returns.
fn text(db: &TestDb, query: &str) -> String {
    db.client()
        .query_one(query, &[])
        .unwrap_or_else(|e| panic!("cannot run {query}: {e:?}"))
        .get(0)
}

/// Every relation of the public schema, by name and kind: equal before and after, nothing was
/// created or dropped.
fn relations(db: &TestDb) -> Vec<(String, String)> {
    db.client()
        .query(
            "SELECT relname::text, relkind::text FROM pg_class \
             WHERE relnamespace = 'public'::regnamespace ORDER BY 1, 2",
            &[],
        )
        .expect("list the relations")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Each crm table's row count.
fn row_counts(db: &TestDb) -> Vec<(String, i64)> {
    TABLES
        .iter()
        .map(|t| {
            (
                t.to_string(),
                count(db, &format!(r#"SELECT count(*) FROM "{t}""#)),
            )
        })
        .collect()
}

/// A database not yet migrated by crm: an empty one, or on the application's schema the
/// application's own database as its tools left it.
fn unmigrated() -> TestDb {
    match Schema::under_test() {
        Schema::Crm => TestDb::empty(),
        Schema::App => TestDb::app_fixture(),
    }
}

/// Whether every migration is applied (`db migrate status --exit-code`, directly).
#[track_caller]
fn fully_migrated(db: &TestDb) -> bool {
    let out = db
        .crm()
        .args(["db", "migrate", "status", "--exit-code"])
        .run();
    match out.code() {
        0 => true,
        1 => false,
        _ => panic!("db migrate status failed\n\n{out}"),
    }
}

// --- the harness ------------------------------------------------------------------------------

#[test]
fn the_harness_pgbouncer_shares_its_server_connections_between_clients() {
    let db = TestDb::migrated();
    let bouncer = PgBouncer::in_front_of_test_server("");
    // One client after another, each with a connection of its own: with a pool of two server
    // connections, three clients cannot all have had a backend of their own.
    let pids: Vec<String> = (0..3)
        .map(|_| {
            let mut client = postgres::Client::connect(&bouncer.url(&db.name), postgres::NoTls)
                .unwrap_or_else(|e| {
                    panic!("cannot connect through PgBouncer: {e}\n{}", bouncer.log())
                });
            // The simple protocol: a named prepared statement would not survive pooling.
            let rows = client
                .simple_query("SELECT pg_backend_pid()")
                .expect("SELECT pg_backend_pid() through PgBouncer");
            rows.iter()
                .find_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                    _ => None,
                })
                .expect("a pid")
        })
        .collect();
    let distinct: HashSet<&String> = pids.iter().collect();
    assert!(
        distinct.len() <= 2,
        "three backends for a pool of two: {pids:?}"
    );
    let url = bouncer.url(&db.name);
    drop(bouncer);
    assert!(
        postgres::Client::connect(&url, postgres::NoTls).is_err(),
        "PgBouncer still accepts connections after it was dropped"
    );
}

// --- each command group, directly and through the pooler ---------------------------------------

#[test]
fn users_create_list_show_update_through_the_pooler_as_directly() {
    let (db, bouncer) = clean_behind_pooler();
    let created = pooled(&db, &bouncer)
        .args(["-o", "json", "users", "create", "--password-stdin"])
        .args(["--first-name", "Carol", "--last-name", "Shaw"])
        .args(["--email", "Carol@Example.com", "--role", "staff"])
        .env("CRM_BCRYPT_COST", BCRYPT_COST)
        .stdin(format!("{PASSWORD}\n"))
        .run_through(&bouncer);
    created.assert_success();
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Users" WHERE "email" = 'carol@example.com' AND "role"::text = 'staff'"#
        ),
        1,
        "{created}"
    );
    let id = id_of(&created);
    assert_no_advisory_lock(&db, &created);
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "users", "list"]);
    same_both_ways_ok(&db, &bouncer, &["-o", "json", "users", "show", &id]);

    let updated = pooled(&db, &bouncer)
        .args([
            "-o",
            "json",
            "users",
            "update",
            "carol@example.com",
            "--last-name",
            "Kernighan",
        ])
        .run_through(&bouncer);
    updated.assert_success();
    assert_eq!(
        text(
            &db,
            r#"SELECT "lastName" FROM "Users" WHERE "email" = 'carol@example.com'"#
        ),
        "Kernighan"
    );
    same_both_ways_ok(
        &db,
        &bouncer,
        &["-o", "json", "users", "show", "carol@example.com"],
    );
    same_both_ways_ok(
        &db,
        &bouncer,
        &["-o", "csv", "users", "list", "--search", "kern"],
    );
}

#[test]
fn customers_create_list_show_update_import_export_through_the_pooler_as_directly() {
    let (db, bouncer) = clean_behind_pooler();
    let created = pooled(&db, &bouncer)
        .args([
            "-o",
            "json",
            "customers",
            "create",
            "--first-name",
            "Edsger",
        ])
        .args([
            "--last-name",
            "Dijkstra",
            "--email",
            "ewd@example.nl",
            "--phone",
            "+31 20 555",
        ])
        .run_through(&bouncer);
    created.assert_success();
    let id = id_of(&created);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Customers" WHERE "email" = 'ewd@example.nl'"#
        ),
        1
    );
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "customers", "list"]);
    same_both_ways_ok(&db, &bouncer, &["-o", "json", "customers", "show", &id]);

    pooled(&db, &bouncer)
        .args([
            "-o",
            "json",
            "customers",
            "update",
            &id,
            "--address",
            "Nuenen",
        ])
        .run_through(&bouncer)
        .assert_success();
    assert_eq!(
        text(
            &db,
            &format!(r#"SELECT "address" FROM "Customers" WHERE "id" = {id}"#)
        ),
        "Nuenen"
    );
    same_both_ways_ok(&db, &bouncer, &["-o", "json", "customers", "show", &id]);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    fs::write(
        &file,
        "firstName,lastName,email\nBarbara,Liskov,liskov@mit.edu\nDonald,Knuth,knuth@stanford.edu\n",
    )
    .unwrap();
    let imported = pooled(&db, &bouncer)
        .args(["customers", "import"])
        .arg(&file)
        .run_through(&bouncer);
    imported.assert_success();
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Customers" WHERE "email" IN ('liskov@mit.edu', 'knuth@stanford.edu')"#
        ),
        2,
        "{imported}"
    );
    assert_no_advisory_lock(&db, &imported);
    same_both_ways_ok(&db, &bouncer, &["customers", "export"]);
    same_both_ways_ok(
        &db,
        &bouncer,
        &["customers", "export", "--search", "stanford"],
    );
}

#[test]
fn products_create_list_stock_through_the_pooler_as_directly() {
    let (db, bouncer) = clean_behind_pooler();
    let created = pooled(&db, &bouncer)
        .args([
            "-o", "json", "products", "create", "--name", "Lamp", "--price", "12.50",
        ])
        .args(["--stock", "7", "--category", "Light"])
        .run_through(&bouncer);
    created.assert_success();
    let id = id_of(&created);
    let product: i32 = id.parse().expect("a product id");
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "products", "list"]);
    same_both_ways_ok(
        &db,
        &bouncer,
        &["-o", "csv", "products", "list", "--category", "Light"],
    );

    let stocked = pooled(&db, &bouncer)
        .args(["-o", "json", "products", "stock", &id, "--add", "5"])
        .run_through(&bouncer);
    stocked.assert_success();
    assert_eq!(stock(&db, product), 12, "{stocked}");
    // Short stock is the same conflict through the pooler, and writes nothing.
    pooled(&db, &bouncer)
        .args(["products", "stock", &id, "--remove", "13"])
        .run_through(&bouncer)
        .assert_code(5);
    assert_eq!(stock(&db, product), 12);
    same_both_ways_ok(&db, &bouncer, &["-o", "json", "products", "show", &id]);
}

#[test]
fn orders_create_list_show_set_status_export_and_reports_through_the_pooler_as_directly() {
    let (db, bouncer) = clean_behind_pooler();
    let created = pooled(&db, &bouncer)
        .args(["-o", "json", "orders", "create", "--customer", "2"])
        .args([
            "--item",
            "1:4",
            "--item",
            "2:1",
            "--notes",
            "through the pooler",
        ])
        .run_through(&bouncer);
    created.assert_success();
    let id = id_of(&created);
    assert_eq!(
        text(
            &db,
            &format!(r#"SELECT "total"::text FROM "Orders" WHERE "id" = {id}"#)
        ),
        "20.39"
    );
    assert_eq!(stock(&db, 1), 96);
    assert_eq!(stock(&db, 2), 9);
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "orders", "list"]);
    same_both_ways_ok(&db, &bouncer, &["-o", "json", "orders", "show", &id]);

    for status in ["processing", "completed"] {
        let moved = pooled(&db, &bouncer)
            .args(["-o", "json", "orders", "set-status", &id, status])
            .run_through(&bouncer);
        moved.assert_success();
        assert_eq!(
            text(
                &db,
                &format!(r#"SELECT "status"::text FROM "Orders" WHERE "id" = {id}"#)
            ),
            status,
            "{moved}"
        );
    }
    // Grace's totalPurchases is now her one completed order.
    assert_eq!(
        text(
            &db,
            r#"SELECT "totalPurchases"::text FROM "Customers" WHERE "id" = 2"#
        ),
        "20.39"
    );
    // A forbidden move is the same conflict through the pooler.
    pooled(&db, &bouncer)
        .args(["orders", "set-status", &id, "pending"])
        .run_through(&bouncer)
        .assert_code(5);
    // Cancelling puts the items' stock back.
    let second = pooled(&db, &bouncer)
        .args([
            "-o",
            "json",
            "orders",
            "create",
            "--customer",
            "1",
            "--item",
            "2:2",
        ])
        .run_through(&bouncer);
    second.assert_success();
    let second = id_of(&second);
    assert_eq!(stock(&db, 2), 7);
    pooled(&db, &bouncer)
        .args(["-q", "orders", "cancel", &second])
        .run_through(&bouncer)
        .assert_success();
    assert_eq!(stock(&db, 2), 9);
    assert_eq!(
        text(
            &db,
            &format!(r#"SELECT "status"::text FROM "Orders" WHERE "id" = {second}"#)
        ),
        "cancelled"
    );

    same_both_ways_ok(&db, &bouncer, &["orders", "export"]);
    same_both_ways_ok(&db, &bouncer, &["orders", "export", "--items"]);
    for report in ["sales", "products", "customers"] {
        same_both_ways_ok(&db, &bouncer, &["-o", "csv", "orders", "report", report]);
    }
    same_both_ways_ok(
        &db,
        &bouncer,
        &["-o", "json", "orders", "report", "sales", "--by", "month"],
    );
}

#[test]
fn notify_send_list_read_through_the_pooler_as_directly() {
    let (db, bouncer) = clean_behind_pooler();
    let sent = pooled(&db, &bouncer)
        .args(["-o", "json", "notify", "send", "--type", "order_created"])
        .args([
            "--title",
            "New order",
            "--message",
            "Order 3 is in",
            "--priority",
            "high",
        ])
        .args(["--data", r#"{"orderId": 3}"#, "--all"])
        .run_through(&bouncer);
    sent.assert_success();
    let id = id_of(&sent);
    assert_eq!(
        count(
            &db,
            &format!(r#"SELECT count(*) FROM "UserNotifications" WHERE "notificationId" = {id}"#)
        ),
        2,
        "{sent}"
    );
    for user in ["alice@example.com", "bob@example.com"] {
        same_both_ways_ok(
            &db,
            &bouncer,
            &["-o", "csv", "notify", "list", "--user", user],
        );
    }
    let read = pooled(&db, &bouncer)
        .args(["notify", "read", &id, "--user", "bob@example.com"])
        .run_through(&bouncer);
    read.assert_success();
    assert_eq!(
        count(
            &db,
            &format!(
                r#"SELECT count(*) FROM "UserNotifications"
                   WHERE "notificationId" = {id} AND "userId" = 2 AND "readAt" IS NOT NULL"#
            )
        ),
        1,
        "{read}"
    );
    pooled(&db, &bouncer)
        .args(["notify", "read", "--all", "--user", "alice@example.com"])
        .run_through(&bouncer)
        .assert_success();
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "UserNotifications" WHERE "userId" = 1 AND "readAt" IS NULL"#
        ),
        0
    );
    same_both_ways_ok(
        &db,
        &bouncer,
        &[
            "-o",
            "csv",
            "notify",
            "list",
            "--user",
            "bob@example.com",
            "--unread",
        ],
    );
    same_both_ways_ok(&db, &bouncer, &["-o", "json", "notify", "list"]);

    // The cron jobs alert through the pooler once; the same run directly, or through the pooler
    // again, finds the alert already sent and still unread.
    let jobs = [
        ["notify", "low-stock", "--threshold", "50"],
        ["notify", "stale-orders", "--older-than", "3d"],
    ];
    for job in jobs {
        let alert = pooled(&db, &bouncer)
            .args(["-o", "json"])
            .args(job)
            .run_through(&bouncer);
        alert.assert_success();
        assert_eq!(json_of(&alert)["recipients"], 1, "{alert}");
        assert_no_advisory_lock(&db, &alert);
        same_both_ways_ok(&db, &bouncer, &[&["-o", "json"][..], &job].concat())
            .assert_stdout_eq("");
    }
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Notifications" WHERE "type" IN ('low_stock', 'stale_orders')"#
        ),
        2
    );
}

#[test]
fn db_check_and_health_through_the_pooler_as_directly() {
    let (db, bouncer) = clean_behind_pooler();
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "db", "check"]);
    // A violation, found the same way through the pooler.
    sql(&db, r#"UPDATE "Orders" SET "total" = 1.00 WHERE "id" = 3"#);
    let found = same_both_ways(&db, &bouncer, &["-o", "csv", "db", "check"]);
    assert_ne!(found.code(), 0, "{found}");
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "db", "migrate", "status"]);

    // Health: the same checks with the same statuses and exit code; values and timings differ.
    let health = |crm: &mut Crm| -> (i32, Vec<(String, String)>) {
        let out = crm.args(["db", "health", "-o", "json"]).run();
        let rows: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("db health printed no JSON array: {e}\n\n{out}"));
        let statuses = rows
            .as_array()
            .unwrap_or_else(|| panic!("not a JSON array\n\n{out}"))
            .iter()
            .map(|r| (r["check"].to_string(), r["status"].to_string()))
            .collect();
        (out.code(), statuses)
    };
    let direct = health(&mut db.crm());
    let through = health(&mut pooled(&db, &bouncer));
    assert!(!direct.1.is_empty(), "db health printed no checks");
    assert_eq!(
        through, direct,
        "db health: through the pooler, then directly"
    );
}

#[test]
fn eight_concurrent_orders_through_the_pooler_all_succeed_and_leave_stock_and_totals_right() {
    let (db, bouncer) = clean_behind_pooler();
    const PROCESSES: usize = 8;
    let runs: Vec<(Crm, std::process::Child)> = (0..PROCESSES)
        .map(|_| {
            let mut crm = pooled(&db, &bouncer);
            crm.args(["-q", "orders", "create", "--customer", "2", "--item", "1:3"]);
            crm.args(["--item", "2:1"]);
            let child = crm.spawn();
            (crm, child)
        })
        .collect();
    let outputs: Vec<Output> = runs
        .into_iter()
        .map(|(crm, child)| crm.wait(child))
        .collect();
    for out in &outputs {
        if out.code() != 0 {
            panic!(
                "an order through the pooler failed\n\n{out}\n{}",
                bouncer.log()
            );
        }
    }
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "Orders""#),
        3 + PROCESSES as i64
    );
    assert_eq!(stock(&db, 1), 100 - 3 * PROCESSES as i64);
    assert_eq!(stock(&db, 2), 10 - PROCESSES as i64);
    // Every order's total is the sum of its items.
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" o WHERE "total" IS DISTINCT FROM
               (SELECT sum("quantity" * "price") FROM "OrderItems" i WHERE i."orderId" = o."id")"#
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE "customerId" = 2 AND "total" = 20.29"#
        ),
        PROCESSES as i64
    );
    // Pending orders leave totalPurchases as it was; check finds nothing wrong.
    assert_eq!(
        text(
            &db,
            r#"SELECT "totalPurchases"::text FROM "Customers" WHERE "id" = 2"#
        ),
        "0.00"
    );
    db.crm().args(["db", "check"]).run().assert_success();
    assert_no_advisory_lock(&db, &outputs[0]);
}

#[test]
fn more_crm_processes_than_the_server_has_connection_slots_all_succeed_through_the_pooler() {
    // Six connection slots, none reserved: twelve crm processes at once would not fit directly.
    let private = PrivateServer::start(
        "max_connections = 6\nsuperuser_reserved_connections = 0\nmax_wal_senders = 0",
    );
    let bouncer = PgBouncer::in_front_of(&private, "");
    private
        .client("crm")
        .batch_execute(crate::check::CLEAN)
        .expect("load the clean data set");
    const PROCESSES: usize = 12;
    let runs: Vec<(Crm, std::process::Child)> = (0..PROCESSES)
        .map(|_| {
            let mut crm = crm();
            crm.args(["--database-url", &bouncer.url("crm")]);
            crm.args(["-q", "orders", "create", "--customer", "1", "--item", "1:1"]);
            let child = crm.spawn();
            (crm, child)
        })
        .collect();
    for (crm, child) in runs {
        let out = crm.wait(child);
        if out.code() != 0 {
            panic!(
                "an order through the pooler failed\n\n{out}\n{}",
                bouncer.log()
            );
        }
    }
    let mut client = private.client("crm");
    let sold: i64 = client
        .query_one(
            r#"SELECT (100 - "stock")::bigint FROM "Products" WHERE "id" = 1"#,
            &[],
        )
        .expect("read the stock")
        .get(0);
    assert_eq!(sold, PROCESSES as i64);
    let locks: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .expect("read pg_locks")
        .get(0);
    assert_eq!(locks, 0, "an advisory lock is still held after crm exited");
}

// --- the session-bound commands --------------------------------------------------------------

#[test]
fn migrate_through_the_pooler_refuses_and_works_with_a_direct_url_leaving_no_advisory_lock() {
    let db = unmigrated();
    let bouncer = PgBouncer::in_front_of_test_server("");
    let before = relations(&db);

    let refused = pooled(&db, &bouncer)
        .args(["db", "migrate"])
        .run_through(&bouncer);
    assert_refused_for_direct_url(&refused);
    assert_eq!(
        relations(&db),
        before,
        "a refused migrate changed the database\n\n{refused}"
    );
    assert_no_advisory_lock(&db, &refused);

    let migrated = pooled_with_direct_url(&db, &bouncer)
        .args(["db", "migrate"])
        .run_through(&bouncer);
    migrated.assert_success();
    assert_no_advisory_lock(&db, &migrated);
    assert!(
        fully_migrated(&db),
        "migrations pending after\n\n{migrated}"
    );

    // Status only reads: it works through the pooler, without a direct URL.
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "db", "migrate", "status"]);

    // Undo changes the schema: refused, then done with the direct URL.
    let after_migrate = relations(&db);
    let refused = pooled(&db, &bouncer)
        .args(["db", "migrate", "undo", "--yes"])
        .run_through(&bouncer);
    assert_refused_for_direct_url(&refused);
    assert_eq!(
        relations(&db),
        after_migrate,
        "a refused undo changed the database"
    );
    assert!(
        fully_migrated(&db),
        "a refused undo undid a migration\n\n{refused}"
    );
    assert_no_advisory_lock(&db, &refused);
    let undone = pooled_with_direct_url(&db, &bouncer)
        .args(["db", "migrate", "undo", "--yes"])
        .run_through(&bouncer);
    undone.assert_success();
    assert_no_advisory_lock(&db, &undone);
    assert!(
        !fully_migrated(&db),
        "undo left every migration applied\n\n{undone}"
    );
}

/// A direct URL that cannot be reached is exit 4, as any server that cannot be reached, and
/// the message says which URL it was: the user gave two.
#[test]
fn an_unreachable_direct_url_is_exit_4_naming_it() {
    let db = unmigrated();
    let bouncer = PgBouncer::in_front_of_test_server("");
    let nowhere = format!("postgresql://postgres@127.0.0.1:{}/crm", free_port());
    let out = pooled(&db, &bouncer)
        .args(["--direct-url", &nowhere, "db", "migrate"])
        .run_through(&bouncer);
    out.assert_code(4)
        .assert_stderr_contains("error: --direct-url / CRM_DIRECT_URL: cannot connect to");
    assert!(!fully_migrated(&db), "migrated anyway\n\n{out}");
}

#[test]
fn migrate_through_the_pooler_takes_the_direct_url_from_crm_direct_url() {
    let db = unmigrated();
    let bouncer = PgBouncer::in_front_of_test_server("");
    let migrated = pooled(&db, &bouncer)
        .env(DIRECT_URL_VARIABLE, db.url())
        .args(["db", "migrate"])
        .run_through(&bouncer);
    migrated.assert_success();
    assert_no_advisory_lock(&db, &migrated);
    assert!(
        fully_migrated(&db),
        "migrations pending after\n\n{migrated}"
    );
}

#[test]
fn seed_and_seed_undo_through_the_pooler_work_or_refuse_and_work_with_a_direct_url() {
    let db = TestDb::migrated();
    let bouncer = PgBouncer::in_front_of_test_server("");
    // What a seed leaves, done directly on a database of its own.
    let reference = TestDb::migrated();
    reference
        .crm()
        .args(["db", "seed"])
        .env("CRM_SEED_PASSWORD", PASSWORD)
        .env("CRM_BCRYPT_COST", BCRYPT_COST)
        .run()
        .assert_success();
    let seeded = row_counts(&reference);
    let empty = row_counts(&db);

    let seed = |crm: &mut Crm| {
        crm.args(["db", "seed"])
            .env("CRM_SEED_PASSWORD", PASSWORD)
            .env("CRM_BCRYPT_COST", BCRYPT_COST)
            .run_through(&bouncer)
    };
    let through = seed(&mut pooled(&db, &bouncer));
    assert_no_advisory_lock(&db, &through);
    match through.code() {
        0 => assert_eq!(row_counts(&db), seeded, "{through}"),
        _ => {
            assert_refused_for_direct_url(&through);
            assert_eq!(
                row_counts(&db),
                empty,
                "a refused seed wrote rows\n\n{through}"
            );
        }
    }
    // With a direct URL it works (a second seed changes nothing).
    let with_direct = seed(&mut pooled_with_direct_url(&db, &bouncer));
    with_direct.assert_success();
    assert_no_advisory_lock(&db, &with_direct);
    assert_eq!(row_counts(&db), seeded, "{with_direct}");

    let undo = pooled(&db, &bouncer)
        .args(["db", "seed", "undo", "--yes"])
        .run_through(&bouncer);
    assert_no_advisory_lock(&db, &undo);
    match undo.code() {
        0 => assert_eq!(row_counts(&db), empty, "{undo}"),
        _ => {
            assert_refused_for_direct_url(&undo);
            // The refusal names the command refused, not the seed it undoes.
            undo.assert_stderr_contains("db seed undo needs a session of its own");
            assert_eq!(
                row_counts(&db),
                seeded,
                "a refused undo removed rows\n\n{undo}"
            );
            let undone = pooled_with_direct_url(&db, &bouncer)
                .args(["db", "seed", "undo", "--yes"])
                .run_through(&bouncer);
            undone.assert_success();
            assert_no_advisory_lock(&db, &undone);
            assert_eq!(row_counts(&db), empty, "{undone}");
        }
    }
}

#[test]
fn seed_scale_through_the_pooler_works_or_refuses_and_never_waits_on_its_own_lock() {
    let db = TestDb::migrated();
    let bouncer = PgBouncer::in_front_of_test_server("");
    // Through PgBouncer, the synthetic data set once waited forever on crm's own advisory lock,
    // taken on one server connection and waited for on another: the time limit of a run (two
    // minutes) fails the test should that come back.
    let scale = |crm: &mut Crm| {
        crm.args(["-q", "db", "seed", "--scale", "300"])
            .env("CRM_SEED_PASSWORD", PASSWORD)
            .env("CRM_BCRYPT_COST", BCRYPT_COST)
            .run_through(&bouncer)
    };
    let customers = || count(&db, r#"SELECT count(*) FROM "Customers""#);
    let through = scale(&mut pooled(&db, &bouncer));
    assert_no_advisory_lock(&db, &through);
    if through.code() != 0 {
        assert_refused_for_direct_url(&through);
        assert_eq!(customers(), 0, "a refused seed wrote rows\n\n{through}");
        let with_direct = scale(&mut pooled_with_direct_url(&db, &bouncer));
        with_direct.assert_success();
        assert_no_advisory_lock(&db, &with_direct);
    }
    assert!(
        customers() >= 300,
        "{} customers after --scale 300",
        customers()
    );
    db.crm()
        .args(["db", "check"])
        .run()
        .assert_success()
        .assert_stdout_eq("");
}

/// The statements `db maintain -o csv` ran, its first column.
fn statements(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .map(|l| l.split(',').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn maintain_through_the_pooler_works_or_refuses_and_works_with_a_direct_url() {
    let (db, bouncer) = clean_behind_pooler();
    let args = ["db", "maintain", "--reindex", "-o", "csv"];
    let direct = db.crm().args(args).run();
    direct.assert_success();

    let through = pooled(&db, &bouncer).args(args).run_through(&bouncer);
    assert_no_advisory_lock(&db, &through);
    match through.code() {
        0 => assert_eq!(statements(&through), statements(&direct), "{through}"),
        _ => assert_refused_for_direct_url(&through),
    }
    let with_direct = pooled_with_direct_url(&db, &bouncer)
        .args(args)
        .run_through(&bouncer);
    with_direct.assert_success();
    assert_no_advisory_lock(&db, &with_direct);
    assert_eq!(
        statements(&with_direct),
        statements(&direct),
        "{with_direct}"
    );
    // No index left invalid by a rebuild cut short.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid"
        ),
        0
    );
}

/// The `backup_*.dump` files of `dir`, sorted.
fn dumps_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("backup_") && n.ends_with(".dump"))
        .collect();
    names.sort();
    names
}

/// `db backup verify FILE` (directly) accepts it.
#[track_caller]
fn assert_verifies(db: &TestDb, file: &Path) {
    db.crm()
        .args(["db", "backup", "verify"])
        .arg(file)
        .run()
        .assert_success();
}

#[test]
fn backup_through_the_pooler_works_or_refuses_and_works_with_a_direct_url() {
    let (db, bouncer) = clean_behind_pooler();
    let dir = tempfile::tempdir().unwrap();
    let through = pooled(&db, &bouncer)
        .args(["-q", "db", "backup", "--dir"])
        .arg(dir.path())
        .run_through(&bouncer);
    assert_no_advisory_lock(&db, &through);
    match through.code() {
        0 => {
            let made = dumps_in(dir.path());
            assert_eq!(made.len(), 1, "{made:?}\n\n{through}");
            assert_verifies(&db, &dir.path().join(&made[0]));
        }
        _ => {
            assert_refused_for_direct_url(&through);
            assert_eq!(dumps_in(dir.path()), Vec::<String>::new(), "{through}");
        }
    }

    let other = tempfile::tempdir().unwrap();
    let with_direct = pooled_with_direct_url(&db, &bouncer)
        .args(["-q", "db", "backup", "--dir"])
        .arg(other.path())
        .run_through(&bouncer);
    with_direct.assert_success();
    assert_no_advisory_lock(&db, &with_direct);
    let made = dumps_in(other.path());
    assert_eq!(made.len(), 1, "{made:?}\n\n{with_direct}");
    let file = other.path().join(&made[0]);
    assert_verifies(&db, &file);

    // Restoring into a scratch database is restore's work: it works or refuses the same way.
    let restore_test = |crm: &mut Crm| {
        crm.args(["-q", "db", "backup", "verify", "--restore-test"])
            .arg(&file)
            .run_through(&bouncer)
    };
    let through = restore_test(&mut pooled(&db, &bouncer));
    assert_no_advisory_lock(&db, &through);
    if through.code() != 0 {
        assert_refused_for_direct_url(&through);
    }
    let with_direct = restore_test(&mut pooled_with_direct_url(&db, &bouncer));
    with_direct.assert_success();
    assert_no_advisory_lock(&db, &with_direct);
}

/// Drops, when the test ends, the databases a restore of `db` kept (`<name>_before_restore_*`)
/// or left (`<name>_restoring_*`).
struct DropRestoreLeftovers(String);

impl Drop for DropRestoreLeftovers {
    fn drop(&mut self) {
        for suffix in ["_before_restore_", "_restoring_"] {
            for name in databases_like(&format!("{}{suffix}", self.0)) {
                let _ = server()
                    .admin_client()
                    .batch_execute(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#));
            }
        }
    }
}

#[test]
fn restore_through_the_pooler_works_or_refuses_and_works_with_a_direct_url() {
    let (db, bouncer) = clean_behind_pooler();
    let _leftovers = DropRestoreLeftovers(db.name.clone());
    let dir = tempfile::tempdir().unwrap();
    db.crm()
        .args(["-q", "db", "backup", "--dir"])
        .arg(dir.path())
        .run()
        .assert_success();
    let file = dir.path().join(&dumps_in(dir.path())[0]);
    let at_backup = checksums(&db.name);
    let change = r#"DELETE FROM "UserNotifications";
                    UPDATE "Customers" SET "lastName" = 'Changed' WHERE "id" = 2"#;
    sql(&db, change);
    let changed = checksums(&db.name);

    let through = pooled(&db, &bouncer)
        .args(["-q", "db", "restore", "--yes"])
        .arg(&file)
        .run_through(&bouncer);
    assert_no_advisory_lock(&db, &through);
    match through.code() {
        0 => {
            assert_eq!(checksums(&db.name), at_backup, "{through}");
            sql(&db, change);
        }
        _ => {
            assert_refused_for_direct_url(&through);
            assert_eq!(
                checksums(&db.name),
                changed,
                "a refused restore changed the data"
            );
        }
    }

    let with_direct = pooled_with_direct_url(&db, &bouncer)
        .args(["-q", "db", "restore", "--yes"])
        .arg(&file)
        .run_through(&bouncer);
    with_direct.assert_success();
    assert_no_advisory_lock(&db, &with_direct);
    assert_eq!(checksums(&db.name), at_backup, "{with_direct}");
    // The restored database is reachable through the pooler again.
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "customers", "list"]);
}

// --- locks, startup parameters, no pooler ---------------------------------------------------------

#[test]
fn lock_timeout_applies_through_the_pooler() {
    let (db, bouncer) = clean_behind_pooler();
    // Another session holds customer 1's row, in a transaction left open over a direct
    // connection.
    let mut holder = db.client();
    let mut tx = holder.transaction().expect("begin");
    tx.execute(
        r#"SELECT 1 FROM "Customers" WHERE "id" = 1 FOR UPDATE"#,
        &[],
    )
    .expect("lock customer 1");

    let out = pooled(&db, &bouncer)
        .args(["customers", "update", "1", "--first-name", "Augusta"])
        .args(["--lock-timeout", "1s"])
        .timeout(Duration::from_secs(60))
        .run_through(&bouncer);
    out.assert_code(5);
    tx.rollback().expect("rollback");
    assert_eq!(
        text(&db, r#"SELECT "firstName" FROM "Customers" WHERE "id" = 1"#),
        "Ada",
        "{out}"
    );
    assert_no_advisory_lock(&db, &out);
}

#[test]
fn a_pooler_that_silently_drops_options_is_still_detected_and_ordinary_commands_work() {
    let bouncer = PgBouncer::in_front_of_test_server(IGNORE_OPTIONS);
    let empty = unmigrated();
    let before = relations(&empty);
    let refused = pooled(&empty, &bouncer)
        .args(["db", "migrate"])
        .run_through(&bouncer);
    assert_refused_for_direct_url(&refused);
    assert_eq!(
        relations(&empty),
        before,
        "a refused migrate changed the database\n\n{refused}"
    );
    assert_no_advisory_lock(&empty, &refused);

    let db = TestDb::migrated();
    sql(&db, crate::check::CLEAN);
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "customers", "list"]);
    same_both_ways_ok(&db, &bouncer, &["orders", "export"]);
    pooled(&db, &bouncer)
        .args(["-q", "orders", "create", "--customer", "1", "--item", "2:2"])
        .run_through(&bouncer)
        .assert_success();
    assert_eq!(stock(&db, 2), 8);
    same_both_ways_ok(&db, &bouncer, &["-o", "csv", "orders", "list"]);
}

#[test]
fn a_direct_connection_with_a_direct_url_given_anyway_still_works() {
    let db = TestDb::migrated();
    sql(&db, crate::check::CLEAN);
    let plain = db.crm().args(["-o", "csv", "customers", "list"]).run();
    plain.assert_success();
    db.crm()
        .args(["--direct-url", &db.url(), "-o", "csv", "customers", "list"])
        .run()
        .assert_success()
        .assert_stdout_eq(&plain.stdout);
    db.crm()
        .env(DIRECT_URL_VARIABLE, db.url())
        .args(["-o", "csv", "customers", "list"])
        .run()
        .assert_success()
        .assert_stdout_eq(&plain.stdout);

    let empty = unmigrated();
    let migrated = empty
        .crm()
        .args(["--direct-url", &empty.url(), "db", "migrate"])
        .run();
    migrated.assert_success();
    assert!(fully_migrated(&empty), "{migrated}");
    assert_no_advisory_lock(&empty, &migrated);
}
