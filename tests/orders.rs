//! `crm orders create | set-status | cancel | list | show | export`: placing orders under
//! concurrency, the lifecycle, and the rows left. Given these rows, running this command prints
//! that and leaves those rows; every refusal writes nothing.

use crate::harness::{Output, TestDb, count, sql, wait_for};
use serde_json::{Value, json};

/// When the fixtures were made, as the database and the output show it.
const THEN: &str = "2025-07-01T09:30:00Z";

/// Two users, three customers and four products, the ids fixed. Alan's stored totalPurchases
/// is wrong on purpose (no completed order of his sums to 500.00); Grace's 49.00 is right once
/// [`ORDERS`] are in, and wrong without them.
const PEOPLE_AND_PRODUCTS: &str = r#"
INSERT INTO "Users" ("id", "firstName", "lastName", "email", "password", "role",
                     "createdAt", "updatedAt") VALUES
  (1, 'Alice', 'Admin', 'alice@example.com', 'not-a-hash', 'admin',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Bob', 'Staff', 'bob@example.com', 'not-a-hash', 'staff',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Users_id_seq"', 2);
INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "totalPurchases",
                         "createdAt", "updatedAt") VALUES
  (1, 'Ada', 'Lovelace', 'ada@example.com', 0.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Grace', 'Hopper', 'grace@navy.mil', 49.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 'Alan', 'Turing', 'alan@example.org', 500.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Customers_id_seq"', 3);
INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt") VALUES
  (1, 'Sweet', 0.10, 100, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Book', 19.99, 10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 'Gadget', 24.50, 0, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (4, 'Yacht', 60000000.00, 5, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Products_id_seq"', 4);
"#;

/// Four orders at fixed times, one per status, each total the sum of its items:
/// 1 Ada pending by Alice, 2 Grace completed by Bob, 3 Ada cancelled by nobody, 4 Alan
/// processing by Alice. `%` in one order's notes and `_` in another's.
const ORDERS: &str = r#"
INSERT INTO "Orders" ("id", "customerId", "createdBy", "status", "total", "notes",
                      "createdAt", "updatedAt") VALUES
  (1, 1, 1, 'pending', 20.29, '50% off', '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 2, 2, 'completed', 49.00, 'gift_wrap', '2025-07-15T12:00:00Z', '2025-07-16T08:00:00Z'),
  (3, 1, NULL, 'cancelled', 19.99, NULL, '2025-08-01T00:00:00Z', '2025-08-01T00:00:00Z'),
  (4, 3, 1, 'processing', 100.00, 'call first, then ring', '2025-08-02T10:00:00Z',
   '2025-08-02T10:00:00Z');
SELECT setval('"Orders_id_seq"', 4);
INSERT INTO "OrderItems" ("id", "orderId", "productId", "quantity", "price",
                          "createdAt", "updatedAt") VALUES
  (1, 1, 1, 3, 0.10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 1, 2, 1, 19.99, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 2, 3, 2, 24.50, '2025-07-15T12:00:00Z', '2025-07-15T12:00:00Z'),
  (4, 3, 2, 1, 19.99, '2025-08-01T00:00:00Z', '2025-08-01T00:00:00Z'),
  (5, 4, 1, 1000, 0.10, '2025-08-02T10:00:00Z', '2025-08-02T10:00:00Z');
SELECT setval('"OrderItems_id_seq"', 5);
"#;

const ORDER_HEADER: &str =
    "id,customerId,customerName,status,total,itemCount,createdBy,notes,createdAt,updatedAt\n";

const ITEM_HEADER: &str =
    "id,orderId,productId,productName,quantity,price,lineTotal,createdAt,updatedAt\n";

/// The CSV row of fixture order `id`, as list and export print it.
fn order_row(id: i32) -> &'static str {
    match id {
        1 => {
            "1,1,Ada Lovelace,pending,20.29,2,1,50% off,2025-07-01T09:30:00Z,2025-07-01T09:30:00Z\n"
        }
        2 => {
            "2,2,Grace Hopper,completed,49.00,1,2,gift_wrap,2025-07-15T12:00:00Z,2025-07-16T08:00:00Z\n"
        }
        3 => "3,1,Ada Lovelace,cancelled,19.99,1,,,2025-08-01T00:00:00Z,2025-08-01T00:00:00Z\n",
        4 => {
            "4,3,Alan Turing,processing,100.00,1,1,\"call first, then ring\",2025-08-02T10:00:00Z,2025-08-02T10:00:00Z\n"
        }
        _ => unreachable!(),
    }
}

/// The CSV of fixture orders `ids`, in that order.
fn orders_csv(ids: &[i32]) -> String {
    let mut out = ORDER_HEADER.to_string();
    for id in ids {
        out.push_str(order_row(*id));
    }
    out
}

/// The CSV row of fixture item `id`, as `export --items` prints it.
fn item_row(id: i32) -> &'static str {
    match id {
        1 => "1,1,1,Sweet,3,0.10,0.30,2025-07-01T09:30:00Z,2025-07-01T09:30:00Z\n",
        2 => "2,1,2,Book,1,19.99,19.99,2025-07-01T09:30:00Z,2025-07-01T09:30:00Z\n",
        3 => "3,2,3,Gadget,2,24.50,49.00,2025-07-15T12:00:00Z,2025-07-15T12:00:00Z\n",
        4 => "4,3,2,Book,1,19.99,19.99,2025-08-01T00:00:00Z,2025-08-01T00:00:00Z\n",
        5 => "5,4,1,Sweet,1000,0.10,100.00,2025-08-02T10:00:00Z,2025-08-02T10:00:00Z\n",
        _ => unreachable!(),
    }
}

fn items_csv(ids: &[i32]) -> String {
    let mut out = ITEM_HEADER.to_string();
    for id in ids {
        out.push_str(item_row(*id));
    }
    out
}

/// Users, customers and products, no orders.
fn with_catalogue() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, PEOPLE_AND_PRODUCTS);
    db
}

/// The catalogue and the four fixture orders.
fn with_orders() -> TestDb {
    let db = with_catalogue();
    sql(&db, ORDERS);
    db
}

