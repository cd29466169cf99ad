//! `crm customers list | show | create | update | delete`: given these rows, running this
//! command prints that and leaves those rows; every refusal writes nothing.

use crate::harness::{TestDb, count, row_json, sql, table_exists};

/// When the fixtures were made, as the database and the output show it.
const THEN: &str = "2025-07-01T09:30:00Z";

/// Three customers, the ids fixed.
const CUSTOMERS: &str = r#"
INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "phone", "address",
                         "totalPurchases", "createdAt", "updatedAt") VALUES
  (1, 'Ada', 'Lovelace', 'ada@example.com', '+44 20 7946 0000', '12 St James''s Square, London',
   1234.50, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Grace', 'Hopper', 'grace@navy.mil', NULL, NULL, 0.00,
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 'Alan', 'Turing', 'alan@example.org', NULL, 'Bletchley Park', 99.99,
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Customers_id_seq"', 3);
"#;

const HEADER: &str =
    "id,firstName,lastName,email,phone,address,totalPurchases,createdAt,updatedAt\n";

fn ada() -> String {
    format!(
        "1,Ada,Lovelace,ada@example.com,+44 20 7946 0000,\"12 St James's Square, London\",1234.50,{THEN},{THEN}\n"
    )
}

fn grace() -> String {
    format!("2,Grace,Hopper,grace@navy.mil,,,0.00,{THEN},{THEN}\n")
}

fn alan() -> String {
    format!("3,Alan,Turing,alan@example.org,,Bletchley Park,99.99,{THEN},{THEN}\n")
}

fn with_customers() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, CUSTOMERS);
    db
}

