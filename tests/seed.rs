//! `crm db seed`, `db seed undo`, `db seed --scale N` and `db setup`: the samples load once, undo
//! removes exactly what they added (or refuses while others' rows refer to it), the synthetic
//! data set keeps every invariant `db check` audits and is the same for the same N, and the
//! seeded users' password is the one given, or generated and shown once.

use crate::harness::{TABLES, TestDb, count, sql};

/// crm's record of the seeds it loaded, compared with the tables a seed may write.
const SEED_HISTORY: &str = "crm_seed_history";

const PASSWORD: &str = "seed pass 4 tests";

/// `(table, rows, md5 of the rows in id order)` of every table: equal snapshots, equal data.
fn snapshot(db: &TestDb) -> Vec<(String, i64, String)> {
    let mut client = db.client();
    TABLES
        .into_iter()
        .chain([SEED_HISTORY])
        .map(|table| {
            let row = client
                .query_one(
                    &format!(
                        r#"SELECT count(*), md5(COALESCE(string_agg(t::text, '|' ORDER BY t."id"), ''))
                           FROM "{table}" t"#
                    ),
                    &[],
                )
                .unwrap_or_else(|e| panic!("cannot read {table}: {e:?}"));
            (table.to_string(), row.get(0), row.get(1))
        })
        .collect()
}

fn seed(db: &TestDb, args: &[&str]) -> crate::harness::Output {
    db.crm()
        .args(["db", "seed"])
        .args(args)
        .env("CRM_SEED_PASSWORD", PASSWORD)
        .env("CRM_BCRYPT_COST", "10")
        .run()
}

fn stored_hash(db: &TestDb, email: &str) -> String {
    db.client()
        .query_one(
            r#"SELECT "password" FROM "Users" WHERE "email" = $1"#,
            &[&email],
        )
        .unwrap_or_else(|e| panic!("no user {email}: {e:?}"))
        .get(0)
}

fn check_finds_nothing(db: &TestDb) {
    db.crm()
        .args(["db", "check"])
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains("no violations found");
}

#[test]
fn seed_loads_the_samples_once_and_a_second_run_changes_nothing() {
    let db = TestDb::migrated();

    seed(&db, &[])
        .assert_success()
        .assert_stderr_contains("loaded seed 001_admin_users: 2 Users")
        .assert_stderr_contains("loaded seed 002_sample_customers: 6 Customers")
        .assert_stderr_contains("loaded seed 003_sample_products: 8 Products")
        .assert_stderr_contains("loaded seed 004_sample_orders: 11 OrderItems, 6 Orders");
    let first = snapshot(&db);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Users" WHERE "email" IN ('admin@geminicrm.com', 'staff@geminicrm.com')"#
        ),
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM crm_seed_history"), 4);
    check_finds_nothing(&db);
    // The orders took their stock: 25 laptops less the one not cancelled.
    assert_eq!(
        count(
            &db,
            r#"SELECT "stock"::int8 FROM "Products" WHERE "name" = 'Laptop Pro 14'"#
        ),
        24
    );

    let again = seed(&db, &[]);
    again
        .assert_success()
        .assert_stderr_contains("nothing to load: every seed is already loaded");
    assert!(!again.stderr.contains("password"), "{again}");
    assert_eq!(snapshot(&db), first);
}

#[test]
fn a_seed_changed_since_it_was_loaded_is_reported_and_not_run_again() {
    let db = TestDb::migrated();
    seed(&db, &[]).assert_success();
    sql(
        &db,
        "UPDATE crm_seed_history SET \"checksum\" = 'old' WHERE \"name\" = '002_sample_customers'",
    );
    let before = snapshot(&db);

    seed(&db, &[])
        .assert_success()
        .assert_stderr_contains("warning: seed 002_sample_customers changed since it was loaded");

    assert_eq!(snapshot(&db), before);
}