/// Every row crm could write while placing or changing an order, every column, as JSON text:
/// equal before and after means nothing was written.
fn snapshot(db: &TestDb) -> String {
    db.client()
        .query_one(
            r#"SELECT json_build_object(
                 'orders', (SELECT json_agg(o ORDER BY o."id") FROM "Orders" o),
                 'items', (SELECT json_agg(i ORDER BY i."id") FROM "OrderItems" i),
                 'products', (SELECT json_agg(p ORDER BY p."id") FROM "Products" p),
                 'customers', (SELECT json_agg(c ORDER BY c."id") FROM "Customers" c))::text"#,
            &[],
        )
        .expect("read the rows")
        .get(0)
}

fn stock_of(db: &TestDb, product: i32) -> Option<i32> {
    db.client()
        .query_one(
            r#"SELECT "stock" FROM "Products" WHERE "id" = $1"#,
            &[&product],
        )
        .expect("read the stock")
        .get(0)
}

/// A customer's stored totalPurchases, as text (`"20.29"`).
fn total_purchases(db: &TestDb, customer: i32) -> String {
    db.client()
        .query_one(
            r#"SELECT "totalPurchases"::text FROM "Customers" WHERE "id" = $1"#,
            &[&customer],
        )
        .expect("read totalPurchases")
        .get(0)
}

fn status_of(db: &TestDb, order: i32) -> String {
    db.client()
        .query_one(
            r#"SELECT "status"::text FROM "Orders" WHERE "id" = $1"#,
            &[&order],
        )
        .expect("read the status")
        .get(0)
}

/// The one JSON object a command printed.
fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not one JSON object: {e}\n{out}"))
}

/// `crm -o json orders create --customer C --item ... [more]`, which must succeed; the order
/// it printed.
fn create(db: &TestDb, customer: i32, items: &[&str], more: &[&str]) -> Value {
    let mut crm = db.crm();
    crm.args(["-o", "json", "orders", "create", "--customer"])
        .arg(customer.to_string());
    for item in items {
        crm.args(["--item", item]);
    }
    let out = crm.args(more).run();
    out.assert_success();
    json_of(&out)
}

/// The order's items as (productId, quantity, price) from the database, in id order.
fn items_of(db: &TestDb, order: i32) -> Vec<(Option<i32>, i32, String)> {
    db.client()
        .query(
            r#"SELECT "productId", "quantity", "price"::text FROM "OrderItems"
               WHERE "orderId" = $1 ORDER BY "id""#,
            &[&order],
        )
        .expect("read the items")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The printed order without the times crm chose (`now()`), which the database holds.
fn without_times(mut order: Value) -> Value {
    let object = order.as_object_mut().expect("an object");
    object.remove("createdAt").expect("createdAt");
    object.remove("updatedAt").expect("updatedAt");
    order
}

// --- create ---------------------------------------------------------------------------------

#[test]
fn create_copies_the_prices_takes_the_stock_and_totals_exactly() {
    let db = with_catalogue();
    let out = db
        .crm()
        .args([
            "-o",
            "json",
            "orders",
            "create",
            "--customer",
            "1",
            "--item",
            "1:3",
            "--item",
            "2:1",
            "--notes",
            "leave it at the door",
            "--as",
            "alice@example.com",
        ])
        .run();
    out.assert_success().assert_stderr_contains(
        "created order 1 for customer 1 (Ada Lovelace): 2 items, total 20.29 (pending)",
    );
    let order = json_of(&out);
    assert_eq!(order["createdAt"], order["updatedAt"], "{out}");
    assert_eq!(
        without_times(order),
        json!({
            "id": 1, "customerId": 1, "customerName": "Ada Lovelace",
            "customerEmail": "ada@example.com", "status": "pending", "total": "20.29",
            "itemCount": 2, "createdBy": 1, "createdByEmail": "alice@example.com",
            "notes": "leave it at the door",
            "items": [
                {"id": 1, "productId": 1, "productName": "Sweet", "quantity": 3,
                 "price": "0.10", "lineTotal": "0.30"},
                {"id": 2, "productId": 2, "productName": "Book", "quantity": 1,
                 "price": "19.99", "lineTotal": "19.99"}
            ]
        })
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE "id" = 1 AND "total" = 20.29
               AND "customerId" = 1 AND "createdBy" = 1 AND "status" = 'pending'
               AND "notes" = 'leave it at the door'"#
        ),
        1
    );
    assert_eq!(
        items_of(&db, 1),
        [(Some(1), 3, "0.10".into()), (Some(2), 1, "19.99".into())]
    );
    assert_eq!(stock_of(&db, 1), Some(97));
    assert_eq!(stock_of(&db, 2), Some(9));
    assert_eq!(stock_of(&db, 3), Some(0));
    // A pending order is no purchase yet.
    assert_eq!(total_purchases(&db, 1), "0.00");

    // The price changes afterwards; the order keeps the price it was placed at.
    sql(
        &db,
        r#"UPDATE "Products" SET "price" = 0.25 WHERE "id" = 1"#,
    );
    let shown = db.crm().args(["-o", "json", "orders", "show", "1"]).run();
    shown.assert_success();
    let shown = json_of(&shown);
    assert_eq!(shown["total"], "20.29");
    assert_eq!(shown["items"][0]["price"], "0.10");
    assert_eq!(shown["items"][0]["lineTotal"], "0.30");
    assert_eq!(
        items_of(&db, 1),
        [(Some(1), 3, "0.10".into()), (Some(2), 1, "19.99".into())]
    );

    // The next order takes the new price.
    let next = create(&db, 1, &["1:2"], &[]);
    assert_eq!(next["total"], "0.50");
    assert_eq!(next["items"][0]["price"], "0.25");
    assert_eq!(stock_of(&db, 1), Some(95));
}

#[test]
fn create_merges_one_product_given_twice_into_one_item() {
    let db = with_catalogue();
    let order = create(&db, 2, &["2:1", "1:2", "2:3"], &[]);
    // 4 x 19.99 + 2 x 0.10
    assert_eq!(order["total"], "80.16");
    assert_eq!(order["itemCount"], 2);
    assert_eq!(order["createdBy"], Value::Null);
    assert_eq!(order["createdByEmail"], Value::Null);
    assert_eq!(order["notes"], Value::Null);
    assert_eq!(
        items_of(&db, 1),
        [(Some(1), 2, "0.10".into()), (Some(2), 4, "19.99".into())]
    );
    assert_eq!(stock_of(&db, 1), Some(98));
    assert_eq!(stock_of(&db, 2), Some(6));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "OrderItems""#), 2);
}

