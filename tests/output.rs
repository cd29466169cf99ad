//! The output layer through the real binary: the same rows as table, CSV and JSON, byte for byte;
//! and a closed pipe is not an error.

use crate::harness::{TestDb, crm};

const CSV: &str = "version,name,state,appliedAt
1,create_users,pending,
2,create_customers,pending,
3,create_products,pending,
4,create_orders,pending,
5,create_order_items,pending,
6,create_notifications,pending,
7,create_user_notifications,pending,
8,create_notification_preferences,pending,
9,performance_indexes,pending,
10,search_indexes,pending,
11,create_seed_history,pending,
12,notification_inbox_index,pending,
13,customer_match_keys,pending,
14,create_customer_merges,pending,
15,customer_name_sort_index,pending,
";

const JSON: &str = r#"[
{"version":1,"name":"create_users","state":"pending","appliedAt":null},
{"version":2,"name":"create_customers","state":"pending","appliedAt":null},
{"version":3,"name":"create_products","state":"pending","appliedAt":null},
{"version":4,"name":"create_orders","state":"pending","appliedAt":null},
{"version":5,"name":"create_order_items","state":"pending","appliedAt":null},
{"version":6,"name":"create_notifications","state":"pending","appliedAt":null},
{"version":7,"name":"create_user_notifications","state":"pending","appliedAt":null},
{"version":8,"name":"create_notification_preferences","state":"pending","appliedAt":null},
{"version":9,"name":"performance_indexes","state":"pending","appliedAt":null},
{"version":10,"name":"search_indexes","state":"pending","appliedAt":null},
{"version":11,"name":"create_seed_history","state":"pending","appliedAt":null},
{"version":12,"name":"notification_inbox_index","state":"pending","appliedAt":null},
{"version":13,"name":"customer_match_keys","state":"pending","appliedAt":null},
{"version":14,"name":"create_customer_merges","state":"pending","appliedAt":null},
{"version":15,"name":"customer_name_sort_index","state":"pending","appliedAt":null}
]
"#;

const TABLE: &str = "\
┌─────────┬─────────────────────────────────┬─────────┬───────────┐
│ version ┆ name                            ┆ state   ┆ appliedAt │
╞═════════╪═════════════════════════════════╪═════════╪═══════════╡
│       1 ┆ create_users                    ┆ pending ┆           │
│       2 ┆ create_customers                ┆ pending ┆           │
│       3 ┆ create_products                 ┆ pending ┆           │
│       4 ┆ create_orders                   ┆ pending ┆           │
│       5 ┆ create_order_items              ┆ pending ┆           │
│       6 ┆ create_notifications            ┆ pending ┆           │
│       7 ┆ create_user_notifications       ┆ pending ┆           │
│       8 ┆ create_notification_preferences ┆ pending ┆           │
│       9 ┆ performance_indexes             ┆ pending ┆           │
│      10 ┆ search_indexes                  ┆ pending ┆           │
│      11 ┆ create_seed_history             ┆ pending ┆           │
│      12 ┆ notification_inbox_index        ┆ pending ┆           │
│      13 ┆ customer_match_keys             ┆ pending ┆           │
│      14 ┆ create_customer_merges          ┆ pending ┆           │
│      15 ┆ customer_name_sort_index        ┆ pending ┆           │
└─────────┴─────────────────────────────────┴─────────┴───────────┘
0 of 15 migrations applied
";

#[test]
fn the_same_rows_as_csv_json_and_table() {
    let db = TestDb::empty();
    // CSV is the default when stdout is not a terminal.
    db.crm()
        .args(["db", "migrate", "status"])
        .run()
        .assert_stdout_eq(CSV);
    db.crm()
        .args(["-o", "csv", "db", "migrate", "status"])
        .run()
        .assert_stdout_eq(CSV);
    db.crm()
        .args(["db", "migrate", "status", "--format", "json"])
        .run()
        .assert_stdout_eq(JSON);
    db.crm()
        .args(["db", "migrate", "status", "-o", "table"])
        .run()
        .assert_stdout_eq(TABLE);
}

#[test]
fn an_unknown_format_is_bad_usage() {
    crm()
        .args(["-o", "xml", "db", "migrate", "status"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("invalid value 'xml'");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = crm().args(["completions", shell]).run();
        out.assert_success().assert_stdout_contains("migrate");
    }
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // `crm completions bash | head -1`: crm's output is cut short, and that is fine.
    let script = format!(
        "'{}' completions bash | head -c 10 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_crm")
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("error"), "{stderr}");
}

