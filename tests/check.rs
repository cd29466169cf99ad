//! `crm db check [--fix]`: each planted violation is found, and `--fix` repairs it.
//!
//! Every test starts from [`CLEAN`], where every invariant holds, plants violations with SQL
//! (dropping the foreign keys first where the database would refuse them, as a database made by
//! another tool may lack them), and checks three runs: `db check` prints exactly the violations,
//! exits 1 and writes nothing; `db check --fix` prints them as fixed and repairs the rows; a
//! second `db check` finds nothing (or only what needs a person).

use crate::harness::{TABLES, TestDb, count, row_json, sql};

/// Two users, two customers, two products, three orders, five items (one of a deleted product,
/// its productId NULL), a notification sent to one user, and a preference. Ada's
/// totalPurchases 40.28 is her completed orders 1 (20.29) and 2 (19.99); Grace's only order
/// is pending.
pub(crate) const CLEAN: &str = r#"
INSERT INTO "Users" ("id", "firstName", "lastName", "email", "password", "role",
                     "createdAt", "updatedAt") VALUES
  (1, 'Alice', 'Admin', 'alice@example.com', 'not-a-hash', 'admin',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Bob', 'Staff', 'bob@example.com', 'not-a-hash', 'staff',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "totalPurchases",
                         "createdAt", "updatedAt") VALUES
  (1, 'Ada', 'Lovelace', 'ada@example.com', 40.28, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Grace', 'Hopper', 'grace@navy.mil', 0.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt") VALUES
  (1, 'Sweet', 0.10, 100, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Book', 19.99, 10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "Orders" ("id", "customerId", "createdBy", "status", "total",
                      "createdAt", "updatedAt") VALUES
  (1, 1, 1, 'completed', 20.29, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 1, 2, 'completed', 19.99, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 2, 1, 'pending', 5.30, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "OrderItems" ("id", "orderId", "productId", "quantity", "price",
                          "createdAt", "updatedAt") VALUES
  (1, 1, 1, 3, 0.10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 1, 2, 1, 19.99, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, 2, 2, 1, 19.99, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (4, 3, 1, 3, 0.10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (5, 3, NULL, 1, 5.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "Notifications" ("id", "type", "title", "message", "createdBy",
                             "createdAt", "updatedAt") VALUES
  (1, 'info', 'Hello', 'Welcome', 1, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "UserNotifications" ("id", "userId", "notificationId", "createdAt", "updatedAt")
  VALUES (1, 2, 1, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
INSERT INTO "NotificationPreferences" ("id", "userId", "notificationType",
                                       "createdAt", "updatedAt")
  VALUES (1, 2, 'info', '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Users_id_seq"', 2), setval('"Customers_id_seq"', 2),
       setval('"Products_id_seq"', 2), setval('"Orders_id_seq"', 3),
       setval('"OrderItems_id_seq"', 5), setval('"Notifications_id_seq"', 1),
       setval('"UserNotifications_id_seq"', 1), setval('"NotificationPreferences_id_seq"', 1);
"#;

const HEADER: &str = "check,table,id,problem,fixed\n";

fn clean() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, CLEAN);
    db
}

/// Every row of every checked table as JSON text, for "nothing changed".
fn everything(db: &TestDb) -> String {
    let mut client = db.client();
    TABLES
        .iter()
        .map(|table| {
            let json: Option<String> = client
                .query_one(
                    &format!(r#"SELECT json_agg(t ORDER BY "id")::text FROM "{table}" t"#),
                    &[],
                )
                .unwrap_or_else(|e| panic!("cannot read {table}: {e:?}"))
                .get(0);
            format!("{table}: {}\n", json.unwrap_or_default())
        })
        .collect()
}

/// `db check` prints `violations` (CSV lines, each ending `,false`) with the header, exits 1,
/// and changes nothing.
fn check_finds(db: &TestDb, violations: &str, summary: &str) {
    let before = everything(db);
    db.crm()
        .args(["db", "check"])
        .run()
        .assert_code(1)
        .assert_stdout_eq(&format!("{HEADER}{violations}"))
        .assert_stderr_contains(summary);
    assert_eq!(everything(db), before, "db check changed the data");
}

/// `db check --fix` exits `code` and prints `violations` with the header.
fn fix_reports(db: &TestDb, code: i32, violations: &str, summary: &str) {
    db.crm()
        .args(["db", "check", "--fix"])
        .run()
        .assert_code(code)
        .assert_stdout_eq(&format!("{HEADER}{violations}"))
        .assert_stderr_contains(summary);
}

/// `db check` finds nothing: exit 0, nothing on stdout.
fn check_passes(db: &TestDb) {
    db.crm()
        .args(["db", "check"])
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains("no violations found");
}

fn text(db: &TestDb, sql: &str) -> Option<String> {
    db.client()
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("cannot run {sql}: {e:?}"))
        .get(0)
}

#[test]
fn clean_data_with_an_item_of_a_deleted_product_passes_and_fix_changes_nothing() {
    let db = clean();
    check_passes(&db);
    let before = everything(&db);
    db.crm()
        .args(["db", "check", "--fix"])
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains("no violations found");
    assert_eq!(everything(&db), before);
}

#[test]
fn deleting_a_product_leaves_null_product_ids_which_are_not_violations() {
    let db = clean();
    sql(&db, r#"DELETE FROM "Products" WHERE "id" = 2"#);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "OrderItems" WHERE "productId" IS NULL"#
        ),
        3
    );
    check_passes(&db);
}

#[test]
fn order_total_is_found_and_fixed_to_the_sum_of_the_items() {
    let db = clean();
    // Order 3 is pending, so no totalPurchases depends on it; order 4 has no items.
    sql(
        &db,
        r#"UPDATE "Orders" SET "total" = 10.00 WHERE "id" = 3;
           INSERT INTO "Orders" ("id", "customerId", "status", "total", "createdAt", "updatedAt")
             VALUES (4, 2, 'processing', 7.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z')"#,
    );
    let found = "order-total,Orders,3,\"total is 10.00, its items sum to 5.30\",false\n\
                 order-total,Orders,4,\"total is 7.00, its items sum to 0.00\",false\n";
    check_finds(&db, found, "found 2 violations: 2 order-total");
    let customers = row_json(&db, "Customers", 2);
    fix_reports(
        &db,
        0,
        &found.replace(",false", ",true"),
        "fixed 2 of 2 violations",
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT string_agg("total"::text, ',' ORDER BY "id") FROM "Orders""#
        ),
        Some("20.29,19.99,5.30,0.00".into())
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Orders"
               WHERE "id" IN (3, 4) AND "updatedAt" > '2025-07-01T09:30:00Z'"#
        ),
        2,
        "the fixed orders' updatedAt"
    );
    assert_eq!(row_json(&db, "Customers", 2), customers);
    check_passes(&db);
}

#[test]
fn a_completed_order_total_is_fixed_before_total_purchases_is_compared_with_it() {
    let db = clean();
    // Ada's 40.28 is right for the items, wrong for the stored total.
    sql(&db, r#"UPDATE "Orders" SET "total" = 10.00 WHERE "id" = 1"#);
    check_finds(
        &db,
        "order-total,Orders,1,\"total is 10.00, its items sum to 20.29\",false\n\
         total-purchases,Customers,1,\"totalPurchases is 40.28, its completed orders sum to \
         29.99\",false\n",
        "found 2 violations: 1 order-total, 1 total-purchases",
    );
    let ada = row_json(&db, "Customers", 1);
    fix_reports(
        &db,
        0,
        "order-total,Orders,1,\"total is 10.00, its items sum to 20.29\",true\n",
        "fixed 1 of 1 violation",
    );
    assert_eq!(row_json(&db, "Customers", 1), ada);
    check_passes(&db);
}

#[test]
fn an_order_total_beyond_decimal_10_2_is_reported_as_not_fixable() {
    let db = clean();
    sql(
        &db,
        r#"INSERT INTO "OrderItems" ("id", "orderId", "productId", "quantity", "price",
                                     "createdAt", "updatedAt")
           VALUES (6, 3, 1, 2000000000, 1.00, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z')"#,
    );
    let found = "order-total,Orders,3,\"total is 5.30, its items sum to 2000000005.30\",false\n";
    check_finds(&db, found, "found 1 violation: 1 order-total");
    let before = everything(&db);
    fix_reports(
        &db,
        1,
        found,
        "fixed 0 of 1 violation; 1 needs a person: order-total (its items sum beyond \
         99999999.99, the most DECIMAL(10,2) holds)",
    );
    assert_eq!(everything(&db), before);
}

#[test]
fn total_purchases_is_found_and_fixed_to_the_completed_orders() {
    let db = clean();
    sql(
        &db,
        r#"UPDATE "Customers" SET "totalPurchases" = 0.00 WHERE "id" = 1;
           UPDATE "Customers" SET "totalPurchases" = 3.00 WHERE "id" = 2;
           INSERT INTO "Customers" ("id", "firstName", "totalPurchases", "createdAt", "updatedAt")
             VALUES (3, 'Nobody', NULL, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z')"#,
    );
    // Customer 3's NULL with no completed orders is taken as 0.00: not a violation.
    let found = "total-purchases,Customers,1,\"totalPurchases is 0.00, its completed orders sum \
                 to 40.28\",false\n\
                 total-purchases,Customers,2,\"totalPurchases is 3.00, its completed orders sum \
                 to 0.00\",false\n";
    check_finds(&db, found, "found 2 violations: 2 total-purchases");
    let nobody = row_json(&db, "Customers", 3);
    fix_reports(
        &db,
        0,
        &found.replace(",false", ",true"),
        "fixed 2 of 2 violations",
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT string_agg(COALESCE("totalPurchases"::text, 'NULL'), ',' ORDER BY "id")
               FROM "Customers""#
        ),
        Some("40.28,0.00,NULL".into())
    );
    assert_eq!(row_json(&db, "Customers", 3), nobody);
    check_passes(&db);
}

#[test]
fn negative_stock_is_found_and_left_for_a_person_while_the_rest_is_fixed() {
    let db = clean();
    sql(
        &db,
        r#"UPDATE "Products" SET "stock" = -3 WHERE "id" = 2;
           UPDATE "Orders" SET "total" = 1.00 WHERE "id" = 3"#,
    );
    let stock = "negative-stock,Products,2,stock is -3,false\n";
    check_finds(
        &db,
        &format!("order-total,Orders,3,\"total is 1.00, its items sum to 5.30\",false\n{stock}"),
        "found 2 violations: 1 order-total, 1 negative-stock",
    );
    let product = row_json(&db, "Products", 2);
    fix_reports(
        &db,
        1,
        &format!("order-total,Orders,3,\"total is 1.00, its items sum to 5.30\",true\n{stock}"),
        "fixed 1 of 2 violations; 1 needs a person: negative-stock \
         (crm products stock ID --set N)",
    );
    assert_eq!(row_json(&db, "Products", 2), product);
    // Only the stock is left.
    check_finds(&db, stock, "found 1 violation: 1 negative-stock");
}

#[test]
fn orphan_items_are_found_and_deleted_and_their_products_not_reported() {
    let db = clean();
    sql(
        &db,
        r#"ALTER TABLE "OrderItems" DROP CONSTRAINT "OrderItems_orderId_fkey";
           ALTER TABLE "OrderItems" DROP CONSTRAINT "OrderItems_productId_fkey";
           INSERT INTO "OrderItems" ("id", "orderId", "productId", "quantity", "price",
                                     "createdAt", "updatedAt") VALUES
             (6, 99, 1, 1, 0.10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
             (7, NULL, 1, 1, 0.10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
             (8, 99, 77, 1, 0.10, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z')"#,
    );
    let found = "orphan-item,OrderItems,6,orderId 99 names no order,false\n\
                 orphan-item,OrderItems,7,orderId is NULL,false\n\
                 orphan-item,OrderItems,8,orderId 99 names no order,false\n";
    check_finds(&db, found, "found 3 violations: 3 orphan-item");
    fix_reports(
        &db,
        0,
        &found.replace(",false", ",true"),
        "fixed 3 of 3 violations",
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT string_agg("id"::text, ',' ORDER BY "id") FROM "OrderItems""#
        ),
        Some("1,2,3,4,5".into())
    );
    check_passes(&db);
}

#[test]
fn missing_references_are_found_and_set_null_or_deleted_as_the_foreign_keys_would() {
    let db = clean();
    sql(
        &db,
        r#"ALTER TABLE "OrderItems" DROP CONSTRAINT "OrderItems_productId_fkey";
           ALTER TABLE "Orders" DROP CONSTRAINT "Orders_customerId_fkey";
           ALTER TABLE "Orders" DROP CONSTRAINT "Orders_createdBy_fkey";
           ALTER TABLE "Notifications" DROP CONSTRAINT "Notifications_createdBy_fkey";
           ALTER TABLE "UserNotifications" DROP CONSTRAINT "UserNotifications_userId_fkey";
           ALTER TABLE "UserNotifications" DROP CONSTRAINT "UserNotifications_notificationId_fkey";
           ALTER TABLE "NotificationPreferences"
             DROP CONSTRAINT "NotificationPreferences_userId_fkey";
           UPDATE "OrderItems" SET "productId" = 7 WHERE "id" = 4;
           UPDATE "Orders" SET "customerId" = 55, "createdBy" = 66 WHERE "id" = 3;
           UPDATE "Orders" SET "createdBy" = 66 WHERE "id" = 2;
           UPDATE "Notifications" SET "createdBy" = 66 WHERE "id" = 1;
           INSERT INTO "UserNotifications" ("id", "userId", "notificationId",
                                            "createdAt", "updatedAt") VALUES
             (2, 66, 1, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
             (3, 2, 88, '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
           INSERT INTO "NotificationPreferences" ("id", "userId", "notificationType",
                                                  "createdAt", "updatedAt")
             VALUES (2, 66, 'info', '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z')"#,
    );
    let found = "missing-reference,Notifications,1,createdBy 66 names no user,false\n\
                 missing-reference,NotificationPreferences,2,userId 66 names no user,false\n\
                 missing-reference,Orders,2,createdBy 66 names no user,false\n\
                 missing-reference,UserNotifications,2,userId 66 names no user,false\n\
                 missing-reference,Orders,3,customerId 55 names no customer; createdBy 66 names \
                 no user,false\n\
                 missing-reference,UserNotifications,3,notificationId 88 names no notification,\
                 false\n\
                 missing-reference,OrderItems,4,productId 7 names no product,false\n";
    check_finds(&db, found, "found 7 violations: 7 missing-reference");
    fix_reports(
        &db,
        0,
        &found.replace(",false", ",true"),
        "fixed 7 of 7 violations",
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT string_agg(concat_ws('/', "id", COALESCE("customerId"::text, '-'),
                                          COALESCE("createdBy"::text, '-'), "updatedAt"),
                                 ',' ORDER BY "id")
               FROM (SELECT "id", "customerId", "createdBy",
                            to_char("updatedAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS "updatedAt"
                     FROM "Orders") o"#
        ),
        // SET NULL, as the database would have: updatedAt untouched.
        Some("1/1/1/2025-07-01,2/1/-/2025-07-01,3/-/-/2025-07-01".into())
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT "productId"::text FROM "OrderItems" WHERE "id" = 4"#
        ),
        None
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT "createdBy"::text FROM "Notifications" WHERE "id" = 1"#
        ),
        None
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "UserNotifications""#), 1);
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "NotificationPreferences""#),
        1
    );
    check_passes(&db);
}

#[test]
fn json_output_holds_the_violations() {
    let db = clean();
    sql(
        &db,
        r#"UPDATE "Products" SET "stock" = -1 WHERE "id" = 1;
           UPDATE "Orders" SET "total" = 10.00 WHERE "id" = 3"#,
    );
    let out = db.crm().args(["-o", "json", "db", "check"]).run();
    out.assert_code(1);
    let parsed: serde_json::Value = serde_json::from_str(&out.stdout).expect("a JSON array");
    assert_eq!(
        parsed,
        serde_json::json!([
            {"check": "order-total", "table": "Orders", "id": 3,
             "problem": "total is 10.00, its items sum to 5.30", "fixed": false},
            {"check": "negative-stock", "table": "Products", "id": 1,
             "problem": "stock is -1", "fixed": false},
        ])
    );
}

#[test]
fn a_database_without_the_schema_is_an_error_that_says_what_it_was_doing() {
    let db = TestDb::empty();
    for args in [&["db", "check"][..], &["db", "check", "--fix"]] {
        db.crm()
            .args(args)
            .run()
            .assert_code(1)
            .assert_stdout_eq("")
            .assert_stderr_contains("error: cannot check the data: ");
    }
}

#[test]
fn fix_racing_order_commands_leaves_every_invariant_holding() {
    let db = clean();
    // Grace's only order is about to be completed while --fix recomputes her wrong 3.00: a fix
    // that read her orders before the completion committed and wrote after it would leave 0.00.
    sql(
        &db,
        r#"UPDATE "Orders" SET "status" = 'processing' WHERE "id" = 3;
           UPDATE "Customers" SET "totalPurchases" = 3.00 WHERE "id" = 2;
           UPDATE "Orders" SET "total" = 1.00 WHERE "id" = 1"#,
    );
    let mut complete = db.crm();
    complete.args(["orders", "set-status", "3", "completed"]);
    let mut create = db.crm();
    create.args([
        "orders",
        "create",
        "--customer",
        "1",
        "--item",
        "1:2",
        "--item",
        "2:1",
    ]);
    let mut fix = db.crm();
    fix.args(["db", "check", "--fix"]);
    let children = (complete.spawn(), create.spawn(), fix.spawn());
    let (completed, created, fixed) = (
        complete.wait(children.0),
        create.wait(children.1),
        fix.wait(children.2),
    );
    completed.assert_success();
    created.assert_success();
    fixed.assert_success();
    check_passes(&db);
    assert_eq!(
        text(
            &db,
            r#"SELECT "totalPurchases"::text FROM "Customers" WHERE "id" = 2"#
        ),
        Some("5.30".into())
    );
}