#[test]
fn create_records_the_acting_user_named_by_id_or_email_in_any_case() {
    let db = with_catalogue();
    let by_id = create(&db, 1, &["1:1"], &["--as", "2"]);
    assert_eq!(by_id["createdBy"], 2);
    assert_eq!(by_id["createdByEmail"], "bob@example.com");
    let out = db
        .crm()
        .env("CRM_USER", "ALICE@Example.com")
        .args(["-o", "json", "orders", "create", "--customer", "1"])
        .args(["--item", "1:1"])
        .run();
    out.assert_success();
    assert_eq!(json_of(&out)["createdBy"], 1);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE ("id", "createdBy") IN ((1, 2), (2, 1))"#
        ),
        2
    );
}

#[test]
fn create_refusals_exit_with_their_code_name_the_problem_and_write_nothing() {
    let db = with_catalogue();
    let before = snapshot(&db);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["--customer", "9", "--item", "1:1"],
            3,
            "error: cannot create the order: customer 9 does not exist",
        ),
        (
            &["--customer", "1", "--item", "1:1", "--item", "9:1"],
            3,
            "error: cannot create the order: product 9 does not exist",
        ),
        (
            &[
                "--customer",
                "1",
                "--item",
                "9:1",
                "--item",
                "1:1",
                "--item",
                "8:2",
            ],
            3,
            "error: cannot create the order: products 8, 9 do not exist",
        ),
        (
            &["--customer", "1", "--item", "3:2"],
            5,
            "error: cannot create the order: product 3 (Gadget) has 0 in stock, 2 asked",
        ),
        // Only the second item is short: the first takes no stock either.
        (
            &["--customer", "1", "--item", "1:1", "--item", "2:11"],
            5,
            "error: cannot create the order: product 2 (Book) has 10 in stock, 11 asked",
        ),
        // Short in all, though each item alone would do.
        (
            &["--customer", "1", "--item", "2:6", "--item", "2:5"],
            5,
            "product 2 (Book) has 10 in stock, 11 asked",
        ),
        (
            &[
                "--customer",
                "1",
                "--item",
                "1:1",
                "--as",
                "nobody@example.com",
            ],
            3,
            "error: --as names no CRM user: user \"nobody@example.com\" does not exist",
        ),
        (
            &["--customer", "1", "--item", "1:1", "--as", "99"],
            3,
            "user \"99\" does not exist",
        ),
        // 2 x 60,000,000.00 does not fit DECIMAL(10,2).
        (
            &["--customer", "1", "--item", "4:2"],
            2,
            "error: cannot create the order: the order's total would exceed 99999999.99, \
             the most DECIMAL(10,2) holds",
        ),
        (
            &["--customer", "1", "--item", "12"],
            2,
            "\"12\" has no quantity (expected PRODUCT:QTY, e.g. 12:3)",
        ),
        (
            &["--customer", "1", "--item", "a:1"],
            2,
            "the product id \"a\" is not a whole number",
        ),
        (
            &["--customer", "1", "--item", "1:0"],
            2,
            "the quantity must be at least 1, got 0",
        ),
        (&["--customer", "1"], 2, "--item <PRODUCT:QTY>"),
        (
            &["--customer", "1", "--item", "1:1", "--status", "cancelled"],
            2,
            "error: --status cancelled: an order starts pending, processing or completed",
        ),
        (
            &["--customer", "1", "--item", "1:1", "--status", "shipped"],
            2,
            "invalid value 'shipped' for '--status <STATUS>'",
        ),
    ];
    for (args, code, message) in cases {
        db.crm()
            .args(["orders", "create"])
            .args(*args)
            .run()
            .assert_code(*code)
            .assert_stdout_eq("")
            .assert_stderr_contains(message);
        assert_eq!(
            snapshot(&db),
            before,
            "crm orders create {args:?} wrote something"
        );
    }
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 0);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "OrderItems""#), 0);
    // Nothing was consumed either: the sequences are untouched, the next order is number 1.
    assert_eq!(create(&db, 1, &["2:10"], &[])["id"], 1);
    assert_eq!(stock_of(&db, 2), Some(0));
}

// --- the lifecycle ----------------------------------------------------------------------------

#[test]
fn the_allowed_transitions_move_the_order_and_touch_only_it() {
    let db = with_orders();
    // pending -> processing
    let out = db
        .crm()
        .args(["-o", "json", "orders", "set-status", "1", "processing"])
        .run();
    out.assert_success()
        .assert_stderr_contains("order 1: pending -> processing");
    let moved = json_of(&out);
    assert_eq!(moved["status"], "processing");
    assert_eq!(moved["createdAt"], THEN);
    assert_ne!(moved["updatedAt"], THEN);
    assert_eq!(status_of(&db, 1), "processing");
    // processing -> completed (order 4, Alan's: his stored 500.00 was wrong, and completing
    // recomputes it to the true sum).
    db.crm()
        .args(["orders", "set-status", "4", "completed"])
        .run()
        .assert_success()
        .assert_stderr_contains("order 4: processing -> completed");
    assert_eq!(status_of(&db, 4), "completed");
    assert_eq!(total_purchases(&db, 3), "100.00");
    // Neither took nor returned stock.
    assert_eq!(stock_of(&db, 1), Some(100));
    assert_eq!(stock_of(&db, 2), Some(10));
    // processing -> cancelled: order 1's 3 Sweets and 1 Book go back.
    db.crm()
        .args(["orders", "cancel", "1"])
        .run()
        .assert_success()
        .assert_stderr_contains(
            "order 1: processing -> cancelled; 4 units of 2 products put back in stock",
        );
    assert_eq!(status_of(&db, 1), "cancelled");
    assert_eq!(stock_of(&db, 1), Some(103));
    assert_eq!(stock_of(&db, 2), Some(11));
    // pending -> cancelled, by set-status too; an order made of one product given twice.
    let order = create(&db, 2, &["1:2", "1:3"], &[]);
    assert_eq!(order["id"], 5);
    assert_eq!(stock_of(&db, 1), Some(98));
    db.crm()
        .args(["orders", "set-status", "5", "cancelled"])
        .run()
        .assert_success()
        .assert_stderr_contains(
            "order 5: pending -> cancelled; 5 units of 1 product put back in stock",
        );
    assert_eq!(stock_of(&db, 1), Some(103));
    assert_eq!(status_of(&db, 5), "cancelled");
    // The other orders and customers are as they were.
    assert_eq!(status_of(&db, 2), "completed");
    assert_eq!(status_of(&db, 3), "cancelled");
    assert_eq!(total_purchases(&db, 1), "0.00");
    assert_eq!(total_purchases(&db, 2), "49.00");
}

