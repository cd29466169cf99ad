//! `crm orders report sales | products | customers`: figures against hand-computed ones on a
//! small fixed data set.

use crate::harness::{TestDb, sql};

/// Two customers, two products (and the items of a third that was deleted), and seven orders:
///
/// | order | customer | status     | created (UTC)       | items                         | total |
/// | 1     | 1        | completed  | 2025-06-30 23:59:59 | 2 x Widget 2.50, 1 x Gadget 10 | 15.00 |
/// | 2     | 1        | completed  | 2025-07-01 00:00:00 | 2 x Gadget 10.00               | 20.00 |
/// | 3     | 2        | completed  | 2025-07-06 12:00:00 | 3 x Widget 2.50                |  7.50 |
/// | 4     | 2        | pending    | 2025-07-07 08:00:00 | 1 x Gadget 10.00               | 10.00 |
/// | 5     | (gone)   | completed  | 2025-08-15 10:00:00 | 2 x (deleted product) 2.00     |  4.00 |
/// | 6     | 1        | cancelled  | 2025-07-02 09:00:00 | 1 x Widget 2.50                |  2.50 |
/// | 7     | 2        | processing | 2025-07-03 09:00:00 | 2 x Widget 2.50                |  5.00 |
///
/// 2025-06-30 is a Monday: orders 1, 2 and 3 fall in one ISO week, in two months.
const ORDERS: &str = r#"
INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "totalPurchases", "createdAt", "updatedAt") VALUES
  (1, 'Ada', 'Lovelace', 'ada@example.com', 35.00, '2025-06-01T00:00:00Z', '2025-06-01T00:00:00Z'),
  (2, 'Bob', 'Stone', 'bob@example.com', 7.50, '2025-06-01T00:00:00Z', '2025-06-01T00:00:00Z');
INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt") VALUES
  (1, 'Widget', 2.50, 100, '2025-06-01T00:00:00Z', '2025-06-01T00:00:00Z'),
  (2, 'Gadget', 10.00, 100, '2025-06-01T00:00:00Z', '2025-06-01T00:00:00Z');
INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt") VALUES
  (1, 1, 'completed', 15.00, '2025-06-30T23:59:59Z', '2025-06-30T23:59:59Z'),
  (2, 1, 'completed', 20.00, '2025-07-01T00:00:00Z', '2025-07-01T00:00:00Z'),
  (3, 2, 'completed', 7.50, '2025-07-06T12:00:00Z', '2025-07-06T12:00:00Z'),
  (4, 2, 'pending', 10.00, '2025-07-07T08:00:00Z', '2025-07-07T08:00:00Z'),
  (5, NULL, 'completed', 4.00, '2025-08-15T10:00:00Z', '2025-08-15T10:00:00Z'),
  (6, 1, 'cancelled', 2.50, '2025-07-02T09:00:00Z', '2025-07-02T09:00:00Z'),
  (7, 2, 'processing', 5.00, '2025-07-03T09:00:00Z', '2025-07-03T09:00:00Z');
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt") VALUES
  (1, 1, 2, 2.50, now(), now()), (1, 2, 1, 10.00, now(), now()),
  (2, 2, 2, 10.00, now(), now()),
  (3, 1, 3, 2.50, now(), now()),
  (4, 2, 1, 10.00, now(), now()),
  (5, NULL, 2, 2.00, now(), now()),
  (6, 1, 1, 2.50, now(), now()),
  (7, 1, 2, 2.50, now(), now());
"#;

/// The fixture, in a database whose sessions run in New York time: periods are UTC whatever the
/// server's time zone (order 1, at 19:59 on 30 June in New York, stays in a UTC June day at
/// 23:59:59, and order 2 in July).
fn with_orders() -> TestDb {
    let db = TestDb::migrated();
    sql(
        &db,
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET TimeZone = %L', current_database(), \
         'America/New_York'); END $$;",
    );
    sql(&db, ORDERS);
    db
}

