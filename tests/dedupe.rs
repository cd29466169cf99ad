//! `crm customers duplicates`: given customers planted as duplicates of one another (and near
//! misses beside them), the command finds each planted pair by the rule it was asked for, and
//! not the near misses; best groups first; and its query is served by indexes and blocks, never
//! a nested loop over the table.

use crate::harness::{TestDb, count, insert_user, row_json, sql};

/// Planted pairs, each with a near miss:
/// - 1 and 2 share an e-mail once trimmed and lower-cased; 3's differs by one character;
/// - 4 and 5 share the last ten digits of their phones; 6's differs in the last;
/// - 7 and 8 have similar names and e-mail neighbours of the same domain (and one address);
///   9 is their e-mail neighbour too, but its name is not similar enough.
const PLANTED: &str = r#"
INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "phone", "address",
                         "totalPurchases", "createdAt", "updatedAt") VALUES
  (1, 'Ann', 'Lee', ' Ann.Lee@Example.com ', NULL, NULL, 0, now(), now()),
  (2, 'Annie', 'Leigh', 'ann.lee@example.com', NULL, NULL, 0, now(), now()),
  (3, 'Zed', 'Quux', 'ann.lee2@example.com', NULL, NULL, 0, now(), now()),
  (4, 'Bob', 'Stone', NULL, '+1 (555) 010-0200', NULL, 0, now(), now()),
  (5, 'Xavier', 'Yu', NULL, '555.010.0200', NULL, 0, now(), now()),
  (6, 'Carl', 'Vane', NULL, '555 010 0201', NULL, 0, now(), now()),
  (7, 'Jonathan', 'Smith', 'jon.smith@example.com', NULL, '1 Elm Street', 0, now(), now()),
  (8, 'Jonathon', 'Smith', 'jonathon.smith@example.com', NULL, '1 elm street', 0, now(), now()),
  (9, 'Joan', 'Smit', 'jon.smith1@example.com', NULL, NULL, 0, now(), now());
SELECT setval('"Customers_id_seq"', 9);
"#;

fn planted() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, PLANTED);
    db
}

/// One output row: group, customerId, score, reasons.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    group: i64,
    id: i32,
    score: Option<f64>,
    reasons: String,
}

fn duplicates(db: &TestDb, args: &[&str]) -> Vec<Candidate> {
    let out = db
        .crm()
        .args(["-o", "csv", "customers", "duplicates"])
        .args(args)
        .run();
    out.assert_success();
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "group",
            "customerId",
            "score",
            "reasons",
            "firstName",
            "lastName",
            "email",
            "phone"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Candidate {
                group: r[0].parse().unwrap(),
                id: r[1].parse().unwrap(),
                score: (!r[2].is_empty()).then(|| r[2].parse().unwrap()),
                reasons: r[3].to_string(),
            }
        })
        .collect()
}

/// The groups as lists of ids, first the customer each group is about.
fn groups(rows: &[Candidate]) -> Vec<Vec<i32>> {
    let mut groups: Vec<Vec<i32>> = Vec::new();
    for row in rows {
        match groups.last_mut() {
            Some(g) if row.score.is_some() => g.push(row.id),
            _ => groups.push(vec![row.id]),
        }
    }
    groups
}

fn sorted(mut groups: Vec<Vec<i32>>) -> Vec<Vec<i32>> {
    groups.sort();
    groups
}

#[test]
fn each_rule_finds_its_planted_pair_and_not_the_near_miss() {
    let db = planted();
    assert_eq!(groups(&duplicates(&db, &["--rule", "email"])), [[1, 2]]);
    assert_eq!(groups(&duplicates(&db, &["--rule", "phone"])), [[4, 5]]);
    assert_eq!(groups(&duplicates(&db, &["--rule", "name"])), [[7, 8]]);
    assert_eq!(
        sorted(groups(&duplicates(&db, &[]))),
        [[1, 2], [4, 5], [7, 8]]
    );
}