#[test]
fn every_refused_transition_exits_5_naming_both_statuses_and_changes_nothing() {
    let db = with_orders();
    let before = snapshot(&db);
    // Order 1 is pending, 2 completed, 3 cancelled, 4 processing.
    let cases: &[(&str, &str, &str)] = &[
        (
            "1",
            "completed",
            "cannot set the status of order 1 to completed: it is pending, and a pending \
             order can only become processing or cancelled",
        ),
        (
            "1",
            "pending",
            "cannot set the status of order 1 to pending: it is already pending",
        ),
        (
            "4",
            "pending",
            "cannot set the status of order 4 to pending: it is processing, and a processing \
             order can only become completed or cancelled",
        ),
        (
            "4",
            "processing",
            "cannot set the status of order 4 to processing: it is already processing",
        ),
        (
            "2",
            "pending",
            "cannot set the status of order 2 to pending: it is completed, and a completed \
             order does not change status any more",
        ),
        (
            "2",
            "processing",
            "cannot set the status of order 2 to processing: it is completed, and a completed \
             order does not change status any more",
        ),
        (
            "2",
            "cancelled",
            "cannot cancel order 2: it is completed, and a completed order does not change \
             status any more",
        ),
        (
            "2",
            "completed",
            "cannot set the status of order 2 to completed: it is already completed",
        ),
        (
            "3",
            "pending",
            "cannot set the status of order 3 to pending: it is cancelled, and a cancelled \
             order does not change status any more",
        ),
        (
            "3",
            "processing",
            "cannot set the status of order 3 to processing: it is cancelled, and a cancelled \
             order does not change status any more",
        ),
        (
            "3",
            "completed",
            "cannot set the status of order 3 to completed: it is cancelled, and a cancelled \
             order does not change status any more",
        ),
        (
            "3",
            "cancelled",
            "cannot cancel order 3: it is already cancelled",
        ),
    ];
    for (id, to, message) in cases {
        db.crm()
            .args(["orders", "set-status", id, to])
            .run()
            .assert_code(5)
            .assert_stdout_eq("")
            .assert_stderr_contains(&format!("error: {message}\n"));
        assert_eq!(
            snapshot(&db),
            before,
            "set-status {id} {to} wrote something"
        );
    }
    for id in ["2", "3"] {
        db.crm()
            .args(["orders", "cancel", id])
            .run()
            .assert_code(5)
            .assert_stderr_contains(&format!("error: cannot cancel order {id}: it is "));
    }
    db.crm()
        .args(["orders", "set-status", "99", "processing"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("order 99 does not exist");
    db.crm()
        .args(["orders", "cancel", "99"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("error: cannot cancel order 99: order 99 does not exist");
    db.crm()
        .args(["orders", "set-status", "1", "shipped"])
        .run()
        .assert_code(2);
    assert_eq!(snapshot(&db), before);
}

#[test]
fn cancel_returns_the_stock_of_every_item_and_skips_deleted_products_saying_so() {
    let db = with_catalogue();
    // An order of the original system: one product on two rows, and a product since deleted.
    sql(
        &db,
        r#"INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt")
           VALUES (5, 'Discontinued', 1.00, 7, now(), now());
           INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt")
           VALUES (10, 1, 'pending', 21.59, now(), now());
           INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price",
                                     "createdAt", "updatedAt")
           VALUES (10, 1, 2, 0.10, now(), now()), (10, 5, 1, 1.00, now(), now()),
                  (10, 1, 4, 0.10, now(), now()), (10, 2, 1, 19.99, now(), now());
           DELETE FROM "Products" WHERE "id" = 5;"#,
    );
    db.crm()
        .args(["orders", "cancel", "10"])
        .run()
        .assert_success()
        .assert_stderr_contains(
            "order 10: pending -> cancelled; 7 units of 2 products put back in stock \
             (1 item of deleted products had nothing to put back)\n",
        );
    assert_eq!(stock_of(&db, 1), Some(106));
    assert_eq!(stock_of(&db, 2), Some(11));
    assert_eq!(status_of(&db, 10), "cancelled");
    // The items stay, as the record of what was ordered.
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "OrderItems" WHERE "orderId" = 10"#
        ),
        4
    );
    assert_eq!(total_purchases(&db, 1), "0.00");
}

#[test]
fn total_purchases_is_the_sum_of_completed_orders_after_every_command() {
    let db = with_catalogue();
    // Ada: a pending order, then one completed at once.
    let first = create(&db, 1, &["1:3"], &[]);
    assert_eq!(first["total"], "0.30");
    assert_eq!(total_purchases(&db, 1), "0.00");
    let second = create(&db, 1, &["2:1"], &["--status", "completed"]);
    assert_eq!(second["status"], "completed");
    assert_eq!(total_purchases(&db, 1), "19.99");
    // The first goes through processing to completed.
    db.crm()
        .args(["orders", "set-status", "1", "processing"])
        .run()
        .assert_success();
    assert_eq!(total_purchases(&db, 1), "19.99");
    db.crm()
        .args(["orders", "set-status", "1", "completed"])
        .run()
        .assert_success();
    assert_eq!(total_purchases(&db, 1), "20.29");
    // A third, processing from the start, is cancelled: no purchase.
    let third = create(&db, 1, &["1:5", "2:2"], &["--status", "processing"]);
    assert_eq!(third["status"], "processing");
    assert_eq!(third["total"], "40.48");
    db.crm()
        .args(["orders", "cancel", "3"])
        .run()
        .assert_success();
    assert_eq!(total_purchases(&db, 1), "20.29");

    // Alan's stored 500.00 is wrong: he has no completed order. Completing one makes it the
    // true sum.
    create(&db, 3, &["2:2"], &[]);
    db.crm()
        .args(["orders", "set-status", "4", "processing"])
        .run()
        .assert_success();
    db.crm()
        .args(["orders", "set-status", "4", "completed"])
        .run()
        .assert_success();
    assert_eq!(total_purchases(&db, 3), "39.98");
    // And an order created completed recomputes too: Grace's stored 49.00 had no order behind it.
    create(&db, 2, &["1:1"], &["--status", "completed"]);
    assert_eq!(total_purchases(&db, 2), "0.10");
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Customers" c WHERE "totalPurchases" IS DISTINCT FROM
               (SELECT COALESCE(sum("total"), 0) FROM "Orders" o
                WHERE o."customerId" = c."id" AND o."status" = 'completed')"#
        ),
        0
    );
    // Stock: 100 - 3 - 5 + 5 - 1 Sweets, 10 - 1 - 2 + 2 - 2 Books.
    assert_eq!(stock_of(&db, 1), Some(96));
    assert_eq!(stock_of(&db, 2), Some(7));
}