/// Runs `crm orders report ARGS` and checks its stdout exactly.
fn report(db: &TestDb, args: &[&str], expected: &str) {
    db.crm()
        .args(["orders", "report"])
        .args(args)
        .run()
        .assert_success()
        .assert_stdout_eq(expected);
}

#[test]
fn sales_adds_up_completed_orders_per_month_by_default() {
    let db = with_orders();
    report(
        &db,
        &["sales"],
        "period,orders,revenue,averageOrderValue\n\
         2025-06-01,1,15.00,15.00\n\
         2025-07-01,2,27.50,13.75\n\
         2025-08-01,1,4.00,4.00\n",
    );
}

#[test]
fn sales_by_week_starts_on_monday_and_by_day_on_midnight_utc() {
    let db = with_orders();
    report(
        &db,
        &["sales", "--by", "week"],
        "period,orders,revenue,averageOrderValue\n\
         2025-06-30,3,42.50,14.17\n\
         2025-08-11,1,4.00,4.00\n",
    );
    report(
        &db,
        &["sales", "--by", "day"],
        "period,orders,revenue,averageOrderValue\n\
         2025-06-30,1,15.00,15.00\n\
         2025-07-01,1,20.00,20.00\n\
         2025-07-06,1,7.50,7.50\n\
         2025-08-15,1,4.00,4.00\n",
    );
    db.crm()
        .args(["orders", "report", "sales", "--by", "year"])
        .run()
        .assert_code(2)
        .assert_stdout_eq("")
        .assert_stderr_contains("invalid value 'year' for '--by <PERIOD>'");
}

#[test]
fn since_is_inclusive_until_exclusive_and_status_picks_other_orders() {
    let db = with_orders();
    // Order 2 at 2025-07-01T00:00:00Z is in; order 3 at 2025-07-06T12:00:00Z is out.
    report(
        &db,
        &[
            "sales",
            "--by",
            "day",
            "--since",
            "2025-07-01",
            "--until",
            "2025-07-06T12:00:00Z",
        ],
        "period,orders,revenue,averageOrderValue\n2025-07-01,1,20.00,20.00\n",
    );
    // An offset is a time like any other: 2025-07-01T02:00:00+02:00 is order 2's midnight UTC.
    report(
        &db,
        &["sales", "--since", "2025-07-01T02:00:00.000001+02:00"],
        "period,orders,revenue,averageOrderValue\n\
         2025-07-01,1,7.50,7.50\n\
         2025-08-01,1,4.00,4.00\n",
    );
    report(
        &db,
        &["sales", "--status", "pending"],
        "period,orders,revenue,averageOrderValue\n2025-07-01,1,10.00,10.00\n",
    );
    report(
        &db,
        &["customers", "--status", "processing"],
        "customerId,firstName,lastName,email,orders,revenue\n2,Bob,Stone,bob@example.com,1,5.00\n",
    );
    db.crm()
        .args(["orders", "report", "sales", "--status", "lost"])
        .run()
        .assert_code(2)
        .assert_stdout_eq("");
}

#[test]
fn products_ranks_units_and_revenue_best_first_with_deleted_products_as_one_row() {
    let db = with_orders();
    report(
        &db,
        &["products"],
        "productId,name,unitsSold,revenue\n\
         2,Gadget,3,30.00\n\
         1,Widget,5,12.50\n\
         ,,2,4.00\n",
    );
    report(
        &db,
        &["products", "--limit", "1"],
        "productId,name,unitsSold,revenue\n2,Gadget,3,30.00\n",
    );
    // Cancelled orders count only when asked for.
    report(
        &db,
        &["products", "--status", "cancelled"],
        "productId,name,unitsSold,revenue\n1,Widget,1,2.50\n",
    );
}