#[test]
fn candidates_say_why_and_the_best_groups_come_first() {
    let db = planted();
    let rows = duplicates(&db, &[]);
    let reasons = |id: i32| {
        rows.iter()
            .find(|r| r.id == id)
            .map(|r| r.reasons.clone())
            .unwrap()
    };
    assert_eq!(reasons(2), "same e-mail");
    assert_eq!(reasons(5), "same phone");
    assert!(
        reasons(8).starts_with("similar name 0.") && reasons(8).ends_with(", same address"),
        "{rows:?}"
    );
    // Each group's first row is the customer it is about, without a score; then its
    // candidates; and groups go best first.
    let best: Vec<f64> = rows.iter().filter_map(|r| r.score).collect();
    assert_eq!(best.len(), 3, "{rows:?}");
    assert!(best.windows(2).all(|w| w[0] >= w[1]), "{rows:?}");
    assert_eq!(rows[0].group, 1);
    assert_eq!(rows[0].score, None);
    assert_eq!(rows[1].id, 2, "same e-mail scores highest: {rows:?}");
}

#[test]
fn min_score_limit_and_one_customer() {
    let db = planted();
    assert_eq!(groups(&duplicates(&db, &["--min-score", "0.85"])), [[1, 2]]);
    assert_eq!(groups(&duplicates(&db, &["--limit", "2"])).len(), 2);
    // Trigram neighbours of one customer's name: 9 ("Joan Smit") is one, not similar enough.
    assert_eq!(groups(&duplicates(&db, &["--customer", "8"])), [[8, 7]]);
    assert_eq!(groups(&duplicates(&db, &["--customer", "5"])), [[5, 4]]);
    assert_eq!(duplicates(&db, &["--customer", "3"]), []);
}