#[test]
fn a_change_that_would_overflow_a_column_exits_5_and_changes_nothing() {
    let db = with_catalogue();
    // One Yacht (60,000,000.00) completed is Ada's totalPurchases; a second would not fit
    // DECIMAL(10,2), whether created completed or completed afterwards.
    create(&db, 1, &["4:1"], &["--status", "completed"]);
    assert_eq!(total_purchases(&db, 1), "60000000.00");
    create(&db, 1, &["4:1"], &["--status", "processing"]);
    let before = snapshot(&db);
    let too_much =
        "customer 1's totalPurchases would exceed 99999999.99, the most DECIMAL(10,2) holds";
    db.crm()
        .args([
            "orders",
            "create",
            "--customer",
            "1",
            "--item",
            "4:1",
            "--status",
            "completed",
        ])
        .run()
        .assert_code(5)
        .assert_stderr_contains(&format!("error: cannot create the order: {too_much}"));
    db.crm()
        .args(["orders", "set-status", "2", "completed"])
        .run()
        .assert_code(5)
        .assert_stderr_contains(&format!(
            "error: cannot set the status of order 2 to completed: {too_much}"
        ));
    assert_eq!(snapshot(&db), before);

    // Putting a Sweet back into a stock already at INTEGER's maximum.
    let third = create(&db, 2, &["1:1"], &[]);
    sql(
        &db,
        r#"UPDATE "Products" SET "stock" = 2147483647 WHERE "id" = 1"#,
    );
    let before = snapshot(&db);
    db.crm()
        .args(["orders", "cancel"])
        .arg(third["id"].to_string())
        .run()
        .assert_code(5)
        .assert_stderr_contains(
            "putting the items back would take a product's stock past 2147483647, the most \
             it holds",
        );
    assert_eq!(snapshot(&db), before);
}

// --- list -------------------------------------------------------------------------------------

#[test]
fn list_prints_every_order_with_the_exact_csv_header() {
    let db = with_orders();
    db.crm()
        .args(["orders", "list"])
        .run()
        .assert_success()
        .assert_stdout_eq(&orders_csv(&[1, 2, 3, 4]));
    assert!(orders_csv(&[]).starts_with(
        "id,customerId,customerName,status,total,itemCount,createdBy,notes,createdAt,updatedAt\n"
    ));
}