#[test]
fn customers_ranks_revenue_best_first_with_deleted_customers_as_one_row() {
    let db = with_orders();
    report(
        &db,
        &["customers"],
        "customerId,firstName,lastName,email,orders,revenue\n\
         1,Ada,Lovelace,ada@example.com,2,35.00\n\
         2,Bob,Stone,bob@example.com,1,7.50\n\
         ,,,,1,4.00\n",
    );
    report(
        &db,
        &["customers", "--since", "2025-07-02"],
        "customerId,firstName,lastName,email,orders,revenue\n\
         2,Bob,Stone,bob@example.com,1,7.50\n\
         ,,,,1,4.00\n",
    );
}

#[test]
fn json_has_money_as_strings_and_a_table_ends_with_totals() {
    let db = with_orders();
    let out = db
        .crm()
        .args(["orders", "report", "sales", "-o", "json"])
        .run();
    out.assert_success();
    let parsed: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    assert_eq!(
        parsed,
        serde_json::json!([
            {"period": "2025-06-01", "orders": 1, "revenue": "15.00", "averageOrderValue": "15.00"},
            {"period": "2025-07-01", "orders": 2, "revenue": "27.50", "averageOrderValue": "13.75"},
            {"period": "2025-08-01", "orders": 1, "revenue": "4.00", "averageOrderValue": "4.00"},
        ])
    );
    let table = db
        .crm()
        .args(["orders", "report", "sales", "-o", "table"])
        .run();
    table.assert_success();
    assert!(
        table
            .stdout
            .ends_with("┘\n3 months; 4 completed orders, revenue 46.50\n"),
        "{table}"
    );
    let table = db
        .crm()
        .args(["orders", "report", "products", "-o", "table"])
        .run();
    table.assert_success();
    assert!(
        table
            .stdout
            .ends_with("┘\n3 products, best first, by revenue from completed orders\n"),
        "{table}"
    );
}

#[test]
fn no_orders_is_an_empty_report_not_an_error() {
    let db = TestDb::migrated();
    report(&db, &["sales"], "period,orders,revenue,averageOrderValue\n");
    report(&db, &["products"], "productId,name,unitsSold,revenue\n");
    report(&db, &["customers", "-o", "json"], "[]\n");
}

#[test]
fn a_table_names_each_period_and_shows_the_empty_ones_as_zero() {
    let db = with_orders();
    let table = |by: &str| {
        let out = db
            .crm()
            .args(["-o", "table", "orders", "report", "sales", "--by", by])
            .run();
        out.assert_success();
        out.stdout
    };
    // Weeks 27 and 33 of 2025 had orders; the five between them had none.
    let weeks = table("week");
    assert!(
        weeks.contains("│ 2025-W27 ┆      3 ┆   42.50 ┆             14.17 │"),
        "{weeks}"
    );
    for week in 28..=32 {
        assert!(
            weeks.contains(&format!(
                "│ 2025-W{week} ┆      0 ┆    0.00 ┆                   │"
            )),
            "week {week} is missing: {weeks}"
        );
    }
    assert!(
        weeks.contains("│ 2025-W33 ┆      1 ┆    4.00 ┆              4.00 │"),
        "{weeks}"
    );
    assert!(
        weeks.ends_with("7 weeks; 4 completed orders, revenue 46.50\n"),
        "{weeks}"
    );
    let months = table("month");
    assert!(months.contains("│ 2025-06 ┆"), "{months}");
    assert!(months.contains("│ 2025-08 ┆"), "{months}");
    let days = table("day");
    assert!(days.contains("│ 2025-07-02 ┆      0 ┆    0.00 ┆"), "{days}");
    // CSV keeps the first day of each period that had orders, as scripts read it.
    report(
        &db,
        &["sales", "--by", "week"],
        "period,orders,revenue,averageOrderValue\n\
         2025-06-30,3,42.50,14.17\n\
         2025-08-11,1,4.00,4.00\n",
    );
}
