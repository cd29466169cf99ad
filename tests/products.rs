//! `crm products list | show | create | update | delete | stock | low-stock`: given these rows,
//! running this command prints that and leaves those rows; every refusal writes nothing.

use crate::harness::{TestDb, count, row_json, sql, table_exists, wait_for};

/// When the fixtures were made, as the database and the output show it.
const THEN: &str = "2025-07-01T09:30:00Z";

/// Four products, the ids fixed; a `%` in one name and a `_` in another.
const PRODUCTS: &str = r#"
INSERT INTO "Products" ("id", "name", "description", "price", "stock", "category", "image",
                        "createdAt", "updatedAt") VALUES
  (1, 'Widget', 'A small widget, blue', 9.99, 5, 'tools', NULL,
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (2, 'Gadget', NULL, 24.50, 0, 'tools', 'gadget.png',
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (3, '100% Cotton Shirt', NULL, 15.00, 20, 'apparel', NULL,
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z'),
  (4, 'snake_case mug', NULL, 7.25, 3, 'kitchen', NULL,
   '2025-07-01T09:30:00Z', '2025-07-01T09:30:00Z');
SELECT setval('"Products_id_seq"', 4);
"#;

const HEADER: &str = "id,name,description,price,stock,category,image,createdAt,updatedAt\n";

/// The CSV row of fixture product `id`.
fn row(id: i32) -> String {
    let cols = match id {
        1 => "1,Widget,\"A small widget, blue\",9.99,5,tools,",
        2 => "2,Gadget,,24.50,0,tools,gadget.png",
        3 => "3,100% Cotton Shirt,,15.00,20,apparel,",
        4 => "4,snake_case mug,,7.25,3,kitchen,",
        _ => unreachable!(),
    };
    format!("{cols},{THEN},{THEN}\n")
}

/// The CSV of the fixture products `ids`, in that order.
fn csv(ids: &[i32]) -> String {
    let mut out = HEADER.to_string();
    for id in ids {
        out.push_str(&row(*id));
    }
    out
}

fn with_products() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, PRODUCTS);
    db
}

fn stock_of(db: &TestDb, id: i32) -> Option<i32> {
    db.client()
        .query_one(r#"SELECT "stock" FROM "Products" WHERE "id" = $1"#, &[&id])
        .expect("read the stock")
        .get(0)
}

#[test]
fn list_as_csv_has_the_database_columns_and_every_row() {
    let db = with_products();
    db.crm()
        .args(["products", "list"])
        .run()
        .assert_success()
        .assert_stdout_eq(&csv(&[1, 2, 3, 4]));
}

#[test]
fn list_sorts_pages_and_filters() {
    let db = with_products();
    let list = |args: &[&str], ids: &[i32]| {
        db.crm()
            .args(["products", "list"])
            .args(args)
            .run()
            .assert_success()
            .assert_stdout_eq(&csv(ids));
    };
    list(&["--sort", "-price"], &[2, 3, 1, 4]);
    list(&["--sort", "price:asc"], &[4, 1, 3, 2]);
    list(
        &["--sort", "-price", "--limit", "2", "--offset", "1"],
        &[3, 1],
    );
    list(&["--category", "tools"], &[1, 2]);
    list(&["--in-stock"], &[1, 3, 4]);
    list(&["--in-stock", "--category", "tools"], &[1]);
    list(&["--category", "TOOLS"], &[]);
}

#[test]
fn list_pages_by_50_unless_all_and_a_table_ends_with_the_total_line() {
    let db = TestDb::migrated();
    sql(
        &db,
        r#"INSERT INTO "Products" ("name", "price", "stock", "createdAt", "updatedAt")
           SELECT 'Item ' || n, n, n, now(), now() FROM generate_series(1, 60) AS n"#,
    );
    let lines = |args: &[&str]| {
        let out = db.crm().args(["products", "list"]).args(args).run();
        out.assert_success();
        out.stdout.lines().count() - 1
    };
    assert_eq!(lines(&[]), 50);
    assert_eq!(lines(&["--all"]), 60);
    assert_eq!(lines(&["--all", "--offset", "55"]), 5);
    let table = db
        .crm()
        .args([
            "products",
            "list",
            "-o",
            "table",
            "--limit",
            "3",
            "--in-stock",
        ])
        .run();
    table.assert_success();
    assert!(table.stdout.ends_with("┘\n3 of 60 products\n"), "{table}");
    db.crm()
        .args(["products", "list", "--limit", "0"])
        .run()
        .assert_code(2);
}

#[test]
fn search_matches_the_name_literally_and_drops_nothing() {
    let db = with_products();
    let search = |text: &str, ids: &[i32]| {
        db.crm()
            .args(["products", "list", "--search", text])
            .run()
            .assert_success()
            .assert_stdout_eq(&csv(ids));
    };
    search("WIDG", &[1]);
    search("%", &[3]);
    search("_", &[4]);
    search("e_c", &[4]);
    search("0% c", &[3]);
    search(r#"'; DROP TABLE "Users"; --"#, &[]);
    search(r#"'; DROP TABLE "Products"; --"#, &[]);
    assert!(table_exists(&db, "Users"));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Products""#), 4);
}

/// Sales of product 1: 2 units in a completed order, 1 in a pending one, 10 in a cancelled one
/// (not counted); product 2 in the completed order too.
const SALES: &str = r#"
INSERT INTO "Orders" ("id", "status", "total", "createdAt", "updatedAt") VALUES
  (1, 'completed', 43.48, now(), now()),
  (2, 'pending', 8.00, now(), now()),
  (3, 'cancelled', 99.90, now(), now());
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
VALUES (1, 1, 2, 9.99, now(), now()), (1, 2, 1, 24.50, now(), now()),
       (2, 1, 1, 8.00, now(), now()), (3, 1, 10, 9.99, now(), now());
"#;

#[test]
fn show_gives_units_sold_and_revenue_of_orders_not_cancelled() {
    let db = with_products();
    sql(&db, SALES);
    let out = db.crm().args(["-o", "json", "products", "show", "1"]).run();
    out.assert_success();
    let shown: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    assert_eq!(shown["name"], "Widget");
    assert_eq!(shown["price"], "9.99");
    assert_eq!(shown["stock"], 5);
    assert_eq!(shown["unitsSold"], 3);
    assert_eq!(shown["revenue"], "27.98");

    db.crm()
        .args(["products", "show", "3"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!(
            "id,name,description,price,stock,category,image,createdAt,updatedAt,unitsSold,revenue\n\
             3,100% Cotton Shirt,,15.00,20,apparel,,{THEN},{THEN},0,0.00\n"
        ));
    let table = db
        .crm()
        .args(["-o", "table", "products", "show", "2"])
        .run();
    table.assert_success();
    assert!(table.stdout.contains("│ revenue     ┆ 24.50"), "{table}");

    db.crm()
        .args(["products", "show", "12"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("product 12 does not exist");
}

#[test]
fn create_stores_the_product_with_stock_zero_by_default() {
    let db = TestDb::migrated();
    let out = db
        .crm()
        .args([
            "products",
            "create",
            "--name",
            "Lamp",
            "--price",
            "19.9",
            "--category",
            "home",
        ])
        .run();
    out.assert_success();
    assert!(
        out.stdout
            .starts_with(&format!("{HEADER}1,Lamp,,19.90,0,home,,20")),
        "{out}"
    );
    db.crm()
        .args([
            "products",
            "create",
            "--name",
            "Desk",
            "--price",
            "250",
            "--stock",
            "4",
            "--description",
            "Oak",
            "--image",
            "desk.jpg",
        ])
        .run()
        .assert_success();
    let rows: Vec<(String, String, Option<i32>, bool)> = db
        .client()
        .query(
            r#"SELECT "name", "price"::text, "stock",
                      "createdAt" > now() - interval '1 minute' AND "createdAt" = "updatedAt"
               FROM "Products" ORDER BY "id""#,
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        rows,
        [
            ("Lamp".to_string(), "19.90".to_string(), Some(0), true),
            ("Desk".to_string(), "250.00".to_string(), Some(4), true)
        ]
    );
}

#[test]
fn create_refuses_bad_values_naming_the_field_and_writes_nothing() {
    let db = TestDb::migrated();
    let long_name = "n".repeat(256);
    let cases: [(&[&str], &str); 8] = [
        (
            &["--name", "Lamp", "--price=-1"],
            "invalid value '-1' for '--price <PRICE>': must not be negative",
        ),
        (
            &["--name", "Lamp", "--price", "1.999"],
            "invalid value '1.999' for '--price <PRICE>': at most two decimals",
        ),
        (
            &["--name", "Lamp", "--price", "100000000.00"],
            "invalid value '100000000.00' for '--price <PRICE>': at most 99999999.99",
        ),
        (
            &["--name", "Lamp", "--price", "cheap"],
            "invalid value 'cheap' for '--price <PRICE>'",
        ),
        (
            &["--name", &long_name, "--price", "1"],
            "for '--name <NAME>': at most 255 characters, got 256",
        ),
        (
            &["--name", "Lamp", "--price", "1", "--stock=-1"],
            "invalid value '-1' for '--stock <N>': must not be negative",
        ),
        (
            &["--name", "Lamp", "--price", "1", "--stock", "2147483648"],
            "invalid value '2147483648' for '--stock <N>'",
        ),
        (&["--name", "Lamp"], "--price <PRICE>"),
    ];
    for (args, message) in cases {
        db.crm()
            .args(["products", "create"])
            .args(args)
            .run()
            .assert_code(2)
            .assert_stderr_contains(message);
    }
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Products""#), 0);
}

#[test]
fn update_changes_only_the_fields_given_and_bumps_updated_at() {
    let db = with_products();
    let out = db
        .crm()
        .args([
            "products",
            "update",
            "1",
            "--price",
            "11",
            "--category",
            "garden",
        ])
        .run();
    out.assert_success();
    assert!(
        out.stdout.starts_with(&format!(
            "{HEADER}1,Widget,\"A small widget, blue\",11.00,5,garden,,{THEN},20"
        )),
        "{out}"
    );
    let row = db
        .client()
        .query_one(
            r#"SELECT "name", "description", "price"::text, "stock", "image",
                      "createdAt" = timestamptz '2025-07-01T09:30:00Z',
                      "updatedAt" > now() - interval '1 minute'
               FROM "Products" WHERE "id" = 1"#,
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Widget");
    assert_eq!(row.get::<_, String>(1), "A small widget, blue");
    assert_eq!(row.get::<_, String>(2), "11.00");
    assert_eq!(row.get::<_, i32>(3), 5);
    assert_eq!(row.get::<_, Option<String>>(4), None);
    assert!(row.get::<_, bool>(5), "createdAt changed");
    assert!(row.get::<_, bool>(6), "updatedAt was not bumped");
    // The other products are untouched.
    db.crm()
        .args(["products", "list", "--offset", "1"])
        .run()
        .assert_stdout_eq(&csv(&[2, 3, 4]));
}

#[test]
fn update_refusals_leave_the_row_as_it_was() {
    let db = with_products();
    let before = row_json(&db, "Products", 1);
    db.crm()
        .args(["products", "update", "1"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("the following required arguments were not provided");
    for (args, message) in [
        (["--price", "0.001"], "at most two decimals"),
        (["--price", "123456789"], "at most 99999999.99"),
        (["--name", ""], "'--name <NAME>': must not be empty"),
        (
            ["--image", &"i".repeat(256)],
            "at most 255 characters, got 256",
        ),
    ] {
        db.crm()
            .args(["products", "update", "1"])
            .args(args)
            .run()
            .assert_code(2)
            .assert_stderr_contains(message);
    }
    db.crm()
        .args(["products", "update", "12", "--price", "1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("product 12 does not exist");
    assert_eq!(row_json(&db, "Products", 1), before);
}

#[test]
fn delete_without_yes_and_without_a_terminal_is_refused() {
    let db = with_products();
    sql(&db, SALES);
    db.crm()
        .args(["products", "delete", "1"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "delete product 1 (Widget), keeping its 3 order items with productId set to NULL? \
             needs confirmation, and stdin is not a terminal: pass --yes to confirm",
        );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Products""#), 4);
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "OrderItems" WHERE "productId" = 1"#
        ),
        3
    );
}

#[test]
fn delete_with_yes_keeps_the_order_items_without_a_product() {
    let db = with_products();
    sql(&db, SALES);
    db.crm()
        .args(["products", "delete", "1", "--yes"])
        .run()
        .assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains(
            "deleted product 1 (Widget); its 3 order items are kept, with productId set to NULL",
        );
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "Products" WHERE "id" = 1"#),
        0
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "OrderItems" WHERE "productId" IS NULL"#
        ),
        3
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "OrderItems""#), 4);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Orders""#), 3);

    db.crm()
        .args(["products", "delete", "2", "--yes"])
        .run()
        .assert_success()
        .assert_stderr_contains("its 1 order item is kept, with productId set to NULL");
    db.crm()
        .args(["products", "delete", "3", "--yes"])
        .run()
        .assert_success()
        .assert_stderr_contains(
            "deleted product 3 (100% Cotton Shirt); no order items pointed at it",
        );
    db.crm()
        .args(["products", "delete", "3", "--yes"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("product 3 does not exist");
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Products""#), 1);
}

#[test]
fn stock_set_add_and_remove() {
    let db = with_products();
    let stock = |args: &[&str], expected: &str| {
        db.crm()
            .args(["products", "stock", "1"])
            .args(args)
            .run()
            .assert_success()
            .assert_stdout_eq(expected);
    };
    stock(&["--set", "7"], "id,name,stock\n1,Widget,7\n");
    stock(&["--add", "3"], "id,name,stock\n1,Widget,10\n");
    stock(&["--remove", "4"], "id,name,stock\n1,Widget,6\n");
    stock(&["--remove", "6"], "id,name,stock\n1,Widget,0\n");
    assert_eq!(stock_of(&db, 1), Some(0));
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Products"
               WHERE "id" = 1 AND "updatedAt" > now() - interval '1 minute'"#
        ),
        1,
        "updatedAt was not bumped"
    );
    // A stock that other tools left NULL counts as 0.
    sql(
        &db,
        r#"UPDATE "Products" SET "stock" = NULL WHERE "id" = 2"#,
    );
    db.crm()
        .args(["products", "stock", "2", "--add", "2"])
        .run()
        .assert_success()
        .assert_stdout_eq("id,name,stock\n2,Gadget,2\n");
}

#[test]
fn stock_never_goes_below_zero_or_past_integer() {
    let db = with_products();
    let before = row_json(&db, "Products", 4);
    db.crm()
        .args(["products", "stock", "4", "--remove", "5"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("cannot remove 5 from product 4: it has 3 in stock");
    db.crm()
        .args(["products", "stock", "4", "--add", "2147483645"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "cannot add 2147483645 to product 4: it has 3 in stock, and stock holds at most 2147483647",
        );
    for (args, message) in [
        (vec!["--set=-1"], "invalid value '-1' for '--set <N>'"),
        (
            vec!["--remove", "2147483648"],
            "invalid value '2147483648' for '--remove <N>'",
        ),
        (vec!["--add", "1.5"], "not a whole number"),
        (vec!["--set", "1", "--add", "1"], "cannot be used with"),
        (vec![], "--set <N>|--add <N>|--remove <N>"),
    ] {
        db.crm()
            .args(["products", "stock", "4"])
            .args(args)
            .run()
            .assert_code(2)
            .assert_stderr_contains(message);
    }
    assert_eq!(row_json(&db, "Products", 4), before);
    for change in ["--set", "--add", "--remove"] {
        db.crm()
            .args(["products", "stock", "12", change, "1"])
            .run()
            .assert_code(3)
            .assert_stderr_contains("product 12 does not exist");
    }
}

#[test]
fn concurrent_removals_never_oversell() {
    let db = with_products();
    assert_eq!(stock_of(&db, 1), Some(5));
    // Hold the row while all eight start, so that they really queue on it together.
    let mut holder = db.client();
    let mut hold = holder.transaction().unwrap();
    hold.execute(r#"SELECT 1 FROM "Products" WHERE "id" = 1 FOR UPDATE"#, &[])
        .unwrap();
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let mut crm = db.crm();
            crm.args(["products", "stock", "1", "--remove", "1"]);
            let child = crm.spawn();
            (crm, child)
        })
        .collect();
    wait_for_lock_waiters(&db, 8);
    hold.commit().unwrap();
    let outputs: Vec<_> = runs
        .into_iter()
        .map(|(crm, child)| crm.wait(child))
        .collect();
    let succeeded = outputs.iter().filter(|o| o.code() == 0).count();
    assert_eq!(succeeded, 5, "{outputs:#?}");
    for out in outputs.iter().filter(|o| o.code() != 0) {
        out.assert_code(5)
            .assert_stderr_contains("cannot remove 1 from product 1: it has 0 in stock");
    }
    assert_eq!(stock_of(&db, 1), Some(0));
}

/// Waits until `n` sessions of this test's database wait for a lock.
fn wait_for_lock_waiters(db: &TestDb, n: i64) {
    wait_for(
        &mut db.client(),
        &format!(
            "SELECT count(*) >= {n} FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ),
        &format!("{n} sessions to wait for the row"),
        std::time::Duration::from_secs(60),
    );
}

#[test]
fn low_stock_lists_products_below_the_threshold_lowest_first() {
    let db = with_products();
    sql(
        &db,
        r#"INSERT INTO "Products" ("id", "name", "price", "stock", "createdAt", "updatedAt")
           VALUES (5, 'Unknown', 1.00, NULL, now(), now()),
                  (6, 'Plenty', 1.00, 10, now(), now())"#,
    );
    let ids = |args: &[&str]| -> Vec<String> {
        let out = db.crm().args(["products", "low-stock"]).args(args).run();
        out.assert_success();
        assert!(out.stdout.starts_with(HEADER), "{out}");
        out.stdout
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&[]), ["5", "2", "4", "1"]);
    assert_eq!(ids(&["--threshold", "4"]), ["5", "2", "4"]);
    assert_eq!(ids(&["--threshold", "11"]), ["5", "2", "4", "1", "6"]);
    assert_eq!(ids(&["--threshold", "0"]), ["5"]);
    assert_eq!(ids(&["--in-stock"]), ["4", "1"]);
    assert_eq!(ids(&["--category", "tools"]), ["2", "1"]);
    let table = db
        .crm()
        .args(["-o", "table", "products", "low-stock"])
        .run();
    table.assert_success();
    assert!(table.stdout.ends_with("┘\n4 of 4 products\n"), "{table}");
    db.crm()
        .args(["products", "low-stock", "--threshold=-1"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("invalid value '-1' for '--threshold <N>'");
}

/// Issue 15, item 12: a negative price, stock or threshold written with a space (`--price -1`)
/// is refused for being negative, not taken for an unknown flag; a name where an id goes points
/// to `--search`. Nothing is written.
#[test]
fn negative_numbers_and_names_for_ids_say_what_is_wrong() {
    let db = with_products();
    let before: Vec<String> = (1..=4).map(|id| row_json(&db, "Products", id)).collect();
    let refused = |args: &[&str], message: &str| {
        db.crm()
            .arg("products")
            .args(args)
            .run()
            .assert_code(2)
            .assert_stderr_contains(message);
    };
    refused(
        &["create", "--name", "X", "--price", "-1"],
        "invalid value '-1' for '--price <PRICE>': must not be negative, got -1",
    );
    refused(
        &["create", "--name", "X", "--price", "1", "--stock", "-3"],
        "invalid value '-3' for '--stock <N>': must not be negative, got -3",
    );
    refused(
        &["update", "1", "--price", "-0.01"],
        "invalid value '-0.01' for '--price <PRICE>': must not be negative",
    );
    refused(
        &["stock", "1", "--add", "-3"],
        "invalid value '-3' for '--add <N>': must not be negative, got -3",
    );
    refused(
        &["stock", "1", "--set", "-1"],
        "invalid value '-1' for '--set <N>': must not be negative",
    );
    refused(
        &["low-stock", "--threshold", "-1"],
        "invalid value '-1' for '--threshold <N>': must not be negative",
    );
    refused(
        &["list", "--limit", "-5"],
        "invalid value '-5' for '--limit <N>': expected a whole number of at least 1, got -5",
    );
    refused(
        &["list", "--limit", "0"],
        "expected a whole number of at least 1, got 0",
    );
    refused(
        &["show", "Widget"],
        "invalid value 'Widget' for '<ID>': expected a product id (a whole number); to find a \
         product by name: crm products list --search Widget",
    );
    refused(
        &["delete", "snake_case mug", "--yes"],
        "to find a product by name: crm products list --search 'snake_case mug'",
    );
    refused(
        &["stock", "1.5", "--add", "1"],
        "invalid value '1.5' for '<ID>': expected a product id (a whole number)",
    );
    let after: Vec<String> = (1..=4).map(|id| row_json(&db, "Products", id)).collect();
    assert_eq!(after, before);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "Products""#), 4);
    // The hint, as printed, finds it.
    db.crm()
        .args(["products", "list", "--search", "Widget"])
        .run()
        .assert_success()
        .assert_stdout_eq(&csv(&[1]));
    db.crm()
        .args(["products", "show", "-1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("product -1 does not exist");
}

/// `products update --clear FIELD` empties description, category or image; name, price and
/// stock are refused, naming the fields that can be cleared.
#[test]
fn update_clear_empties_optional_fields_and_refuses_required_ones() {
    let db = with_products();
    db.crm()
        .args([
            "products", "update", "2", "--clear", "category", "--clear", "image",
        ])
        .run()
        .assert_success()
        .assert_stdout_contains(&format!("2,Gadget,,24.50,0,,,{THEN},20"));
    let before = row_json(&db, "Products", 1);
    for (field, why) in [
        ("name", "a product must have one"),
        ("price", "a product must have one"),
        ("stock", "orders count it down"),
    ] {
        db.crm()
            .args(["products", "update", "1", "--clear", field])
            .run()
            .assert_code(2)
            .assert_stderr_contains(&format!("{field} cannot be cleared: {why}"))
            .assert_stderr_contains("(the fields that can be: description, category, image)");
    }
    assert_eq!(row_json(&db, "Products", 1), before);
    db.crm()
        .args(["products", "update", "1", "--clear", "description"])
        .run()
        .assert_success()
        .assert_stdout_contains("1,Widget,,9.99,5,tools,");
}