#[test]
fn undo_leaves_exactly_the_migrated_empty_database_and_others_rows_survive() {
    let db = TestDb::migrated();
    let empty = snapshot(&db);
    seed(&db, &["--scale", "300"]).assert_success();
    db.crm()
        .args([
            "customers",
            "create",
            "--first-name",
            "Grace",
            "--last-name",
            "Hopper",
            "--email",
            "grace@example.com",
        ])
        .run()
        .assert_success();
    let grace = count(
        &db,
        r#"SELECT "id"::int8 FROM "Customers" WHERE "email" = 'grace@example.com'"#,
    );

    db.crm()
        .args(["db", "seed", "undo", "--yes"])
        .run()
        .assert_success()
        .assert_stderr_contains("undid seed scale_300")
        .assert_stderr_contains("undid seed 001_admin_users");

    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 1);
    sql(
        &db,
        &format!(r#"DELETE FROM "Customers" WHERE "id" = {grace}"#),
    );
    assert_eq!(snapshot(&db), empty);
    db.crm()
        .args(["db", "seed", "undo", "--yes"])
        .run()
        .assert_success()
        .assert_stderr_contains("nothing to undo");
}

#[test]
fn undo_refuses_while_an_order_placed_since_refers_to_seeded_rows() {
    let db = TestDb::migrated();
    seed(&db, &[]).assert_success();
    let customer = count(
        &db,
        r#"SELECT "id"::int8 FROM "Customers" WHERE "email" = 'jane.smith@example.com'"#,
    );
    let product = count(
        &db,
        r#"SELECT "id"::int8 FROM "Products" WHERE "name" = 'Wireless Mouse'"#,
    );
    db.crm()
        .args([
            "orders",
            "create",
            "--customer",
            &customer.to_string(),
            "--item",
            &format!("{product}:1"),
        ])
        .run()
        .assert_success();
    let order = count(&db, r#"SELECT max("id")::int8 FROM "Orders""#);
    let before = snapshot(&db);

    let undo = db.crm().args(["db", "seed", "undo", "--yes"]).run();

    undo.assert_code(5)
        .assert_stderr_contains(&format!("Orders {order}"))
        .assert_stderr_contains("nothing was removed");
    assert_eq!(snapshot(&db), before);

    // Checked before asking: without --yes and without a terminal the refusal comes, not the
    // request for confirmation it would have been pointless to answer.
    let unasked = db.crm().args(["db", "seed", "undo"]).run();
    unasked
        .assert_code(5)
        .assert_stderr_contains(&format!("Orders {order}"));
    assert!(!unasked.stderr.contains("needs confirmation"), "{unasked}");
    // On a terminal, no [y/N] question precedes it.
    let (code, screen) = crate::harness::crm_on_terminal(
        &["--database-url", &db.url(), "db", "seed", "undo"],
        "y\n",
    );
    assert_eq!(code, 5, "{screen}");
    assert!(screen.contains("cannot undo the seeds"), "{screen}");
    assert!(!screen.contains("[y/N]"), "asked before refusing: {screen}");
    assert_eq!(snapshot(&db), before);
    sql(
        &db,
        &format!(r#"DELETE FROM "Orders" WHERE "id" = {order}"#),
    );
    db.crm()
        .args(["db", "seed", "undo", "--yes"])
        .run()
        .assert_success();
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Products""#), 0);
}

#[test]
fn the_password_from_stdin_is_what_the_seeded_users_log_in_with() {
    let db = TestDb::migrated();

    let out = db
        .crm()
        .args(["db", "seed", "--password-stdin"])
        .env("CRM_BCRYPT_COST", "10")
        .env("CRM_SEED_PASSWORD", "not this one")
        .stdin("correct horse battery\n")
        .run();

    out.assert_success();
    assert!(!out.stderr.contains("correct horse"), "{out}");
    for email in ["admin@geminicrm.com", "staff@geminicrm.com"] {
        let hash = stored_hash(&db, email);
        assert!(hash.starts_with("$2b$10$"), "{hash}");
        assert!(bcrypt::verify("correct horse battery", &hash).unwrap());
        assert!(!bcrypt::verify("not this one", &hash).unwrap());
    }
}

#[test]
fn a_short_password_is_refused_and_nothing_is_loaded() {
    let db = TestDb::migrated();
    db.crm()
        .args(["db", "seed", "--password-stdin"])
        .stdin("short\n")
        .run()
        .assert_code(2)
        .assert_stderr_contains("too short");
    db.crm()
        .args(["db", "seed"])
        .env("CRM_SEED_PASSWORD", "short")
        .run()
        .assert_code(2)
        .assert_stderr_contains("CRM_SEED_PASSWORD");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Users""#), 0);
}

#[test]
fn a_generated_password_is_printed_once_and_is_the_users_password() {
    let db = TestDb::migrated();

    let out = db
        .crm()
        .args(["--quiet", "db", "seed"])
        .env("CRM_BCRYPT_COST", "10")
        .run();

    out.assert_success()
        .assert_stderr_contains("generated and shown only this once");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("password"))
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    let password = lines[0].rsplit(": ").next().unwrap();
    assert_eq!(password.len(), 20, "{out}");
    assert!(bcrypt::verify(password, &stored_hash(&db, "admin@geminicrm.com")).unwrap());
    assert_eq!(out.stdout, "");

    let again = db
        .crm()
        .args(["db", "seed"])
        .env("CRM_BCRYPT_COST", "10")
        .run();
    again.assert_success();
    assert!(!again.stderr.contains(password), "{again}");
}

/// `(table, md5)` of the rows `scale_N` inserted, in id order (the users without their salted
/// password hash).
fn scale_rows(db: &TestDb, n: u32) -> Vec<(String, String)> {
    let mut client = db.client();
    TABLES[..7]
        .iter()
        .map(|table| {
            let row = if *table == "Users" {
                r#"to_jsonb(t) - 'password'"#
            } else {
                "to_jsonb(t)"
            };
            let md5: String = client
                .query_one(
                    &format!(
                        r#"SELECT md5(string_agg(({row})::text, '|' ORDER BY t."id"))
                           FROM "{table}" t
                           WHERE t."id" <@ (SELECT ("inserted" ->> $1)::int4multirange
                                           FROM crm_seed_history WHERE "name" = $2)"#
                    ),
                    &[table, &format!("scale_{n}")],
                )
                .unwrap_or_else(|e| panic!("cannot read {table}: {e:?}"))
                .get(0);
            (table.to_string(), md5)
        })
        .collect()
}

#[test]
fn scale_2000_keeps_every_invariant_and_the_same_n_gives_the_same_rows() {
    let (a, b) = (TestDb::migrated(), TestDb::migrated());
    let indexes = |db: &TestDb| -> Vec<String> {
        db.client()
            .query(
                "SELECT indexname || ' ' || indexdef || ' ' || \
                 (SELECT indisvalid FROM pg_index WHERE indexrelid = (schemaname || '.' || quote_ident(indexname))::regclass) \
                 FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let before = indexes(&a);

    seed(&a, &["--scale", "2000"])
        .assert_success()
        .assert_stderr_contains("generated the synthetic data set --scale 2000: 20 products");
    seed(&b, &["--scale", "2000"]).assert_success();

    check_finds_nothing(&a);
    // The indexes it set aside for the load are back, the same and valid.
    assert_eq!(indexes(&a), before);
    // Beside the samples (6 customers and orders, 8 products, 11 items, 2 users).
    assert_eq!(count(&a, r#"SELECT count(*) FROM "Customers""#), 2006);
    assert_eq!(count(&a, r#"SELECT count(*) FROM "Orders""#), 2006);
    assert_eq!(count(&a, r#"SELECT count(*) FROM "Products""#), 28);
    let items = count(&a, r#"SELECT count(*) FROM "OrderItems""#) - 11;
    assert!(
        (5000..=7000).contains(&items),
        "{items} items for 2000 orders"
    );
    assert_eq!(
        count(
            &a,
            r#"SELECT max(c)::int8 FROM (SELECT count(*) AS c FROM "OrderItems" GROUP BY "orderId") s"#
        ),
        5
    );
    assert_eq!(
        count(
            &a,
            r#"SELECT count(DISTINCT "status") FROM "Orders" WHERE "id" > 6"#
        ),
        4
    );
    assert!(count(&a, r#"SELECT count(*) FROM "Users" WHERE "role" = 'admin'"#) >= 2);
    assert!(count(&a, r#"SELECT count(*) FROM "UserNotifications""#) > 0);
    assert!(
        count(
            &a,
            r#"SELECT count(*) FROM "Customers" WHERE "totalPurchases" > 0"#
        ) > 500
    );
    assert_eq!(scale_rows(&a, 2000), scale_rows(&b, 2000));

    // The sequences moved past the reserved blocks: crm's own commands go on from there.
    a.crm()
        .args([
            "customers",
            "create",
            "--first-name",
            "After",
            "--email",
            "after@example.com",
        ])
        .run()
        .assert_success();

    seed(&a, &["--scale", "2000"])
        .assert_success()
        .assert_stderr_contains("--scale 2000 is already loaded");
    seed(&a, &["--scale", "10"])
        .assert_code(5)
        .assert_stderr_contains("crm db seed undo");
}

#[test]
fn scale_must_be_from_1() {
    let db = TestDb::migrated();
    for bad in ["0", "-5", "ten", "10000001"] {
        seed(&db, &["--scale", bad]).assert_code(2);
    }
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Users""#), 0);
}

#[test]
fn seed_refuses_a_database_that_is_not_fully_migrated() {
    let db = TestDb::empty();
    db.crm()
        .args(["db", "migrate", "--to", "10"])
        .run()
        .assert_success();

    seed(&db, &[])
        .assert_code(5)
        .assert_stderr_contains("run crm db migrate first");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Users""#), 0);
}

#[test]
fn setup_migrates_then_seeds() {
    let db = TestDb::empty();

    db.crm()
        .args(["db", "setup"])
        .env("CRM_SEED_PASSWORD", PASSWORD)
        .env("CRM_BCRYPT_COST", "10")
        .run()
        .assert_success()
        .assert_stderr_contains("applied 15 migrations")
        .assert_stderr_contains("loaded seed 004_sample_orders");

    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 6);
    check_finds_nothing(&db);
    db.crm()
        .args(["db", "setup"])
        .env("CRM_SEED_PASSWORD", PASSWORD)
        .run()
        .assert_success()
        .assert_stderr_contains("nothing to apply")
        .assert_stderr_contains("nothing to load");
}

#[test]
fn seed_and_undo_with_no_wait_exit_5_while_another_run_holds_the_schema_lock() {
    let db = TestDb::migrated();
    let mut holder = db.client();
    holder
        .execute("SELECT pg_advisory_lock(x'63726d'::int, 1)", &[])
        .unwrap();

    seed(&db, &["--no-wait"])
        .assert_code(5)
        .assert_stderr_contains("holds the schema lock");
    db.crm()
        .args(["db", "seed", "undo", "--yes", "--no-wait"])
        .run()
        .assert_code(5);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Users""#), 0);

    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();
    seed(&db, &["--no-wait"]).assert_success();
}

#[test]
fn a_role_that_is_not_a_superuser_seeds_with_the_foreign_keys_checked() {
    let db = TestDb::migrated();
    let role = format!("{}_app", db.name);
    sql(
        &db,
        &format!(
            r#"CREATE ROLE "{role}" LOGIN PASSWORD 'app-password';
               GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}";
               GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}";"#
        ),
    );
    let server = crate::harness::server();
    let url = format!(
        "postgresql://{role}:app-password@{}:{}/{}",
        server.host, server.port, db.name
    );
    let as_app = |args: &[&str]| {
        crate::harness::crm()
            .arg("--database-url")
            .arg(&url)
            .args(args)
            .env("CRM_SEED_PASSWORD", PASSWORD)
            .env("CRM_BCRYPT_COST", "10")
            .run()
    };

    as_app(&["db", "seed", "--scale", "500"])
        .assert_success()
        .assert_stderr_contains("500 customers, 500 orders");
    check_finds_nothing(&db);
    as_app(&["db", "seed", "undo", "--yes"]).assert_success();

    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 0);
    sql(
        &db,
        &format!(r#"DROP OWNED BY "{role}"; DROP ROLE "{role}";"#),
    );
}