#[test]
fn list_filters_by_status_customer_and_dates() {
    let db = with_orders();
    let list = |args: &[&str], ids: &[i32]| {
        db.crm()
            .args(["orders", "list"])
            .args(args)
            .run()
            .assert_success()
            .assert_stdout_eq(&orders_csv(ids));
    };
    list(&["--status", "completed"], &[2]);
    list(&["--status", "processing"], &[4]);
    list(&["--customer", "1"], &[1, 3]);
    list(&["--customer", "1", "--status", "cancelled"], &[3]);
    list(&["--customer", "2", "--status", "cancelled"], &[]);
    list(&["--customer", "99"], &[]);
    // --since is inclusive, --until exclusive; a date is its midnight UTC.
    list(&["--since", "2025-07-15"], &[2, 3, 4]);
    list(&["--since", "2025-07-15T12:00:00Z"], &[2, 3, 4]);
    list(&["--since", "2025-07-15T12:00:00.000001Z"], &[3, 4]);
    list(&["--until", "2025-08-01"], &[1, 2]);
    list(&["--until", "2025-08-01T00:00:00.000001Z"], &[1, 2, 3]);
    list(&["--until", "2025-08-01T02:00:00+02:00"], &[1, 2]);
    list(&["--since", "2025-07-01T11:30:00+02:00"], &[1, 2, 3, 4]);
    list(&["--since", "2025-07-01T11:30:01+02:00"], &[2, 3, 4]);
    list(&["--since", "2025-07-02", "--until", "2025-08-02"], &[2, 3]);
    list(
        &[
            "--since",
            "2025-07-02",
            "--until",
            "2025-08-02",
            "--customer",
            "1",
        ],
        &[3],
    );
    // JSON: the same keys, money as strings.
    db.crm()
        .args(["-o", "json", "orders", "list", "--status", "completed"])
        .run()
        .assert_success()
        .assert_stdout_eq(concat!(
            "[\n",
            r#"{"id":2,"customerId":2,"customerName":"Grace Hopper","status":"completed","#,
            r#""total":"49.00","itemCount":1,"createdBy":2,"notes":"gift_wrap","#,
            r#""createdAt":"2025-07-15T12:00:00Z","updatedAt":"2025-07-16T08:00:00Z"}"#,
            "\n]\n"
        ));
    db.crm()
        .args([
            "orders",
            "list",
            "--since",
            "2025-08-01",
            "--until",
            "2025-07-01",
        ])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "--until 2025-07-01T00:00:00Z is not after --since 2025-08-01T00:00:00Z",
        );
    db.crm()
        .args(["orders", "list", "--since", "someday"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("not a date or time: \"someday\"");
    db.crm()
        .args(["orders", "list", "--status", "shipped"])
        .run()
        .assert_code(2);
}

#[test]
fn list_searches_customer_name_email_and_notes_literally() {
    let db = with_orders();
    let search = |text: &str, ids: &[i32]| {
        db.crm()
            .args(["orders", "list", "--search", text])
            .run()
            .assert_success()
            .assert_stdout_eq(&orders_csv(ids));
    };
    search("LOVELACE", &[1, 3]);
    search("ada lov", &[1, 3]);
    search("navy.MIL", &[2]);
    search("Call First", &[4]);
    search("%", &[1]);
    search("0% o", &[1]);
    search("%off", &[]);
    search("_", &[2]);
    search("t_w", &[2]);
    // As a pattern, "t_r" would match Alan "Tur"ing and "t_w" "gift_w"rap only literally.
    search("t_r", &[]);
    search(r#"'; DROP TABLE "Orders"; --"#, &[]);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 4);
}

#[test]
fn list_sorts_pages_and_ends_a_table_with_the_total_line() {
    let db = with_orders();
    let list = |args: &[&str], ids: &[i32]| {
        db.crm()
            .args(["orders", "list"])
            .args(args)
            .run()
            .assert_success()
            .assert_stdout_eq(&orders_csv(ids));
    };
    list(&["--sort", "-total"], &[4, 2, 1, 3]);
    list(&["--sort", "total"], &[3, 1, 2, 4]);
    list(&["--sort", "-createdAt"], &[4, 3, 2, 1]);
    list(&["--sort", "customerName"], &[1, 3, 4, 2]);
    list(
        &["--sort", "-total", "--limit", "2", "--offset", "1"],
        &[2, 1],
    );
    list(&["--limit", "1", "--offset", "3"], &[4]);
    list(&["--offset", "4"], &[]);

    let table = db
        .crm()
        .args(["-o", "table", "orders", "list", "--limit", "2"])
        .run();
    table.assert_success();
    assert!(table.stdout.ends_with("┘\n2 of 4 orders\n"), "{table}");
    // A header and two orders.
    let rows = table.stdout.lines().filter(|l| l.starts_with('│')).count();
    assert_eq!(rows, 3, "{table}");
    let filtered = db
        .crm()
        .args([
            "-o",
            "table",
            "orders",
            "list",
            "--customer",
            "1",
            "--limit",
            "1",
        ])
        .run();
    filtered.assert_success();
    assert!(
        filtered.stdout.ends_with("┘\n1 of 2 orders\n"),
        "{filtered}"
    );

    db.crm()
        .args(["orders", "list", "--sort", "nope"])
        .run()
        .assert_code(2)
        .assert_stdout_eq("")
        .assert_stderr_contains("--sort nope: no such field");
    // Only the columns shown: not the e-mail that --search reads behind the scenes.
    db.crm()
        .args(["orders", "list", "--sort", "customerEmail"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "expected one of id, customerId, customerName, status, total, itemCount, createdBy, \
             notes, createdAt, updatedAt",
        );
}

// --- show -------------------------------------------------------------------------------------

#[test]
fn show_prints_the_order_with_its_customer_creator_and_items() {
    let db = with_orders();
    db.crm()
        .args(["-o", "json", "orders", "show", "1"])
        .run()
        .assert_success()
        .assert_stdout_eq(concat!(
            r#"{"id":1,"customerId":1,"customerName":"Ada Lovelace","#,
            r#""customerEmail":"ada@example.com","status":"pending","total":"20.29","#,
            r#""itemCount":2,"createdBy":1,"createdByEmail":"alice@example.com","#,
            r#""notes":"50% off","createdAt":"2025-07-01T09:30:00Z","#,
            r#""updatedAt":"2025-07-01T09:30:00Z","items":["#,
            r#"{"id":1,"productId":1,"productName":"Sweet","quantity":3,"price":"0.10","#,
            r#""lineTotal":"0.30"},"#,
            r#"{"id":2,"productId":2,"productName":"Book","quantity":1,"price":"19.99","#,
            r#""lineTotal":"19.99"}]}"#,
            "\n"
        ));
    // Nobody made order 3.
    let out = db.crm().args(["-o", "json", "orders", "show", "3"]).run();
    out.assert_success();
    let shown = json_of(&out);
    assert_eq!(shown["createdBy"], Value::Null);
    assert_eq!(shown["createdByEmail"], Value::Null);
    assert_eq!(shown["status"], "cancelled");

    db.crm()
        .args(["orders", "show", "2"])
        .run()
        .assert_success()
        .assert_stdout_eq(
            "id,customerId,customerName,customerEmail,status,total,itemCount,createdBy,\
             createdByEmail,notes,createdAt,updatedAt,items\n\
             2,2,Grace Hopper,grace@navy.mil,completed,49.00,1,2,bob@example.com,gift_wrap,\
             2025-07-15T12:00:00Z,2025-07-16T08:00:00Z,\
             \"[{\"\"id\"\":3,\"\"productId\"\":3,\"\"productName\"\":\"\"Gadget\"\",\
             \"\"quantity\"\":2,\"\"price\"\":\"\"24.50\"\",\"\"lineTotal\"\":\"\"49.00\"\"}]\"\n",
        );

    db.crm()
        .args(["orders", "show", "99"])
        .run()
        .assert_code(3)
        .assert_stdout_eq("")
        .assert_stderr_contains("error: order 99 does not exist");
}

#[test]
fn show_still_shows_an_order_whose_customer_and_product_were_deleted() {
    let db = with_orders();
    sql(
        &db,
        r#"DELETE FROM "Customers" WHERE "id" = 3; DELETE FROM "Products" WHERE "id" = 1;"#,
    );
    let out = db.crm().args(["-o", "json", "orders", "show", "4"]).run();
    out.assert_success();
    assert_eq!(
        json_of(&out),
        json!({
            "id": 4, "customerId": null, "customerName": null, "customerEmail": null,
            "status": "processing", "total": "100.00", "itemCount": 1, "createdBy": 1,
            "createdByEmail": "alice@example.com", "notes": "call first, then ring",
            "createdAt": "2025-08-02T10:00:00Z", "updatedAt": "2025-08-02T10:00:00Z",
            "items": [{"id": 5, "productId": null, "productName": null, "quantity": 1000,
                       "price": "0.10", "lineTotal": "100.00"}]
        })
    );
    let table = db.crm().args(["-o", "table", "orders", "show", "4"]).run();
    table.assert_success().assert_stdout_contains("processing");
}

// --- export -----------------------------------------------------------------------------------

#[test]
fn export_streams_orders_and_items_as_exact_csv_with_the_filters_of_list() {
    let db = with_orders();
    let export = |args: &[&str], expected: &str| {
        db.crm()
            .args(["orders", "export"])
            .args(args)
            .run()
            .assert_success()
            .assert_stdout_eq(expected);
    };
    export(&[], &orders_csv(&[1, 2, 3, 4]));
    export(&["-"], &orders_csv(&[1, 2, 3, 4]));
    export(&["--status", "processing"], &orders_csv(&[4]));
    export(&["--customer", "1"], &orders_csv(&[1, 3]));
    export(
        &["--since", "2025-07-15T12:00:00Z"],
        &orders_csv(&[2, 3, 4]),
    );
    export(
        &["--customer", "1", "--since", "2025-07-02"],
        &orders_csv(&[3]),
    );
    export(&["--until", "2025-07-01"], &orders_csv(&[]));
    export(&["--search", "%"], &orders_csv(&[1]));
    export(&["--search", "ALAN"], &orders_csv(&[4]));

    export(&["--items"], &items_csv(&[1, 2, 3, 4, 5]));
    export(&["--items", "--status", "completed"], &items_csv(&[3]));
    export(&["--items", "--customer", "1"], &items_csv(&[1, 2, 4]));
    export(&["--items", "--since", "2025-08-01"], &items_csv(&[4, 5]));
    export(
        &["--items", "--since", "2025-07-01", "--until", "2025-08-01"],
        &items_csv(&[1, 2, 3]),
    );
    export(&["--items", "--search", "navy"], &items_csv(&[3]));
    export(&["--items", "--search", "_"], &items_csv(&[3]));
    export(
        &["--items", "--customer", "3", "--status", "pending"],
        &items_csv(&[]),
    );
    assert!(items_csv(&[]).starts_with(
        "id,orderId,productId,productName,quantity,price,lineTotal,createdAt,updatedAt\n"
    ));

    // A deleted product leaves its items, with no name.
    sql(&db, r#"DELETE FROM "Products" WHERE "id" = 3"#);
    export(
        &["--items", "--status", "completed"],
        &format!("{ITEM_HEADER}3,2,,,2,24.50,49.00,2025-07-15T12:00:00Z,2025-07-15T12:00:00Z\n"),
    );
}

#[test]
fn export_to_a_file_writes_it_whole_and_nothing_on_stdout() {
    let db = with_orders();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let orders = dir.path().join("orders.csv");
    let out = db
        .crm()
        .args(["orders", "export", "--status", "completed"])
        .arg(&orders)
        .run();
    out.assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains(&format!("exported 1 order to {}", orders.display()));
    assert_eq!(std::fs::read_to_string(&orders).unwrap(), orders_csv(&[2]));

    // An existing file is replaced; the folder holds no temporary file afterwards.
    let items = dir.path().join("items.csv");
    std::fs::write(
        &items,
        "old contents, longer than what replaces them\n".repeat(100),
    )
    .unwrap();
    db.crm()
        .args(["orders", "export", "--items", "--customer", "1"])
        .arg(&items)
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains("exported 3 order items to");
    assert_eq!(
        std::fs::read_to_string(&items).unwrap(),
        items_csv(&[1, 2, 4])
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["items.csv", "orders.csv"]);
}

// --- concurrency ------------------------------------------------------------------------------

/// How many crm processes run at once, and how many orders each places in a row.
const THREADS: usize = 8;
const RUNS: usize = 50;

/// Runs `crm orders create --customer 1 <items of thread t>` RUNS times in a row in each of
/// THREADS threads at once; every run's output.
fn place_concurrently(
    db: &TestDb,
    items: impl Fn(usize) -> Vec<&'static str> + Sync,
) -> Vec<Output> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let items = items(t);
                scope.spawn(move || {
                    (0..RUNS)
                        .map(|_| {
                            let mut crm = db.crm();
                            crm.args(["-q", "orders", "create", "--customer", "1"]);
                            for item in &items {
                                crm.args(["--item", item]);
                            }
                            crm.run()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().expect("a thread of crm runs panicked"))
            .collect()
    })
}

/// Splits the runs into the successes and the refusals for short stock, and fails on any other
/// outcome (a deadlock, a serialization failure, a crash); returns how many succeeded.
#[track_caller]
fn successes(outputs: &[Output], refusal: &str) -> usize {
    let mut succeeded = 0;
    for out in outputs {
        match out.code() {
            0 => succeeded += 1,
            5 => {
                out.assert_stderr_contains(refusal).assert_stdout_eq("");
                assert_eq!(out.stderr.lines().count(), 1, "one line on stderr: {out}");
            }
            _ => panic!("only exit 0 or 5 may reach the user\n\n{out}"),
        }
    }
    succeeded
}

/// Every order's total is the sum of its items: the number of orders that are not.
fn wrong_totals(db: &TestDb) -> i64 {
    count(
        db,
        r#"SELECT count(*) FROM "Orders" o WHERE "total" IS DISTINCT FROM
           (SELECT sum("quantity" * "price") FROM "OrderItems" i WHERE i."orderId" = o."id")"#,
    )
}

#[test]
fn four_hundred_concurrent_orders_for_a_stock_of_100_sell_exactly_100() {
    let db = with_catalogue();
    let outputs = place_concurrently(&db, |_| vec!["1:1"]);
    assert_eq!(outputs.len(), THREADS * RUNS);
    let sold = successes(
        &outputs,
        "error: cannot create the order: product 1 (Sweet) has 0 in stock, 1 asked\n",
    );
    assert_eq!(sold, 100);
    assert_eq!(stock_of(&db, 1), Some(0));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 100);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "OrderItems""#), 100);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "OrderItems"
               WHERE "productId" = 1 AND "quantity" = 1 AND "price" = 0.10"#
        ),
        100
    );
    assert_eq!(wrong_totals(&db), 0);
}

#[test]
fn concurrent_orders_naming_two_products_in_opposite_orders_never_deadlock() {
    let db = with_catalogue();
    sql(&db, r#"UPDATE "Products" SET "stock" = 120 WHERE "id" = 2"#);
    let outputs = place_concurrently(&db, |t| match t % 2 {
        0 => vec!["1:1", "2:1"],
        _ => vec!["2:1", "1:1"],
    });
    // Sweet (100) runs out first; Book (120) keeps 20.
    let sold = successes(
        &outputs,
        "error: cannot create the order: product 1 (Sweet) has 0 in stock, 1 asked\n",
    );
    assert_eq!(sold, 100);
    assert_eq!(stock_of(&db, 1), Some(0));
    assert_eq!(stock_of(&db, 2), Some(20));
    let units_of = |product: i32| {
        count(
            &db,
            &format!(
                r#"SELECT COALESCE(sum("quantity"), 0)::int8 FROM "OrderItems"
                   WHERE "productId" = {product}"#
            ),
        )
    };
    assert_eq!(units_of(1), 100 - i64::from(stock_of(&db, 1).unwrap()));
    assert_eq!(units_of(2), 120 - i64::from(stock_of(&db, 2).unwrap()));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 100);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "OrderItems""#), 200);
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "Products" WHERE "stock" < 0"#),
        0
    );
    assert_eq!(wrong_totals(&db), 0);
}

