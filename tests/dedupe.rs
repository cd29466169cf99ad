//! `crm customers duplicates`: given customers planted as duplicates of one another (and near
//! misses beside them), the command finds each planted pair by the rule it was asked for, and
//! not the near misses; best groups first; and its query is served by indexes and blocks, never
//! a nested loop over the table.

use crate::harness::{TestDb, sql};

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

#[test]
fn the_query_is_blocked_and_served_by_indexes() {
    let db = planted();
    // Enough customers that the planner prefers the indexes where they serve.
    sql(
        &db,
        r#"INSERT INTO "Customers" ("firstName", "lastName", "email", "phone", "createdAt", "updatedAt")
           SELECT left(md5(i::text), 8), left(md5((-i)::text), 10), 'c' || i || '@example.org', '+1 555 ' || lpad(i::text, 7, '0'),
                  now(), now()
           FROM generate_series(1, 20000) AS i"#,
    );
    // VACUUM empties the trigram index's pending list, which the planner counts against it.
    sql(&db, r#"VACUUM ANALYZE "Customers""#);
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