#[test]
fn bad_arguments_and_a_missing_customer() {
    let db = planted();
    db.crm()
        .args(["customers", "duplicates", "--customer", "99"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("customer 99 does not exist");
    db.crm()
        .args(["customers", "duplicates", "--min-score", "1.5"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("expected a score from 0 to 1");
    db.crm()
        .args(["customers", "duplicates", "--rule", "address"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("email");
}

/// The nodes of an EXPLAIN (FORMAT JSON) plan, each with the nodes under it.
fn nodes(plan: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    out.push(plan.clone());
    if let Some(children) = plan["Plans"].as_array() {
        for child in children {
            nodes(child, out);
        }
    }
}

fn plan(db: &TestDb, args: &[&str]) -> Vec<serde_json::Value> {
    let out = db
        .crm()
        .args(["customers", "duplicates", "--explain"])
        .args(args)
        .run();
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut all = Vec::new();
    nodes(&json[0]["Plan"], &mut all);
    all
}

fn seq_scans_customers(node: &serde_json::Value) -> bool {
    node["Node Type"] == "Seq Scan" && node["Relation Name"] == "Customers"
}

/// [`planted`] among 20,000 other customers: enough that the planner prefers the indexes where
/// they serve.
fn planted_among_many() -> TestDb {
    let db = planted();
    sql(
        &db,
        r#"INSERT INTO "Customers" ("firstName", "lastName", "email", "phone", "createdAt", "updatedAt")
           SELECT left(md5(i::text), 8), left(md5((-i)::text), 10), 'c' || i || '@example.org', '+1 555 ' || lpad(i::text, 7, '0'),
                  now(), now()
           FROM generate_series(1, 20000) AS i"#,
    );
    // VACUUM empties the trigram index's pending list, which the planner counts against it.
    sql(&db, r#"VACUUM ANALYZE "Customers""#);
    db
}

#[test]
fn the_query_is_blocked_and_served_by_indexes() {
    let db = planted_among_many();
    // A full run reads the table in passes (keys, then the pairs' rows by hash or index), and
    // no nested loop has a scan of it inside: the work grows with the table, not its square.
    let full = plan(&db, &[]);
    assert!(
        full.iter().any(|n| n["Node Type"] == "WindowAgg"),
        "{full:#?}"
    );
    for node in full.iter().filter(|n| n["Node Type"] == "Nested Loop") {
        let mut under = Vec::new();
        nodes(node, &mut under);
        assert!(
            !under.iter().any(seq_scans_customers),
            "a nested loop over the table: {node:#}"
        );
    }
    // One customer's duplicates (the first of those just made, with every key): index
    // lookups only.
    let one = plan(&db, &["--customer", "10"]);
    let text = serde_json::to_string(&one).unwrap();
    for index in [
        "customers_email_key_idx",
        "customers_phone_key_idx",
        "customers_full_name_trgm_idx",
    ] {
        assert!(text.contains(index), "{index} unused: {one:#?}");
    }
    assert!(!one.iter().any(seq_scans_customers), "{one:#?}");
}

/// Customer 1 is kept; 2 (older) and 3 (newer) are its duplicates, each with orders.
const TO_MERGE: &str = r#"
INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "phone", "address",
                         "totalPurchases", "createdAt", "updatedAt") VALUES
  (1, 'Ann', 'Lee', 'ann@example.com', NULL, NULL, 1.00,
   '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z'),
  (2, 'Annie', NULL, 'annie@example.com', '111', 'Old Street', 10.00,
   '2025-02-01T00:00:00Z', '2025-02-01T00:00:00Z'),
  (3, NULL, 'Leigh', NULL, '222', '  ', 20.00,
   '2025-03-01T00:00:00Z', '2025-03-01T00:00:00Z'),
  (4, 'Other', 'Person', 'other@example.com', NULL, NULL, 0.00,
   '2025-03-01T00:00:00Z', '2025-03-01T00:00:00Z');
SELECT setval('"Customers_id_seq"', 4);
INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt") VALUES
  (1, 1, 'completed', 1.00, now(), now()),
  (2, 2, 'completed', 10.00, now(), now()),
  (3, 2, 'pending', 5.00, now(), now()),
  (4, 3, 'completed', 20.00, now(), now()),
  (5, 4, 'completed', 0.00, now(), now());
SELECT setval('"Orders_id_seq"', 5);
INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt") VALUES
  (1, 'Pen', 2.50, 1000, now(), now());
SELECT setval('"Products_id_seq"', 1);
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
SELECT "id", 1, 1, "total", now(), now() FROM "Orders";
"#;

fn to_merge() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, TO_MERGE);
    db
}

/// `(id, customerId)` of every order.
fn orders(db: &TestDb) -> Vec<(i32, Option<i32>)> {
    db.client()
        .query(
            r#"SELECT "id", "customerId" FROM "Orders" ORDER BY "id""#,
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// `firstName, lastName, email, phone, address, totalPurchases` of customer 1, as text.
fn kept(db: &TestDb) -> Vec<Option<String>> {
    let row = db
        .client()
        .query_one(
            r#"SELECT "firstName", "lastName", "email", "phone", "address",
                      "totalPurchases"::text FROM "Customers" WHERE "id" = 1"#,
            &[],
        )
        .unwrap();
    (0..6).map(|i| row.get(i)).collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|v| (!v.is_empty()).then(|| v.to_string()))
        .collect()
}

fn check_is_clean(db: &TestDb) {
    db.crm().args(["db", "check"]).run().assert_success();
}

#[test]
fn merge_moves_orders_fills_empty_fields_newest_first_and_recomputes_the_total() {
    let db = to_merge();
    let out = db
        .crm()
        .args(["-o", "csv", "customers", "merge", "1", "2", "3", "--yes"])
        .run();
    out.assert_success().assert_stdout_eq(
        "change,id,field,before,after,from\n\
         field,1,phone,,222,3\n\
         field,1,address,,Old Street,2\n\
         field,1,totalPurchases,1.00,31.00,\n\
         order,2,customerId,2,1,\n\
         order,3,customerId,2,1,\n\
         order,4,customerId,3,1,\n\
         delete,2,,,,\n\
         delete,3,,,,\n",
    );
    out.assert_stderr_contains("merged customers 2, 3 into customer 1: 3 orders moved");
    assert_eq!(
        orders(&db),
        [
            (1, Some(1)),
            (2, Some(1)),
            (3, Some(1)),
            (4, Some(1)),
            (5, Some(4))
        ]
    );
    assert_eq!(
        kept(&db),
        some(&[
            "Ann",
            "Lee",
            "ann@example.com",
            "222",
            "Old Street",
            "31.00"
        ])
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Customers" WHERE "id" IN (2, 3)"#
        ),
        0
    );
    check_is_clean(&db);
}

#[test]
fn take_names_the_customer_that_gives_a_field() {
    let db = to_merge();
    db.crm()
        .args([
            "customers",
            "merge",
            "1",
            "2",
            "3",
            "--take",
            "phone=2",
            "--take",
            "email=2",
            "--yes",
        ])
        .run()
        .assert_success();
    assert_eq!(
        kept(&db),
        some(&[
            "Ann",
            "Lee",
            "annie@example.com",
            "111",
            "Old Street",
            "31.00"
        ])
    );
    check_is_clean(&db);
}

#[test]
fn dry_run_prints_the_same_changes_and_writes_nothing() {
    let db = to_merge();
    let before: Vec<String> = (1..=4).map(|id| row_json(&db, "Customers", id)).collect();
    let out = db
        .crm()
        .args([
            "-o",
            "csv",
            "customers",
            "merge",
            "1",
            "2",
            "3",
            "--dry-run",
        ])
        .run();
    out.assert_success()
        .assert_stdout_contains("field,1,phone,,222,3\n")
        .assert_stdout_contains("order,4,customerId,3,1,\n")
        .assert_stdout_contains("delete,3,,,,\n")
        .assert_stderr_contains("nothing was written");
    let after: Vec<String> = (1..=4).map(|id| row_json(&db, "Customers", id)).collect();
    assert_eq!(before, after);
    assert_eq!(orders(&db)[3], (4, Some(3)));
}

#[test]
fn merge_refuses_what_it_cannot_do_and_writes_nothing() {
    let db = to_merge();
    let before = orders(&db);
    db.crm()
        .args(["customers", "merge", "1", "2", "99", "98", "--yes"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("customers 98, 99 do not exist");
    db.crm()
        .args(["customers", "merge", "1", "1", "--yes"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("customer 1 is both KEEP and a duplicate");
    db.crm()
        .args(["customers", "merge", "1", "2", "--take", "phone=4", "--yes"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("customer 4 is not one of those merged (1, 2)");
    db.crm()
        .args(["customers", "merge", "1", "2", "--take", "notes=2", "--yes"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("unknown field \"notes\"");
    db.crm()
        .args(["customers", "merge", "1", "2"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("pass --yes");
    assert_eq!(orders(&db), before);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 4);
}

/// Eight processes place orders for duplicate 2 while it is merged into 1: each order is either
/// placed before the merge takes the customers (and moved) or refused after it (customer 2 does
/// not exist); none is left without its customer, and `db check` finds nothing.
#[test]
fn a_merge_racing_orders_for_the_duplicate_leaves_every_order_with_keep() {
    let db = to_merge();
    let mut runs = Vec::new();
    let mut start = |args: &[&str]| {
        let mut crm = db.crm();
        crm.args(args);
        let child = crm.spawn();
        runs.push((crm, child));
    };
    for i in 0..8 {
        let status = if i % 2 == 0 { "completed" } else { "pending" };
        start(&[
            "orders",
            "create",
            "--customer",
            "2",
            "--item",
            "1:1",
            "--status",
            status,
        ]);
        if i == 3 {
            start(&["customers", "merge", "1", "2", "3", "--yes"]);
        }
    }
    let outputs: Vec<_> = runs
        .into_iter()
        .map(|(crm, child)| crm.wait(child))
        .collect();
    let merge = &outputs[4];
    merge.assert_success();
    for out in outputs.iter().filter(|o| o.code() != 0) {
        out.assert_code(3)
            .assert_stderr_contains("customer 2 does not exist");
    }
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE "customerId" IS DISTINCT FROM 1 AND "id" <> 5"#
        ),
        0
    );
    let placed = outputs.iter().filter(|o| o.code() == 0).count() as i64 - 1;
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 5 + placed);
    check_is_clean(&db);
}

fn snapshot(db: &TestDb) -> (Vec<String>, Vec<(i32, Option<i32>)>) {
    let customers = db
        .client()
        .query(
            r#"SELECT row_to_json(c)::text FROM "Customers" c ORDER BY "id""#,
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (customers, orders(db))
}

#[test]
fn undo_puts_back_the_exact_rows_and_is_listed() {
    let db = to_merge();
    insert_user(&db, "Op", "Erator", "ops@example.com", "staff");
    let before = snapshot(&db);
    db.crm()
        .args([
            "--as",
            "ops@example.com",
            "customers",
            "merge",
            "1",
            "2",
            "3",
            "--yes",
        ])
        .run()
        .assert_success();
    db.crm()
        .args(["-o", "csv", "customers", "merge", "list"])
        .run()
        .assert_success()
        .assert_stdout_contains("id,mergedAt,mergedBy,keepId,deleted,ordersMoved,undoneAt\n1,")
        .assert_stdout_contains(",ops@example.com,1,2 3,3,\n");
    db.crm()
        .args(["customers", "merge", "undo", "1", "--yes"])
        .run()
        .assert_success()
        .assert_stderr_contains("undid merge 1: customers 2, 3 recreated, 3 orders moved back");
    assert_eq!(snapshot(&db), before);
    check_is_clean(&db);
    db.crm()
        .args(["customers", "merge", "undo", "1", "--yes"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("merge 1 was undone already");
    db.crm()
        .args(["customers", "merge", "undo", "7", "--yes"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("merge 7 does not exist");
}

#[test]
fn undo_refuses_after_a_change_it_would_lose_naming_it() {
    let db = to_merge();
    db.crm()
        .args(["customers", "merge", "1", "2", "3", "--yes"])
        .run()
        .assert_success();
    sql(
        &db,
        r#"UPDATE "Customers" SET "phone" = '999' WHERE "id" = 1;
           INSERT INTO "Customers" ("id", "firstName", "createdAt", "updatedAt")
           VALUES (3, 'Someone else', now(), now());"#,
    );
    let after = snapshot(&db);
    db.crm()
        .args(["customers", "merge", "undo", "1", "--yes"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("customer 1's phone changed (from \"222\" to \"999\")")
        .assert_stderr_contains("customer 3 exists again");
    assert_eq!(snapshot(&db), after);
}

/// A file to import beside [`PLANTED`]'s customers: line 2 has customers 1's and 2's e-mail in
/// other case, line 3 customers 4's and 5's phone with other punctuation, line 4 a name like 7's
/// and 8's with an e-mail neighbour of theirs (the block), and line 5 is a near miss: customer
/// 3's very name, but no e-mail or phone in common with anyone.
const TO_IMPORT: &str = "firstName,lastName,email,phone\n\
    Ann,Lee,ANN.LEE@EXAMPLE.COM,\n\
    Robert,Stone,robert@other.org,(555) 010-0200\n\
    Jonathan,Smith,jonathan.smith@example.com,\n\
    Zed,Quux,zed.quux@elsewhere.net,555 010 0209\n";

/// What the import of [`TO_IMPORT`] reports, exactly.
const REPORTED: &str = "line,customerId,score,reasons,email,name,customerEmail,customerName\n\
    2,1,1.00,\"same e-mail, similar name 1.00\",ann.lee@example.com,Ann Lee, Ann.Lee@Example.com ,Ann Lee\n\
    2,2,0.90,same e-mail,ann.lee@example.com,Ann Lee,ann.lee@example.com,Annie Leigh\n\
    3,4,0.80,same phone,robert@other.org,Robert Stone,,Bob Stone\n\
    3,5,0.80,same phone,robert@other.org,Robert Stone,,Xavier Yu\n\
    4,7,1.00,similar name 1.00,jonathan.smith@example.com,Jonathan Smith,jon.smith@example.com,Jonathan Smith\n\
    4,8,0.67,similar name 0.67,jonathan.smith@example.com,Jonathan Smith,jonathon.smith@example.com,Jonathon Smith\n";

/// Runs `customers import` of `csv` with `--dedupe-report`; returns the output and the report
/// (`None` when there is none).
fn import_reporting(
    db: &TestDb,
    csv: &str,
    args: &[&str],
) -> (crate::harness::Output, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    std::fs::write(&file, csv).unwrap();
    let report = dir.path().join("report.csv");
    let out = db
        .crm()
        .args(["customers", "import"])
        .arg(&file)
        .arg("--dedupe-report")
        .arg(&report)
        .args(args)
        .run();
    let written = std::fs::read_to_string(&report).ok();
    // Only the report beside the file: no temporary file is left.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: &[&str] = if written.is_some() {
        &["in.csv", "report.csv"]
    } else {
        &["in.csv"]
    };
    assert_eq!(names, expected);
    (out, written)
}

#[test]
fn import_dedupe_report_lists_the_rows_like_existing_customers() {
    let db = planted();
    let (out, report) = import_reporting(&db, TO_IMPORT, &["--on-conflict", "skip"]);
    out.assert_success()
        .assert_stderr_contains("3 rows of ")
        .assert_stderr_contains("look like existing customers");
    assert_eq!(report.as_deref(), Some(REPORTED));
    // Compared with the customers that were there, not with the rows just imported.
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 12);
    // `-` is standard output; the rows imported just now are customers like the others.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    std::fs::write(&file, TO_IMPORT).unwrap();
    let out = db
        .crm()
        .args(["customers", "import", "--dry-run", "--on-conflict", "skip"])
        .arg(&file)
        .args(["--dedupe-report", "-"])
        .run();
    out.assert_success()
        .assert_stderr_contains("look like existing customers: see standard output");
    assert!(out.stdout.starts_with(COLUMNS_LINE), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "\n3,10,1.00,\"same e-mail, same phone, similar name 1.00\",robert@other.org,"
        ),
        "{}",
        out.stdout
    );
}

const COLUMNS_LINE: &str = "line,customerId,score,reasons,email,name,customerEmail,customerName\n";

#[test]
fn import_dedupe_report_is_written_by_a_dry_run_and_by_an_import_that_fails() {
    let db = planted();
    let (out, report) = import_reporting(&db, TO_IMPORT, &["--dry-run", "--on-conflict", "skip"]);
    out.assert_success()
        .assert_stderr_contains("dry run: would import");
    assert_eq!(report.as_deref(), Some(REPORTED));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 9);
    // Line 2's e-mail is a customer's already: the import stops (exit 5), the report is there.
    let (out, report) = import_reporting(&db, TO_IMPORT, &[]);
    out.assert_code(5);
    assert_eq!(report.as_deref(), Some(REPORTED));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 9);
    // A file with no row like anyone's: the header alone.
    let (out, report) = import_reporting(&db, "firstName,email\nNew,new@new.org\n", &[]);
    out.assert_success().assert_stderr_contains("0 rows of ");
    assert_eq!(
        report.as_deref(),
        Some("line,customerId,score,reasons,email,name,customerEmail,customerName\n")
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 10);
}

#[test]
fn import_dedupe_report_into_a_missing_folder_is_bad_input_and_imports_nothing() {
    let db = planted();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    std::fs::write(&file, TO_IMPORT).unwrap();
    let report = dir.path().join("missing").join("report.csv");
    db.crm()
        .args(["customers", "import", "--on-conflict", "skip"])
        .arg(&file)
        .arg("--dedupe-report")
        .arg(&report)
        .run()
        .assert_code(2)
        .assert_stderr_contains("cannot write the dedupe report")
        .assert_stderr_contains("does not exist; nothing was imported");
    assert!(!dir.path().join("missing").exists());
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Customers""#), 9);
    // Products have no duplicate rules.
    std::fs::write(&file, "name,price,stock\nPen,1.00,5\n").unwrap();
    db.crm()
        .args(["products", "import"])
        .arg(&file)
        .arg("--dedupe-report")
        .arg(dir.path().join("report.csv"))
        .run()
        .assert_code(2)
        .assert_stderr_contains("--dedupe-report is for customers");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Products""#), 0);
}

#[test]
fn import_dedupe_report_is_served_by_indexes_not_a_loop_over_the_table() {
    let db = planted_among_many();
    let (out, report) = import_reporting(&db, TO_IMPORT, &["--dry-run", "-v"]);
    out.assert_code(5);
    assert_eq!(report.as_deref(), Some(REPORTED));
    // The statement crm ran, explained over a staging table like import's.
    let statement = out
        .stderr
        .lines()
        .find_map(|l| l.split_once(" ms: WITH file AS").map(|(_, s)| s))
        .unwrap_or_else(|| panic!("no report statement logged: {}", out.stderr));
    let mut client = db.client();
    client
        .batch_execute(
            r#"CREATE TEMP TABLE crm_import ("_line" int8, "firstName" text, "lastName" text,
                                              "email" text, "phone" text);
               INSERT INTO crm_import SELECT i, 'F' || i, 'L' || i, 'x' || i || '@example.org',
                                             '555 000 ' || lpad(i::text, 4, '0')
               FROM generate_series(2, 101) AS i;
               ANALYZE crm_import"#,
        )
        .unwrap();
    let explained = client
        .query_one(
            &format!("EXPLAIN (FORMAT JSON) WITH file AS{statement}"),
            &[],
        )
        .unwrap();
    let json: serde_json::Value = explained.get(0);
    let mut all = Vec::new();
    nodes(&json[0]["Plan"], &mut all);
    let text = serde_json::to_string(&all).unwrap();
    // The names' block is the e-mail neighbours, found in the e-mail key index (a few each
    // side), never every customer of a domain that most customers share.
    for index in ["customers_email_key_idx", "customers_phone_key_idx"] {
        assert!(text.contains(index), "{index} unused: {all:#?}");
    }
    assert!(!all.iter().any(seq_scans_customers), "{all:#?}");
}