/// Long work shows progress on a terminal (stderr) and stays silent when piped.
#[test]
fn an_export_shows_progress_on_a_terminal_and_none_when_piped() {
    let db = crate::harness::TestDb::migrated();
    crate::harness::sql(
        &db,
        r#"INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
           SELECT 'Ada', 'Lovelace', 'ada' || i || '@example.com', now(), now()
           FROM generate_series(1, 300000) AS i"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    let file = file.display().to_string();
    let (code, screen) = crate::harness::crm_on_terminal(
        &["--database-url", &db.url(), "customers", "export", &file],
        "",
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("exporting customers"),
        "no progress shown: {screen}"
    );
    assert!(screen.contains("exported 300,000 customers"), "{screen}");

    let piped = db.crm().args(["customers", "export", &file]).run();
    piped.assert_success();
    assert_eq!(
        piped.stderr,
        format!("exported 300,000 customers to {file}\n")
    );
}

/// 3,000 rows of each kind, orders one a day over eight years, each with one item: every list,
/// export and report below prints far more than a pipe holds (64 KiB).
const MANY_ROWS: &str = r#"
INSERT INTO "Users" ("firstName", "lastName", "email", "password", "createdAt", "updatedAt")
  SELECT 'Staff', 'Member ' || i, 'staff' || i || '@example.com', 'not a hash', now(), now()
  FROM generate_series(1, 3000) AS i;
INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
  SELECT 'Ada', 'Lovelace ' || i, 'ada' || i || '@example.com', now(), now()
  FROM generate_series(1, 3000) AS i;
INSERT INTO "Products" ("name", "price", "stock", "createdAt", "updatedAt")
  SELECT 'Product ' || i, 9.99, 100, now(), now() FROM generate_series(1, 3000) AS i;
INSERT INTO "Orders" ("customerId", "total", "createdAt", "updatedAt")
  SELECT i, 9.99, timestamptz '2018-01-01T12:00:00Z' + i * interval '1 day', now()
  FROM generate_series(1, 3000) AS i;
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
  SELECT i, i, 1, 9.99, now(), now() FROM generate_series(1, 3000) AS i;
"#;

/// `crm customers list --all | head -1`: whatever the command and the format, crm stops
/// quietly with exit 0 when the reader has gone, as ripgrep does.
#[test]
fn a_closed_pipe_ends_every_list_export_and_report_quietly() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::migrated();
    crate::harness::sql(&db, MANY_ROWS);
    let commands: &[&[&str]] = &[
        &["customers", "list", "--all"],
        &["products", "list", "--all"],
        &["orders", "list", "--all"],
        &["users", "list", "--all"],
        &["customers", "export"],
        &["products", "export"],
        &["orders", "export"],
        &["orders", "export", "--items"],
        &[
            "orders", "report", "sales", "--by", "day", "--status", "pending",
        ],
        &[
            "orders", "report", "products", "--all", "--status", "pending",
        ],
        &[
            "orders",
            "report",
            "customers",
            "--all",
            "--status",
            "pending",
        ],
    ];
    let mut failed = Vec::new();
    for command in commands {
        for format in ["csv", "json", "table"] {
            if command.contains(&"export") && format != "csv" {
                continue;
            }
            let mut crm = db.crm();
            crm.args(["-o", format]).args(*command);
            let mut child = crm.spawn();
            let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
            let mut first = String::new();
            stdout.read_line(&mut first).expect("read crm's first line");
            assert!(
                !first.is_empty(),
                "crm {command:?} -o {format} printed nothing"
            );
            drop(stdout);
            let out = crm.wait(child);
            if out.code() != 0 || out.stderr.contains("error") {
                failed.push(format!("-o {format}\n{out}"));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "expected exit 0 and no error once the reader left; {} runs did not:\n\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Customers whose text is longer than an 80-column terminal shows.
const WIDE_CUSTOMERS: &str = r#"
INSERT INTO "Customers" ("firstName", "lastName", "email", "phone", "address", "totalPurchases",
                         "createdAt", "updatedAt")
  SELECT 'Maximiliana', 'Featherstonehaugh-Cholmondeley ' || i,
         'maximiliana.featherstonehaugh' || i || '@a-rather-long-domain.example.com',
         '+44 20 7946 0' || lpad(i::text, 3, '0'),
         i || ' Long Street, Little Snoring, Norfolk, United Kingdom',
         1234567.5, timestamptz '2026-12-06T04:19:28.123456Z', now()
  FROM generate_series(1, 3) AS i"#;

/// The display width of a line: box-drawing characters and `…` are one column each, and a
/// terminal's escape sequences (bold, colours) none.
fn columns_of(line: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in line.chars() {
        match c {
            '\u{1b}' => in_escape = true,
            'm' if in_escape => in_escape = false,
            _ if in_escape => {}
            _ => width += 1,
        }
    }
    width
}

#[test]
fn a_table_fits_an_80_column_terminal_and_leaves_out_the_wide_columns() {
    let db = TestDb::migrated();
    crate::harness::sql(&db, WIDE_CUSTOMERS);
    let out = db
        .crm()
        .env("COLUMNS", "80")
        .args(["-o", "table", "customers", "list"])
        .run();
    out.assert_success();
    for line in out.stdout.lines() {
        assert!(columns_of(line) <= 80, "{line:?} is wider than 80\n{out}");
    }
    assert!(out.stdout.contains('…'), "{out}");
    // Figures as a person reads them, whole, and the timestamp to the second.
    assert!(out.stdout.contains("1,234,567.50"), "{out}");
    assert!(out.stdout.contains("2026-12-06T04:19:28Z"), "{out}");
    assert!(!out.stdout.contains("address"), "{out}");
    assert!(!out.stdout.contains("updatedAt"), "{out}");
    assert!(out.stdout.ends_with("3 of 3 customers\n"), "{out}");

    // -o wide shows every column; without COLUMNS nothing is cut.
    let wide = db.crm().args(["-o", "wide", "customers", "list"]).run();
    wide.assert_success();
    assert!(wide.stdout.contains("address"), "{wide}");
    assert!(wide.stdout.contains("updatedAt"), "{wide}");
    assert!(
        wide.stdout.contains("1 Long Street, Little Snoring"),
        "{wide}"
    );
    assert!(!wide.stdout.contains('…'), "{wide}");

    // CSV keeps every column, as it was.
    let csv = db
        .crm()
        .env("COLUMNS", "80")
        .args(["customers", "list"])
        .run();
    csv.assert_success();
    assert!(
        csv.stdout.starts_with(
            "id,firstName,lastName,email,phone,address,totalPurchases,createdAt,updatedAt\n"
        ),
        "{csv}"
    );
    assert!(
        csv.stdout
            .contains(",1234567.50,2026-12-06T04:19:28.123456Z,"),
        "{csv}"
    );
}

#[test]
fn a_table_on_a_terminal_fits_its_width() {
    let db = TestDb::migrated();
    crate::harness::sql(&db, WIDE_CUSTOMERS);
    // The harness's terminal is 100 columns wide.
    let (code, screen) =
        crate::harness::crm_on_terminal(&["--database-url", &db.url(), "customers", "list"], "");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("╞════╪"), "not a table: {screen}");
    for line in screen.lines() {
        assert!(
            columns_of(line.trim_end_matches('\r')) <= 100,
            "{line:?}\n{screen}"
        );
    }
}

#[test]
fn columns_chooses_the_columns_in_any_format_and_an_unknown_one_is_bad_usage() {
    let db = TestDb::migrated();
    crate::harness::sql(&db, WIDE_CUSTOMERS);
    db.crm()
        .args([
            "customers",
            "list",
            "--columns",
            "id,address",
            "--limit",
            "1",
        ])
        .run()
        .assert_success()
        .assert_stdout_eq(
            "id,address\n1,\"1 Long Street, Little Snoring, Norfolk, United Kingdom\"\n",
        );
    let table = db
        .crm()
        .args([
            "-o",
            "table",
            "--columns",
            "email,id",
            "customers",
            "list",
            "--limit",
            "1",
        ])
        .run();
    table.assert_success();
    assert!(table.stdout.contains("│ email "), "{table}");
    assert!(table.stdout.contains("┆ id │"), "{table}");
    db.crm()
        .args(["customers", "list", "--columns", "id,nickname"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "--columns nickname: no such column here (expected some of id, firstName",
        )
        .assert_stdout_eq("");
}

#[test]
fn an_empty_list_is_a_sentence_in_a_table_and_a_header_in_csv() {
    let db = TestDb::migrated();
    crate::harness::sql(&db, WIDE_CUSTOMERS);
    db.crm()
        .args([
            "-o",
            "table",
            "customers",
            "list",
            "--search",
            "nobody-at-all",
        ])
        .run()
        .assert_success()
        .assert_stdout_eq("no customers match\n");
    db.crm()
        .args(["-o", "table", "customers", "list", "--offset", "10"])
        .run()
        .assert_success()
        .assert_stdout_eq("no customers past --offset 10 (there are 3)\n");
    db.crm()
        .args(["customers", "list", "--search", "nobody-at-all"])
        .run()
        .assert_success()
        .assert_stdout_eq(
            "id,firstName,lastName,email,phone,address,totalPurchases,createdAt,updatedAt\n",
        );
    db.crm()
        .args([
            "-o",
            "json",
            "customers",
            "list",
            "--search",
            "nobody-at-all",
        ])
        .run()
        .assert_success()
        .assert_stdout_eq("[]\n");
}