/// Ada's orders 11-16, processing, totals 1.00 to 6.00 (10 Sweets each), and order 17, pending,
/// of 5 Books.
const ADAS_OPEN_ORDERS: &str = r#"
INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt")
SELECT n, 1, 'processing', n - 10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'
FROM generate_series(11, 16) AS n;
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
SELECT n, 1, 10 * (n - 10), 0.10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'
FROM generate_series(11, 16) AS n;
INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt")
VALUES (17, 1, 'pending', 99.95, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
VALUES (17, 2, 5, 19.99, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Orders_id_seq"', 17);
"#;

#[test]
fn concurrent_completions_creations_and_cancels_keep_total_purchases_and_stock_right() {
    let db = with_catalogue();
    sql(&db, ADAS_OPEN_ORDERS);
    // All at once: the six completions, two orders created completed, and order 17 cancelled
    // by three operators.
    let mut runs: Vec<(crate::harness::Crm, std::process::Child)> = Vec::new();
    let mut start = |args: Vec<String>| {
        let mut crm = db.crm();
        crm.args(&args);
        let child = crm.spawn();
        runs.push((crm, child));
    };
    for id in 11..=16 {
        start(vec![
            "orders".into(),
            "set-status".into(),
            id.to_string(),
            "completed".into(),
        ]);
    }
    for _ in 0..2 {
        start(
            [
                "orders",
                "create",
                "--customer",
                "1",
                "--item",
                "2:1",
                "--status",
                "completed",
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    for _ in 0..3 {
        start(["orders", "cancel", "17"].map(String::from).to_vec());
    }
    let outputs: Vec<Output> = runs
        .into_iter()
        .map(|(crm, child)| crm.wait(child))
        .collect();
    for out in &outputs[..8] {
        out.assert_success();
    }
    let cancels = &outputs[8..];
    assert_eq!(cancels.iter().filter(|o| o.code() == 0).count(), 1);
    for out in cancels.iter().filter(|o| o.code() != 0) {
        out.assert_code(5)
            .assert_stderr_contains("error: cannot cancel order 17: it is already cancelled");
    }
    // 1 + 2 + ... + 6, and two Books.
    assert_eq!(total_purchases(&db, 1), "60.98");
    // Order 17's five Books came back once; two were sold.
    assert_eq!(stock_of(&db, 2), Some(13));
    assert_eq!(stock_of(&db, 1), Some(100));
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders" WHERE "status" = 'completed'"#
        ),
        8
    );
}

#[test]
fn an_order_without_a_status_is_pending_for_every_command() {
    let db = with_catalogue();
    // Written by another tool: the column allows NULL, and its default is pending.
    sql(
        &db,
        r#"INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt")
           VALUES (20, 2, NULL, 0.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
                  (21, 2, 'processing', 0.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z')"#,
    );
    for command in ["list", "export"] {
        let out = db
            .crm()
            .args(["orders", command, "--status", "pending"])
            .run();
        out.assert_success();
        let ids: Vec<&str> = out
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(ids, ["20"], "{out}");
    }
    db.crm()
        .args(["orders", "set-status", "20", "completed"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("it is pending, and a pending order can only become");
    db.crm()
        .args(["orders", "set-status", "20", "processing"])
        .run()
        .assert_success()
        .assert_stderr_contains("order 20: pending -> processing");
}

/// Another client that locks products in the other order than crm does deadlocks with it;
/// PostgreSQL resolves the deadlock by aborting crm's transaction (the one that waited first),
/// crm runs it again, and the order is placed: the user sees neither the deadlock nor an error.
#[test]
fn an_order_that_loses_a_deadlock_with_another_client_is_placed_on_a_retry() {
    let db = with_catalogue();
    let mut other = db.client();
    let mut tx = other.transaction().expect("begin");
    // The other client takes product 2 first...
    tx.execute(r#"SELECT 1 FROM "Products" WHERE "id" = 2 FOR UPDATE"#, &[])
        .expect("lock product 2");
    let mut crm = db.crm();
    crm.args([
        "orders",
        "create",
        "--customer",
        "1",
        "--item",
        "1:1",
        "--item",
        "2:1",
    ]);
    let child = crm.spawn();
    // ... waits until crm holds product 1 and waits for product 2 ...
    let mut watcher = db.client();
    wait_for(
        &mut watcher,
        "SELECT count(*) > 0 FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
        "crm to wait for product 2",
        std::time::Duration::from_secs(30),
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    // ... then asks for product 1: the deadlock. crm's session, waiting since earlier, runs the
    // deadlock check first and is aborted, so this lock is granted.
    tx.execute(r#"SELECT 1 FROM "Products" WHERE "id" = 1 FOR UPDATE"#, &[])
        .expect("the other client is not the deadlock's victim: crm is");
    tx.rollback().expect("rollback");

    let out = crm.wait(child);
    out.assert_success()
        .assert_stderr_contains("created order 1 for customer 1 (Ada Lovelace): 2 items");
    assert!(!out.stderr.contains("deadlock"), "{out}");
    assert_eq!(stock_of(&db, 1), Some(99));
    assert_eq!(stock_of(&db, 2), Some(9));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 1);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "OrderItems""#), 2);
}