#[test]
fn list_as_csv_has_the_database_columns_and_every_row() {
    let db = with_customers();
    db.crm()
        .args(["customers", "list"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}{}{}", ada(), grace(), alan()));
}

#[test]
fn list_sorts_pages_and_ends_a_table_with_the_total_line() {
    let db = with_customers();
    db.crm()
        .args(["customers", "list", "--sort", "-totalPurchases"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}{}{}", ada(), alan(), grace()));
    db.crm()
        .args([
            "customers",
            "list",
            "--sort",
            "lastName",
            "--limit",
            "1",
            "--offset",
            "1",
        ])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}", ada()));
    let table = db
        .crm()
        .args(["-o", "table", "customers", "list", "--limit", "2"])
        .run();
    table.assert_success();
    assert!(table.stdout.ends_with("┘\n2 of 3 customers\n"), "{table}");
    db.crm()
        .args(["customers", "list", "--sort", "password"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--sort password: no such field");
}

#[test]
fn search_matches_name_or_email_case_insensitively() {
    let db = with_customers();
    db.crm()
        .args(["customers", "list", "--search", "ADA LOVE"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}", ada()));
    db.crm()
        .args(["customers", "list", "--search", "NAVY.mil"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}", grace()));
}

#[test]
fn search_finds_a_customer_by_name_when_the_other_name_part_is_missing() {
    let db = with_customers();
    sql(
        &db,
        r#"INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "createdAt", "updatedAt")
           VALUES (7, 'Cher', NULL, 'cher@example.com', now(), now()),
                  (8, NULL, 'Madonna', NULL, now(), now())"#,
    );
    for (search, id) in [("cher", "7"), ("madonna", "8")] {
        let out = db
            .crm()
            .args(["customers", "list", "--search", search])
            .run();
        out.assert_success();
        let ids: Vec<&str> = out.stdout.lines().skip(1).map(|l| &l[..1]).collect();
        assert_eq!(ids, [id], "{out}");
    }
}

#[test]
fn search_is_served_by_the_trigram_indexes() {
    let db = with_customers();
    let mut client = db.client();
    let sql = format!(
        r#"EXPLAIN SELECT "id" FROM "Customers" WHERE {} ILIKE '%smi%' OR {} ILIKE '%smi%'"#,
        crm::commands::customers::SEARCH[0],
        crm::commands::customers::SEARCH[1]
    );
    client.batch_execute("SET enable_seqscan = off").unwrap();
    let plan: Vec<String> = client
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("customers_full_name_trgm_idx"), "{plan}");
    assert!(plan.contains("customers_email_trgm_idx"), "{plan}");
}

#[test]
fn search_text_is_matched_literally_and_drops_nothing() {
    let db = with_customers();
    sql(
        &db,
        r#"INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "createdAt", "updatedAt")
           VALUES (4, '100%', 'Genuine', 'percent@example.com', now(), now()),
                  (5, 'Under', 'Score', 'under_score@example.com', now(), now()),
                  (6, 'Back', 'Slash\', 'slash@example.com', now(), now())"#,
    );
    let ids = |search: &str| -> Vec<String> {
        let out = db
            .crm()
            .args(["customers", "list", "--search", search])
            .run();
        out.assert_success();
        out.stdout
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("%"), ["4"]);
    assert_eq!(ids("_"), ["5"]);
    assert_eq!(ids("\\"), ["6"]);
    assert_eq!(ids(r#"'; DROP TABLE "Users"; --"#), Vec::<String>::new());
    assert!(table_exists(&db, "Users"));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 6);
}

/// Customer 1 with six orders, one a day from 1 to 6 July, all completed but order 2, which is
/// cancelled; order 6 is the newest.
const SIX_ORDERS: &str = r#"
INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt")
SELECT n, 1, 'completed', n * 10.25,
       timestamptz '2025-07-01T12:00:00Z' + (n - 1) * interval '1 day', now()
FROM generate_series(1, 6) AS n;
UPDATE "Orders" SET "status" = 'cancelled' WHERE "id" = 2;
"#;

#[test]
fn show_gives_the_order_count_and_the_last_five_orders() {
    let db = with_customers();
    sql(&db, SIX_ORDERS);
    let out = db
        .crm()
        .args(["-o", "json", "customers", "show", "1"])
        .run();
    out.assert_success();
    let shown: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(shown["id"], 1);
    assert_eq!(shown["email"], "ada@example.com");
    assert_eq!(shown["totalPurchases"], "1234.50");
    assert_eq!(shown["orderCount"], 6);
    let last = shown["lastOrders"].as_array().expect("an array of orders");
    let ids: Vec<i64> = last.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [6, 5, 4, 3, 2]);
    assert_eq!(last[0]["total"], "61.50");
    assert_eq!(last[0]["status"], "completed");
    assert_eq!(last[0]["createdAt"], "2025-07-06T12:00:00Z");
    assert_eq!(last[4]["status"], "cancelled");

    // CSV: one header and one row, the orders as a JSON array in the last field.
    let csv = db.crm().args(["customers", "show", "1"]).run();
    csv.assert_success();
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,firstName,lastName,email,phone,address,totalPurchases,createdAt,updatedAt,orderCount,lastOrders"
        )
    );
    let row = lines.next().expect("a row");
    assert!(row.starts_with("1,Ada,Lovelace,ada@example.com,"), "{row}");
    assert!(row.contains(",6,\"[{"), "{row}");
    assert_eq!(lines.next(), None);

    // A table: the record, then the orders.
    let table = db
        .crm()
        .args(["-o", "table", "customers", "show", "1"])
        .run();
    table.assert_success();
    assert!(table.stdout.contains("│ orderCount     ┆ 6"), "{table}");
    assert!(
        table
            .stdout
            .contains("│ id ┆ status    ┆ total ┆ createdAt"),
        "{table}"
    );
    assert!(
        table.stdout.ends_with("┘\nthe last 5 of 6 orders\n"),
        "{table}"
    );
}

#[test]
fn show_of_a_customer_without_orders_and_of_an_unknown_id() {
    let db = with_customers();
    let out = db
        .crm()
        .args(["-o", "json", "customers", "show", "2"])
        .run();
    out.assert_success();
    let shown: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(shown["orderCount"], 0);
    assert_eq!(shown["lastOrders"], serde_json::json!([]));
    assert_eq!(shown["phone"], serde_json::Value::Null);
    let table = db
        .crm()
        .args(["-o", "table", "customers", "show", "2"])
        .run();
    table.assert_success();
    assert!(table.stdout.contains("│ orderCount     ┆ 0"), "{table}");
    assert!(
        !table.stdout.contains("status"),
        "an empty orders table\n{table}"
    );

    db.crm()
        .args(["customers", "show", "12"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("customer 12 does not exist");
}

#[test]
fn create_stores_the_email_lower_case_and_starts_with_no_purchases() {
    let db = TestDb::migrated();
    let out = db
        .crm()
        .args([
            "customers",
            "create",
            "--first-name",
            "Ada",
            "--email",
            " Ada@Example.COM ",
            "--phone",
            "+1 (555) 010-9999",
        ])
        .run();
    out.assert_success();
    assert!(
        out.stdout.starts_with(&format!(
            "{HEADER}1,Ada,,ada@example.com,+1 (555) 010-9999,,0.00,20"
        )),
        "{out}"
    );
    let row = db
        .client()
        .query_one(
            r#"SELECT "email", "lastName", "totalPurchases"::text,
                      "createdAt" > now() - interval '1 minute' AND "createdAt" = "updatedAt"
               FROM "Customers""#,
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ada@example.com");
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, String>(2), "0.00");
    assert!(row.get::<_, bool>(3));

    // An e-mail alone is enough; JSON is one object.
    let json = db
        .crm()
        .args([
            "-o",
            "json",
            "customers",
            "create",
            "--email",
            "b@example.com",
        ])
        .run();
    json.assert_success();
    let created: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON object");
    assert_eq!(created["id"], 2);
    assert_eq!(created["firstName"], serde_json::Value::Null);
}

#[test]
fn create_refuses_bad_values_naming_the_field_and_writes_nothing() {
    let db = TestDb::migrated();
    let long_name = "a".repeat(256);
    let cases: [(&[&str], &str); 6] = [
        (
            &["--email", "ada.example.com"],
            "invalid value 'ada.example.com' for '--email <EMAIL>'",
        ),
        (
            &["--first-name", &long_name],
            "for '--first-name <NAME>': at most 255 characters, got 256",
        ),
        (
            &["--email", "a@example.com", "--phone", "call me"],
            "invalid value 'call me' for '--phone <PHONE>'",
        ),
        (
            &["--first-name", "  "],
            "'--first-name <NAME>': must not be empty",
        ),
        // Neither a name nor an e-mail.
        (
            &["--phone", "555 0100"],
            "--first-name <NAME>|--last-name <NAME>|--email <EMAIL>",
        ),
        // totalPurchases is derived, never set.
        (
            &["--email", "a@example.com", "--total-purchases", "5"],
            "unexpected argument '--total-purchases'",
        ),
    ];
    for (args, message) in cases {
        db.crm()
            .args(["customers", "create"])
            .args(args)
            .run()
            .assert_code(2)
            .assert_stderr_contains(message);
    }
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 0);
}

#[test]
fn update_changes_only_the_fields_given_and_bumps_updated_at() {
    let db = with_customers();
    let out = db
        .crm()
        .args([
            "customers",
            "update",
            "2",
            "--phone",
            "555 0100",
            "--email",
            "GRACE@Navy.mil",
        ])
        .run();
    out.assert_success();
    assert!(
        out.stdout.starts_with(&format!(
            "{HEADER}2,Grace,Hopper,grace@navy.mil,555 0100,,0.00,{THEN},20"
        )),
        "{out}"
    );
    let row = db
        .client()
        .query_one(
            r#"SELECT "firstName", "lastName", "phone", "address", "totalPurchases"::text,
                      "createdAt" = timestamptz '2025-07-01T09:30:00Z',
                      "updatedAt" > now() - interval '1 minute'
               FROM "Customers" WHERE "id" = 2"#,
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Grace");
    assert_eq!(row.get::<_, String>(1), "Hopper");
    assert_eq!(row.get::<_, String>(2), "555 0100");
    assert_eq!(row.get::<_, Option<String>>(3), None);
    assert_eq!(row.get::<_, String>(4), "0.00");
    assert!(row.get::<_, bool>(5), "createdAt changed");
    assert!(row.get::<_, bool>(6), "updatedAt was not bumped");
}

#[test]
fn update_refusals_leave_the_row_as_it_was() {
    let db = with_customers();
    let before = row_json(&db, "Customers", 1);
    db.crm()
        .args(["customers", "update", "1"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("the following required arguments were not provided");
    db.crm()
        .args(["customers", "update", "1", "--email", "not an e-mail"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("invalid value 'not an e-mail' for '--email <EMAIL>'");
    db.crm()
        .args(["customers", "update", "1", "--last-name", &"x".repeat(256)])
        .run()
        .assert_code(2)
        .assert_stderr_contains("at most 255 characters, got 256");
    db.crm()
        .args(["customers", "update", "1", "--total-purchases", "0"])
        .run()
        .assert_code(2);
    db.crm()
        .args(["customers", "update", "12", "--phone", "555"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("customer 12 does not exist");
    assert_eq!(row_json(&db, "Customers", 1), before);
}

/// Two orders of customer 1, one with an item.
const ORDERS_OF_ADA: &str = r#"
INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt")
VALUES (1, 'Widget', 9.99, 5, now(), now());
INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt")
VALUES (1, 1, 'completed', 9.99, now(), now()), (2, 1, 'pending', 0.00, now(), now()),
       (3, 2, 'pending', 0.00, now(), now());
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
VALUES (1, 1, 1, 9.99, now(), now());
"#;

#[test]
fn delete_without_yes_and_without_a_terminal_is_refused() {
    let db = with_customers();
    sql(&db, ORDERS_OF_ADA);
    db.crm()
        .args(["customers", "delete", "1"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "delete customer 1 (Ada Lovelace), keeping its 2 orders with customerId set to NULL? \
             needs confirmation, and stdin is not a terminal: pass --yes to confirm",
        );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 3);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE "customerId" = 1"#
        ),
        2
    );
}

#[test]
fn delete_with_yes_keeps_the_orders_without_a_customer() {
    let db = with_customers();
    sql(&db, ORDERS_OF_ADA);
    db.crm()
        .args(["customers", "delete", "1", "--yes"])
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains(
            "deleted customer 1 (Ada Lovelace); its 2 orders are kept, with customerId set to NULL",
        );
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "Customers" WHERE "id" = 1"#),
        0
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE "id" IN (1, 2) AND "customerId" IS NULL"#
        ),
        2
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "OrderItems""#), 1);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE "customerId" = 2"#
        ),
        1
    );

    db.crm()
        .args(["customers", "delete", "3", "-y"])
        .run()
        .assert_success()
        .assert_stderr_contains("deleted customer 3 (Alan Turing); no orders pointed at it");
    db.crm()
        .args(["customers", "delete", "1", "--yes"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("customer 1 does not exist");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 1);
}

/// Issue 15, item 12: a negative or zero count, and an e-mail where an id goes, are refused
/// (exit 2) saying what was expected, in the user's words, and the hint given works.
#[test]
fn bad_counts_and_ids_say_what_was_expected() {
    let db = TestDb::migrated();
    sql(&db, CUSTOMERS);
    let refused = |args: &[&str], message: &str| {
        db.crm()
            .arg("customers")
            .args(args)
            .run()
            .assert_code(2)
            .assert_stderr_contains(message);
    };
    refused(
        &["list", "--limit", "-5"],
        "invalid value '-5' for '--limit <N>': expected a whole number of at least 1, got -5",
    );
    refused(
        &["list", "--limit", "0"],
        "invalid value '0' for '--limit <N>': expected a whole number of at least 1, got 0",
    );
    refused(
        &["list", "--offset", "-1"],
        "invalid value '-1' for '--offset <N>': expected a whole number of at least 0, got -1",
    );
    refused(
        &["list", "--limit", "ten"],
        "expected a whole number of at least 1, got \"ten\"",
    );
    refused(
        &["show", "ada@example.com"],
        "invalid value 'ada@example.com' for '<ID>': expected a customer id (a whole number); \
         to find a customer by e-mail: crm customers list --search ada@example.com",
    );
    refused(
        &["update", "ada", "--phone", "1"],
        "invalid value 'ada' for '<ID>': expected a customer id (a whole number)",
    );
    refused(
        &["delete", "2147483648", "--yes"],
        "expected a customer id (a whole number of at most 2147483647)",
    );
    // The hint, as printed, finds her.
    db.crm()
        .args(["customers", "list", "--search", "ada@example.com"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}", ada()));
    // A negative id is an id that does not exist, not an unknown flag.
    db.crm()
        .args(["customers", "show", "-1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("customer -1 does not exist");
    db.crm()
        .args(["customers", "list", "--limit", "1", "--offset", "2"])
        .run()
        .assert_success()
        .assert_stdout_contains("alan@example.org");
}

/// E-mails need not be unique (the reference schema has no unique index on them), but create
/// and update say which customers already have the e-mail, in any case, and still succeed.
#[test]
fn create_and_update_warn_that_the_email_is_already_used_and_succeed() {
    let db = with_customers();
    let create = |email: &str| {
        db.crm()
            .args([
                "customers",
                "create",
                "--first-name",
                "Twin",
                "--email",
                email,
            ])
            .run()
    };
    let first = create("twin@example.com");
    first.assert_success();
    assert!(!first.stderr.contains("warning"), "{first}");
    create("Twin@Example.com")
        .assert_success()
        .assert_stderr_contains(
            "warning: the e-mail twin@example.com is already used by customer 4",
        );
    // An e-mail given as a pattern matches only itself.
    let other = create("t_in@example.com");
    other.assert_success();
    assert!(!other.stderr.contains("warning"), "{other}");
    db.crm()
        .args(["customers", "update", "2", "--email", "TWIN@example.com"])
        .run()
        .assert_success()
        .assert_stderr_contains(
            "warning: the e-mail twin@example.com is already used by customers 4 and 5",
        );
    // Its own e-mail is not another customer's.
    let same = db
        .crm()
        .args(["customers", "update", "1", "--email", "ada@example.com"])
        .run();
    same.assert_success();
    assert!(!same.stderr.contains("warning"), "{same}");
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Customers" WHERE "email" = 'twin@example.com'"#
        ),
        3
    );
}

/// Issue 15's reproduction: with two customers of one e-mail, a one-row import keyed by it
/// reported `0 added, 2 updated`. It cannot say which to update: exit 2, naming the line and
/// the customers, and nothing written.
#[test]
fn an_import_keyed_by_an_email_that_several_customers_have_is_refused() {
    let db = with_customers();
    for _ in 0..2 {
        db.crm()
            .args(["customers", "create", "--email", "twin@example.com"])
            .run()
            .assert_success();
    }
    let before = db
        .client()
        .query(
            r#"SELECT row_to_json(c)::text FROM "Customers" c ORDER BY "id""#,
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>();
    for args in [
        &["--on-conflict", "update"][..],
        &["--on-conflict", "update", "--dry-run"],
    ] {
        db.crm()
            .args(["customers", "import", "-"])
            .args(args)
            .stdin("email,phone\nnew@x.io,1\nTwin@Example.com,555 0100\n")
            .run()
            .assert_code(2)
            .assert_stderr_contains(
                "line 3: email: twin@example.com matches customers 4 and 5, not one",
            )
            .assert_stderr_contains(
                "error: 1 row of standard input matches several customers by e-mail; nothing was imported",
            );
    }
    let after = db
        .client()
        .query(
            r#"SELECT row_to_json(c)::text FROM "Customers" c ORDER BY "id""#,
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>();
    assert_eq!(before, after);
    // With the id, the row says which.
    db.crm()
        .args(["customers", "import", "-", "--on-conflict", "update"])
        .stdin("id,email,phone\n5,twin@example.com,555 0100\n")
        .run()
        .assert_success()
        .assert_stderr_contains("(0 added, 1 updated)");
}

/// With `--skip-invalid`, a row keyed by an e-mail that several customers have is one rejected
/// line like any other invalid one: named on stderr, written to the rejects file, and the
/// other rows imported in the same transaction (the whole import used to fail).
#[test]
fn skip_invalid_rejects_a_row_keyed_by_an_email_that_several_customers_have() {
    let db = with_customers();
    for _ in 0..2 {
        db.crm()
            .args(["customers", "create", "--email", "twin@example.com"])
            .run()
            .assert_success();
    }
    let twins = || [row_json(&db, "Customers", 4), row_json(&db, "Customers", 5)];
    let before = twins();
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let file = "email,phone\n\
                new@x.io,1\n\
                bad,2\n\
                Twin@Example.com,555 0100\n\
                ada@example.com,555 0199\n";
    let run = |extra: &[&str]| {
        db.crm()
            .args(["customers", "import", "-", "--on-conflict", "update"])
            .args(["--skip-invalid", "--rejects"])
            .arg(&rejects)
            .args(extra)
            .stdin(file)
            .run()
    };
    let rejected = "line 3: email: not an e-mail address: \"bad\"\n\
                    line 4: email: twin@example.com matches customers 4 and 5, not one\n";
    run(&["--dry-run"])
        .assert_success()
        .assert_stderr_contains(rejected)
        .assert_stderr_contains(
            "dry run: would import 2 customers from standard input (1 added, 1 updated); \
             2 invalid rows skipped; nothing was written",
        );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 5);

    run(&[])
        .assert_success()
        .assert_stderr_contains(rejected)
        .assert_stderr_contains(&format!(
            "imported 2 customers from standard input (1 added, 1 updated); \
             2 invalid rows skipped, written to {}",
            rejects.display()
        ));
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "email,phone,_line,_error\n\
         bad,2,3,\"email: not an e-mail address: \"\"bad\"\"\"\n\
         Twin@Example.com,555 0100,4,\"email: twin@example.com matches customers 4 and 5, not one\"\n"
    );
    assert_eq!(twins(), before);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Customers"
               WHERE ("id" = 1 AND "phone" = '555 0199') OR ("id" = 6 AND "email" = 'new@x.io')"#
        ),
        2
    );
}

/// Issue 15: `customers update 6 --phone ""` exited 2 and nothing could empty a field.
/// `--clear FIELD` (repeatable, by flag or column name) sets optional fields to NULL; a field
/// that must keep a value is refused naming those that can be cleared; an empty value says
/// how to clear.
#[test]
fn update_clear_empties_optional_fields_and_refuses_the_others() {
    let db = with_customers();
    let out = db
        .crm()
        .args([
            "customers",
            "update",
            "1",
            "--clear",
            "phone",
            "--clear",
            "ADDRESS",
        ])
        .run();
    out.assert_success();
    assert!(
        out.stdout.starts_with(&format!(
            "{HEADER}1,Ada,Lovelace,ada@example.com,,,1234.50,{THEN},20"
        )),
        "{out}"
    );
    let row = db
        .client()
        .query_one(
            r#"SELECT "phone" IS NULL AND "address" IS NULL AND "firstName" = 'Ada'
               FROM "Customers" WHERE "id" = 1"#,
            &[],
        )
        .unwrap();
    assert!(row.get::<_, bool>(0));
    db.crm()
        .args([
            "customers",
            "update",
            "3",
            "--clear",
            "lastName",
            "--first-name",
            "A. M.",
        ])
        .run()
        .assert_success()
        .assert_stdout_contains("3,A. M.,,alan@example.org,");

    let before = row_json(&db, "Customers", 2);
    let refusals: [(&[&str], &str); 4] = [
        (
            &["--phone", ""],
            "'--phone <PHONE>': must not be empty (to remove the phone, update with --clear phone)",
        ),
        (
            &["--clear", "totalPurchases"],
            "totalPurchases cannot be cleared: it is the sum of the customer's completed orders \
             (the fields that can be: first-name, last-name, email, phone, address)",
        ),
        (
            &["--clear", "nickname"],
            "no field \"nickname\" can be cleared (the fields that can be: first-name",
        ),
        (
            &["--phone", "555 0100", "--clear", "phone"],
            "--phone and --clear phone both given",
        ),
    ];
    for (args, message) in refusals {
        db.crm()
            .args(["customers", "update", "2"])
            .args(args)
            .run()
            .assert_code(2)
            .assert_stderr_contains(message);
    }
    assert_eq!(row_json(&db, "Customers", 2), before);
}

/// `customers list --sort lastName --limit 20` on many customers reads the first twenty of an
/// index in that order instead of sorting the whole table (V15), both ways.
#[test]
fn a_list_sorted_by_last_name_reads_an_index_instead_of_sorting_the_table() {
    let db = TestDb::migrated();
    sql(
        &db,
        r#"INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
           SELECT 'Ada', 'Name ' || (i % 5000), 'ada' || i || '@example.com', now(), now()
           FROM generate_series(1, 20000) AS i;
           ANALYZE "Customers";"#,
    );
    // The statement crm runs, as -v logs it.
    let out = db
        .crm()
        .args([
            "-v",
            "customers",
            "list",
            "--sort",
            "lastName",
            "--limit",
            "20",
        ])
        .run();
    out.assert_success();
    assert!(out.stdout.contains("Name 0"), "{out}");
    let listed = out
        .stderr
        .lines()
        .filter_map(|l| l.split_once(" ms: ").map(|(_, sql)| sql))
        .find(|sql| sql.contains("ORDER BY"))
        .map(str::to_string);
    let sql = match listed {
        Some(sql) => sql,
        None => panic!("no ORDER BY statement logged\n{out}"),
    };
    let mut client = db.client();
    for order in ["", " DESC"] {
        let statement = sql
            .replace(
                r#"ORDER BY "lastName", "id""#,
                &format!(r#"ORDER BY "lastName"{order}, "id""#),
            )
            .replace("$1", "20")
            .replace("$2", "0");
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {statement}"), &[])
            .expect("EXPLAIN the list")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("customers_last_name_idx"),
            "{statement}\n{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{statement}\n{plan}");
    }
}
