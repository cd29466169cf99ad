//! `crm customers|products import|export`: round trips that keep every byte, atomic export
//! files, literal search, a corpus of bad files that each exit 2 naming the line and column
//! with nothing written, dry runs, rejects files, conflicts, hand-made CSV (BOM, CRLF, any
//! header case and order), the id sequence after explicit ids, and standard input.

use crate::harness::{Output, TestDb, sql};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// A customers file as export writes it: quotes, commas and newlines inside fields, NULLs,
/// non-ASCII names, timestamps to the microsecond. Their totalPurchases are 0.00: they have no
/// orders, and import derives totalPurchases from the orders.
const CUSTOMERS_CSV: &str = "\
id,firstName,lastName,email,phone,address,totalPurchases,createdAt,updatedAt
1,Ada,\"O'Brien, \"\"Bo\"\"\",ada@example.com,+1 (555) 010-9999 x12,\"1 Main St
Apt 2, \"\"Rear\"\"\",0.00,2025-07-01T09:30:00Z,2025-07-01T09:30:00.25Z
2,Zoë,Ñúñez-Øre,zoe@example.com,,,0.00,2024-02-29T23:59:59.999999Z,2024-03-01T00:00:00Z
5,李,\"Smith
Jones\",li@example.cn,555.010.9999,\"東京都, \"\"新宿\"\"\",0.00,1999-12-31T23:00:00Z,2000-01-01T00:00:00Z
7,,,,,,0.00,2025-01-01T00:00:00.1Z,2025-01-01T00:00:00.123Z
";

/// Products as export writes them, the largest amount among them.
const PRODUCTS_CSV: &str = "\
id,name,description,price,stock,category,image,createdAt,updatedAt
3,\"Widget, large\",\"Line one
Line \"\"two\"\"\",19.99,10,Tools,https://example.com/w.png,2025-07-01T09:30:00Z,2025-07-01T09:30:00Z
4,Gadget 50%_off,,0.50,,,,2025-07-01T09:30:00Z,2025-07-02T10:00:00.5Z
9,Ærøskøbing sild,Ø,99999999.99,0,Food,,2025-07-01T09:30:00Z,2025-07-01T09:30:00Z
";

const CUSTOMERS_HEADER: &str =
    "id,firstName,lastName,email,phone,address,totalPurchases,createdAt,updatedAt\n";

/// `crm <entity> import -` with `csv` on stdin, and `args` after.
fn import(db: &TestDb, entity: &str, csv: impl Into<Vec<u8>>, args: &[&str]) -> Output {
    db.crm()
        .args([entity, "import", "-"])
        .args(args)
        .stdin(csv)
        .run()
}

fn export(db: &TestDb, entity: &str, args: &[&str]) -> Output {
    let out = db.crm().args([entity, "export"]).args(args).run();
    out.assert_success();
    out
}

/// Every row of a table as JSON, by id: what "the same rows" means.
fn rows(db: &TestDb, table: &str) -> Vec<String> {
    db.client()
        .query(
            &format!("SELECT row_to_json(t)::text FROM \"{table}\" t ORDER BY id"),
            &[],
        )
        .expect("read the rows")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// One column of a CSV text, header left out.
fn column(csv: &str, index: usize) -> Vec<String> {
    csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record")[index].to_string())
        .collect()
}

fn count(db: &TestDb, table: &str) -> i64 {
    db.client()
        .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
        .expect("count rows")
        .get(0)
}

fn seed_customers(db: &TestDb) {
    import(db, "customers", CUSTOMERS_CSV, &[]).assert_success();
}

#[test]
fn a_round_trip_keeps_every_byte_and_every_row() {
    for (entity, table, csv, n) in [
        ("customers", "Customers", CUSTOMERS_CSV, 4),
        ("products", "Products", PRODUCTS_CSV, 3),
    ] {
        let first = TestDb::migrated();
        import(&first, entity, csv, &[])
            .assert_success()
            .assert_stderr_contains(&format!("imported {n} {entity} from standard input"));
        let exported = export(&first, entity, &[]);
        exported.assert_stdout_eq(csv);

        let second = TestDb::migrated();
        import(&second, entity, exported.stdout.clone(), &[]).assert_success();
        export(&second, entity, &[]).assert_stdout_eq(csv);
        assert_eq!(rows(&first, table), rows(&second, table));
    }
}

#[test]
fn export_writes_empty_strings_as_null_so_that_the_round_trip_is_exact() {
    let db = TestDb::migrated();
    sql(
        &db,
        "INSERT INTO \"Customers\" (\"firstName\", \"lastName\", \"email\", \"createdAt\", \"updatedAt\") \
         VALUES ('', NULL, 'e@x.io', '2025-01-01Z', '2025-01-01Z')",
    );
    export(&db, "customers", &[]).assert_stdout_eq(&format!(
        "{CUSTOMERS_HEADER}1,,,e@x.io,,,0.00,2025-01-01T00:00:00Z,2025-01-01T00:00:00Z\n"
    ));
}

#[test]
fn export_prints_rfc3339_utc_timestamps_whatever_the_servers_date_style_and_time_zone() {
    let db = TestDb::migrated();
    sql(
        &db,
        &format!(
            "ALTER DATABASE \"{}\" SET DateStyle = 'SQL, DMY'; \
             ALTER DATABASE \"{}\" SET TimeZone = 'Asia/Kolkata'",
            db.name, db.name
        ),
    );
    sql(
        &db,
        "INSERT INTO \"Customers\" (\"email\", \"createdAt\", \"updatedAt\") \
         VALUES ('e@x.io', '2025-07-01 09:30:00.25+02', '2025-07-01 23:59:59.123456-05')",
    );
    let out = export(&db, "customers", &[]);
    out.assert_stdout_eq(&format!(
        "{CUSTOMERS_HEADER}1,,,e@x.io,,,0.00,2025-07-01T07:30:00.25Z,2025-07-02T04:59:59.123456Z\n"
    ));
    // list renders the same instants in Rust, to the same text.
    db.crm()
        .args(["customers", "list"])
        .run()
        .assert_stdout_contains("2025-07-01T07:30:00.25Z,2025-07-02T04:59:59.123456Z");
}

#[test]
fn export_to_a_file_is_atomic_and_says_how_many() {
    let db = TestDb::migrated();
    seed_customers(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    fs::write(&file, "old contents").unwrap();
    let out = db.crm().args(["customers", "export"]).arg(&file).run();
    out.assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains(&format!("exported 4 customers to {}", file.display()));
    assert_eq!(fs::read_to_string(&file).unwrap(), CUSTOMERS_CSV);
    // Only the file: no temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["customers.csv"]);
}

#[test]
fn export_into_a_missing_folder_fails_and_leaves_no_file() {
    let db = TestDb::migrated();
    seed_customers(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("missing").join("customers.csv");
    let out = db.crm().args(["customers", "export"]).arg(&file).run();
    assert!(
        [1, 2].contains(&out.code()),
        "expected exit 1 or 2\n\n{out}"
    );
    out.assert_stderr_contains("missing");
    assert!(!file.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_failed_export_keeps_the_old_file_and_leaves_no_temporary_file() {
    let db = TestDb::migrated();
    seed_customers(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    fs::write(&file, "old contents").unwrap();
    // The table is gone: the export fails after the file was opened.
    sql(&db, "DROP TABLE \"Customers\" CASCADE");
    let out = db.crm().args(["customers", "export"]).arg(&file).run();
    out.assert_code(1);
    assert_eq!(fs::read_to_string(&file).unwrap(), "old contents");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn export_through_a_symbolic_link_or_into_a_fifo_keeps_them() {
    let db = TestDb::migrated();
    seed_customers(&db);
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.csv");
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    db.crm()
        .args(["customers", "export"])
        .arg(&link)
        .run()
        .assert_success();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&real).unwrap(), CUSTOMERS_CSV);

    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
    };
    db.crm()
        .args(["customers", "export"])
        .arg(&fifo)
        .run()
        .assert_success();
    assert_eq!(reader.join().unwrap(), CUSTOMERS_CSV);
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn export_dash_and_no_file_both_write_standard_output() {
    let db = TestDb::migrated();
    seed_customers(&db);
    export(&db, "customers", &["-"])
        .assert_stdout_eq(CUSTOMERS_CSV)
        .assert_stderr_contains("exported 4 customers");
    export(&db, "customers", &[]).assert_stdout_eq(CUSTOMERS_CSV);
    // An empty table still has its header.
    let empty = TestDb::migrated();
    export(&empty, "products", &[])
        .assert_stdout_eq("id,name,description,price,stock,category,image,createdAt,updatedAt\n");
}

#[test]
fn export_search_matches_wildcards_and_quotes_literally() {
    let db = TestDb::migrated();
    import(
        &db,
        "customers",
        "firstName,lastName,email\n\
         Ada,100%,a@x.io\n\
         Bo,1000,b@x.io\n\
         Cy,a_b,c@x.io\n\
         Di,axb,d@x.io\n\
         Ed,\"'; DROP TABLE \"\"Users\"\"; --\",e@x.io\n",
        &[],
    )
    .assert_success();
    let emails = |search: &str| column(&export(&db, "customers", &["--search", search]).stdout, 3);
    assert_eq!(emails("%"), vec!["a@x.io"]);
    assert_eq!(emails("_"), vec!["c@x.io"]);
    assert_eq!(emails("'; DROP TABLE \"Users\"; --"), vec!["e@x.io"]);
    assert_eq!(emails("B@X"), vec!["b@x.io"]);
    assert_eq!(emails("nobody"), Vec::<String>::new());
    assert_eq!(count(&db, "Users"), 0);
    assert_eq!(count(&db, "Customers"), 5);
}

#[test]
fn products_export_takes_list_filters() {
    let db = TestDb::migrated();
    import(&db, "products", PRODUCTS_CSV, &[]).assert_success();
    let ids = |args: &[&str]| column(&export(&db, "products", args).stdout, 0);
    assert_eq!(ids(&["--category", "Tools"]), vec!["3"]);
    assert_eq!(ids(&["--in-stock"]), vec!["3"]);
    assert_eq!(ids(&["--search", "%_"]), vec!["4"]);
    assert_eq!(ids(&["--search", "SILD", "--category", "Food"]), vec!["9"]);
    assert_eq!(ids(&["--category", "'; --"]), Vec::<String>::new());
}

#[test]
fn export_into_a_closed_pipe_is_not_an_error() {
    let db = TestDb::migrated();
    sql(
        &db,
        "INSERT INTO \"Customers\" (\"firstName\", \"email\", \"createdAt\", \"updatedAt\") \
         SELECT 'name ' || i, 'c' || i || '@x.io', now(), now() FROM generate_series(1, 50000) i",
    );
    let mut crm = db.crm();
    crm.args(["customers", "export"]);
    let mut child = crm.spawn();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// Files that must each be refused with exit 2, naming the line and column, writing nothing.
fn bad_files() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str)> {
    let mut corpus: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "wrong type",
            "customers",
            b"id,firstName,totalPurchases\nseven,Ada,1\n".to_vec(),
            "line 2: id: not an id: \"seven\"",
        ),
        (
            "bad timestamp",
            "customers",
            b"firstName,createdAt\nAda,yesterday\n".to_vec(),
            "line 2: createdAt: not a timestamp: \"yesterday\"",
        ),
        (
            "bad e-mail",
            "customers",
            b"firstName,email\nAda,ada@example.com\nBo,bo at example\n".to_vec(),
            "line 3: email: not an e-mail address: \"bo at example\"",
        ),
        (
            "bad phone",
            "customers",
            b"firstName,phone\nAda,call me\n".to_vec(),
            "line 2: phone: not a phone number",
        ),
        (
            "negative price",
            "products",
            b"name,price\nWidget,-1.00\n".to_vec(),
            "line 2: price: must not be negative, got -1.00",
        ),
        (
            "three decimals",
            "products",
            b"name,price\nWidget,1.999\n".to_vec(),
            "line 2: price: at most two decimals, got 1.999",
        ),
        (
            "negative stock",
            "products",
            b"name,price,stock\nWidget,1,-5\n".to_vec(),
            "line 2: stock: must not be negative, got -5",
        ),
        (
            "empty required name",
            "products",
            b"name,price\n,1\n".to_vec(),
            "line 2: name: must not be empty",
        ),
        (
            "empty required price",
            "products",
            b"name,price\nWidget,\n".to_vec(),
            "line 2: price: must not be empty",
        ),
        (
            "invalid UTF-8",
            "customers",
            b"firstName,lastName\nAda,Lovelace\nZo\xeb,x\n".to_vec(),
            "line 3: firstName: not valid UTF-8",
        ),
        (
            "NUL byte",
            "customers",
            b"firstName,lastName\nA\0da,x\n".to_vec(),
            "line 2: firstName: contains a NUL character",
        ),
        (
            "unbalanced quotes",
            "customers",
            b"firstName,lastName,email\nAda,\"Lovelace,ada@x.io\nBo,Bar,bo@x.io\n".to_vec(),
            "line 2: lastName: 2 fields, but the header has 3: a quoted field runs over several lines",
        ),
        (
            "too few fields",
            "customers",
            b"firstName,lastName,email\nAda,Lovelace\n".to_vec(),
            "line 2: 2 fields, but the header has 3",
        ),
        (
            "duplicate header",
            "customers",
            b"email,firstName,Email\nada@x.io,Ada,ada@x.io\n".to_vec(),
            "line 1: header: the column email appears twice",
        ),
        (
            "missing required column",
            "products",
            b"name,stock\nWidget,1\n".to_vec(),
            "line 1: header: the required column price is missing",
        ),
        (
            "unknown column",
            "customers",
            b"firstName,nickname\nAda,Ace\n".to_vec(),
            "line 1: header: unknown column \"nickname\"",
        ),
        (
            "duplicate ids",
            "customers",
            b"id,firstName\n4,Ada\n5,Bo\n4,Cy\n".to_vec(),
            "line 4: id: 4 is also on line 2",
        ),
        (
            "duplicate e-mails, in any case",
            "customers",
            b"firstName,email\nAda,ada@x.io\nBo,bo@x.io\nAda again,ADA@X.io\n".to_vec(),
            "line 4: email: ada@x.io is also on line 2",
        ),
        (
            "semicolon-separated",
            "customers",
            b"firstName;email\nAda;ada@x.io\n".to_vec(),
            "line 1: header: unknown column \"firstName;email\" (crm reads comma-separated files",
        ),
        (
            "UTF-16",
            "customers",
            b"\xff\xfef\x00i\x00r\x00s\x00t\x00\n\x00".to_vec(),
            "line 1: the file is UTF-16",
        ),
        (
            "empty file",
            "customers",
            Vec::new(),
            "standard input is empty: expected a header line",
        ),
    ];
    let mut long = b"firstName,lastName\n".to_vec();
    long.extend("é".repeat(256).as_bytes());
    long.extend(b",x\n");
    corpus.push((
        "256-character name",
        "customers",
        long,
        "line 2: firstName: at most 255 characters, got 256",
    ));
    let mut huge = b"firstName,address\nAda,".to_vec();
    huge.extend(vec![b'a'; 2 * 1024 * 1024]);
    huge.extend(b"\nBo,\"");
    huge.extend(vec![b'b'; 20 * 1024 * 1024]);
    corpus.push((
        "huge field in an unclosed quote",
        "customers",
        huge,
        "line 3: the row is longer than 16 MiB (is a quote left open?)",
    ));
    corpus
}

#[test]
fn every_bad_file_exits_2_naming_the_line_and_column_and_writes_nothing() {
    let db = TestDb::migrated();
    seed_customers(&db);
    import(&db, "products", PRODUCTS_CSV, &[]).assert_success();
    let before = (rows(&db, "Customers"), rows(&db, "Products"));
    for (what, entity, csv, expected) in bad_files() {
        let out = import(&db, entity, csv, &[]);
        assert_eq!(out.code(), 2, "{what}: expected exit 2\n\n{out}");
        assert!(
            out.stderr.contains(expected),
            "{what}: expected stderr to contain {expected:?}\n\n{out}"
        );
        assert_eq!(
            (rows(&db, "Customers"), rows(&db, "Products")),
            before,
            "{what}: something was written"
        );
    }
}

#[test]
fn every_bad_row_is_listed_and_the_listing_is_capped() {
    let db = TestDb::migrated();
    let mut csv = String::from("firstName,email\n");
    for i in 0..120 {
        csv.push_str(&format!("n{i},not-an-email-{i}\n"));
    }
    csv.push_str("Good,good@x.io\n");
    let out = import(&db, "customers", csv, &[]);
    out.assert_code(2)
        .assert_stderr_contains("line 2: email: not an e-mail address: \"not-an-email-0\"")
        .assert_stderr_contains("line 51: email:")
        .assert_stderr_contains("... and 70 more")
        .assert_stderr_contains(
            "error: 120 of 121 rows in standard input are invalid; nothing was imported",
        );
    assert!(!out.stderr.contains("line 52:"), "{out}");
    assert_eq!(count(&db, "Customers"), 0);
}

#[test]
fn dry_run_writes_nothing_and_says_what_would_be_imported() {
    let db = TestDb::migrated();
    seed_customers(&db);
    let before = rows(&db, "Customers");
    let file = "id,firstName,email\n1,Ada,ada@example.com\n,New,new@x.io\n,Zoe,ZOE@example.com\n";
    import(&db, "customers", file, &["--dry-run", "--on-conflict", "update"])
        .assert_success()
        .assert_stderr_contains(
            "dry run: would import 3 customers from standard input (1 added, 2 updated); nothing was written",
        );
    // Under the default, the dry run foresees the conflicts.
    import(&db, "customers", file, &["--dry-run"])
        .assert_code(5)
        .assert_stderr_contains("line 2: id: customer 1 already exists")
        .assert_stderr_contains(
            "line 4: email: a customer with the e-mail zoe@example.com already exists",
        );
    // And bad rows.
    import(&db, "customers", "email\nnope\n", &["--dry-run"]).assert_code(2);
    assert_eq!(rows(&db, "Customers"), before);
    // Nothing was taken from the sequence either.
    sql(
        &db,
        "INSERT INTO \"Customers\" (\"firstName\", \"createdAt\", \"updatedAt\") VALUES ('x', now(), now())",
    );
    let id: i32 = db
        .client()
        .query_one("SELECT max(id) FROM \"Customers\"", &[])
        .unwrap()
        .get(0);
    assert_eq!(id, 8);
}

#[test]
fn skip_invalid_imports_the_good_rows_and_writes_the_bad_ones_to_rejects() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let file = "Email,firstName\n\
                ada@x.io,Ada\n\
                bad,\"Bo, \"\"the\"\" bad\"\n\
                ADA@x.io,Ada again\n\
                cy@x.io,Cy\n";
    let out = db
        .crm()
        .args(["customers", "import", "-", "--skip-invalid", "--rejects"])
        .arg(&rejects)
        .stdin(file)
        .run();
    out.assert_success()
        .assert_stderr_contains("line 3: email: not an e-mail address: \"bad\"")
        .assert_stderr_contains(&format!(
            "imported 2 customers from standard input (2 added); 2 invalid rows skipped, written to {}",
            rejects.display()
        ));
    assert_eq!(
        fs::read_to_string(&rejects).unwrap(),
        "Email,firstName,_line,_error\n\
         bad,\"Bo, \"\"the\"\" bad\",3,\"email: not an e-mail address: \"\"bad\"\"\"\n\
         ADA@x.io,Ada again,4,email: ada@x.io is also on line 2\n"
    );
    let emails: Vec<String> = db
        .client()
        .query("SELECT email FROM \"Customers\" ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(emails, vec!["ada@x.io", "cy@x.io"]);

    // The rejects file, corrected, imports as it is: _line and _error are ignored.
    let fixed = fs::read_to_string(&rejects)
        .unwrap()
        .replace("bad,", "bo@x.io,")
        .replace("ADA@x.io", "ada2@x.io");
    import(&db, "customers", fixed, &[])
        .assert_success()
        .assert_stderr_contains("imported 2 customers");
    assert_eq!(count(&db, "Customers"), 4);
}

/// What crm sends the server for a timestamp is its RFC 3339 text in UTC, which PostgreSQL takes
/// from year 1 (it has no year 0: `0000-...` is refused) to 9999: a time outside that, in the
/// file or once moved to UTC, is a bad row with its line, not a server error at the end. The
/// first and last times that are fine are imported as they are.
const FAR_ENDS: [(&str, Option<&str>); 6] = [
    ("2025-07-01T09:30:00Z", None),
    ("0000-06-01T00:00:00Z", Some("0000-06-01T00:00:00Z")),
    ("0001-01-01T00:00:00Z", None),
    (
        "0001-01-01T00:30:00+01:00",
        Some("0001-01-01T00:30:00+01:00"),
    ),
    ("9999-12-31T23:59:59.999999Z", None),
    (
        "9999-12-31T23:00:00-02:00",
        Some("9999-12-31T23:00:00-02:00"),
    ),
];

/// A file of `entity` with one row per [`FAR_ENDS`] time as its `createdAt`.
fn far_ends_file(entity: &str) -> String {
    let mut file = match entity {
        "customers" => "firstName,email,createdAt\n",
        _ => "name,price,createdAt\n",
    }
    .to_string();
    for (i, (time, _)) in FAR_ENDS.iter().enumerate() {
        file.push_str(&match entity {
            "customers" => format!("C{i},c{i}@x.io,{time}\n"),
            _ => format!("P{i},1.00,{time}\n"),
        });
    }
    file
}

fn out_of_range(time: &str) -> String {
    format!(
        "createdAt: out of range: \"{time}\" (expected a time from 0001-01-01T00:00:00Z to \
         9999-12-31T23:59:59.999999Z in UTC; PostgreSQL has no year 0)"
    )
}

#[test]
fn a_timestamp_the_server_would_refuse_is_a_bad_row_with_its_line() {
    let db = TestDb::migrated();
    for (entity, table) in [("customers", "Customers"), ("products", "Products")] {
        let file = far_ends_file(entity);
        // All or nothing: each bad row named, nothing written.
        let out = import(&db, entity, file.clone(), &[]);
        out.assert_code(2);
        for (i, (_, bad)) in FAR_ENDS.iter().enumerate() {
            if let Some(time) = bad {
                out.assert_stderr_contains(&format!("line {}: {}", i + 2, out_of_range(time)));
            }
        }
        assert_eq!(count(&db, table), 0, "{out}");

        // --skip-invalid: the others imported, the bad ones in the rejects file.
        let dir = tempfile::tempdir().unwrap();
        let rejects = dir.path().join("rejects.csv");
        let out = db
            .crm()
            .args([entity, "import", "-", "--skip-invalid", "--rejects"])
            .arg(&rejects)
            .stdin(file)
            .run();
        out.assert_success()
            .assert_stderr_contains(&format!("imported 3 {entity}"));
        let rejected = fs::read_to_string(&rejects).unwrap();
        let lines: Vec<String> = csv::Reader::from_reader(rejected.as_bytes())
            .records()
            .map(|r| {
                let r = r.unwrap();
                format!("{}: {}", &r[3], &r[4])
            })
            .collect();
        let expected: Vec<String> = FAR_ENDS
            .iter()
            .enumerate()
            .filter_map(|(i, (_, bad))| bad.map(|t| format!("{}: {}", i + 2, out_of_range(t))))
            .collect();
        assert_eq!(lines, expected, "{out}");
        let stored: Vec<String> = db
            .client()
            .query(
                &format!(
                    r#"SELECT to_char("createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
                       FROM "{table}" ORDER BY "id""#
                ),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            stored,
            [
                "2025-07-01 09:30:00.000000",
                "0001-01-01 00:00:00.000000",
                "9999-12-31 23:59:59.999999"
            ]
        );
    }
}

#[test]
fn skip_invalid_needs_a_rejects_file() {
    let db = TestDb::migrated();
    import(&db, "customers", "email\na@x.io\n", &["--skip-invalid"]).assert_code(2);
}

#[test]
fn on_conflict_error_exits_5_naming_the_key_and_imports_nothing() {
    let db = TestDb::migrated();
    seed_customers(&db);
    let before = rows(&db, "Customers");
    import(&db, "customers", "id,firstName\n10,New\n5,Li again\n", &[])
        .assert_code(5)
        .assert_stderr_contains("line 3: id: customer 5 already exists")
        .assert_stderr_contains(
            "error: 1 customer of standard input already exists; nothing was imported",
        );
    // A customer without an id is known by e-mail, whatever its case.
    import(
        &db,
        "customers",
        "email,firstName\nADA@Example.com,Ada\n",
        &[],
    )
    .assert_code(5)
    .assert_stderr_contains(
        "line 2: email: a customer with the e-mail ada@example.com already exists",
    );
    assert_eq!(rows(&db, "Customers"), before);
}

#[test]
fn on_conflict_skip_leaves_existing_rows_as_they_are() {
    let db = TestDb::migrated();
    seed_customers(&db);
    let before = rows(&db, "Customers");
    import(
        &db,
        "customers",
        "id,firstName,email\n1,Changed,x@x.io\n20,New,new@x.io\n,Zed,ZOE@example.com\n,Yan,yan@x.io\n",
        &["--on-conflict", "skip"],
    )
    .assert_success()
    .assert_stderr_contains(
        "imported 2 customers from standard input (2 added, 2 skipped (already there))",
    );
    let after = rows(&db, "Customers");
    assert_eq!(after.len(), 6);
    assert_eq!(after[..4], before[..]);
    assert!(after[4].contains("\"id\":20"), "{after:?}");
    assert!(
        after[5].contains("\"id\":21") && after[5].contains("yan@x.io"),
        "{after:?}"
    );
}

#[test]
fn on_conflict_update_overwrites_the_files_columns_only() {
    let db = TestDb::migrated();
    seed_customers(&db);
    import(
        &db,
        "customers",
        "id,firstName,totalPurchases\n1,Ada Changed,\n30,New,5\n",
        &["--on-conflict", "update"],
    )
    .assert_success()
    .assert_stderr_contains("imported 2 customers from standard input (1 added, 1 updated)")
    .assert_stderr_contains(
        "warning: line 3: totalPurchases: 5.00 given, but a new customer has no orders: stored 0.00",
    );
    let ada = db
        .client()
        .query_one(
            "SELECT \"firstName\", \"lastName\", \"totalPurchases\"::text, \"createdAt\" = '2025-07-01T09:30:00Z', \
             \"updatedAt\" > now() - interval '1 minute' FROM \"Customers\" WHERE id = 1",
            &[],
        )
        .unwrap();
    assert_eq!(ada.get::<_, String>(0), "Ada Changed");
    // Columns the file does not have are kept; totalPurchases, derived, is the sum of no
    // orders; updatedAt moves.
    assert_eq!(ada.get::<_, String>(1), "O'Brien, \"Bo\"");
    assert_eq!(ada.get::<_, Option<String>>(2).as_deref(), Some("0.00"));
    assert!(ada.get::<_, bool>(3));
    assert!(ada.get::<_, bool>(4));

    // By e-mail, case-insensitively, for rows without an id.
    import(
        &db,
        "customers",
        "email,phone\nZOE@example.com,555 0000\n",
        &["--on-conflict", "update"],
    )
    .assert_success()
    .assert_stderr_contains("(0 added, 1 updated)");
    let phone: String = db
        .client()
        .query_one("SELECT phone FROM \"Customers\" WHERE id = 2", &[])
        .unwrap()
        .get(0);
    assert_eq!(phone, "555 0000");
    assert_eq!(count(&db, "Customers"), 5);
}

#[test]
fn hand_made_csv_with_a_bom_crlf_and_header_in_another_case_and_order() {
    let db = TestDb::migrated();
    let csv = "\u{feff}PRICE,Name,CATEGORY\r\n19.9,Widget,Tools\r\n\"2\",\"Gadget\r\nXL\",\r\n";
    import(&db, "products", csv, &[])
        .assert_success()
        .assert_stderr_contains("imported 2 products");
    let products: Vec<(String, String, Option<String>, i32)> = db
        .client()
        .query(
            "SELECT name, price::text, category, stock FROM \"Products\" ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        products,
        vec![
            ("Widget".into(), "19.90".into(), Some("Tools".into()), 0),
            ("Gadget\r\nXL".into(), "2.00".into(), None, 0),
        ]
    );
}

#[test]
fn missing_ids_timestamps_and_totals_come_from_the_sequence_now_and_zero() {
    let db = TestDb::migrated();
    import(
        &db,
        "customers",
        "email,firstName\nb@x.io,B\na@x.io,A\n",
        &[],
    )
    .assert_success();
    let row = db
        .client()
        .query_one(
            "SELECT array_agg(id ORDER BY id)::text, array_agg(email ORDER BY id)::text, \
             bool_and(\"totalPurchases\" = 0), bool_and(\"createdAt\" > now() - interval '1 minute'), \
             bool_and(\"updatedAt\" = \"createdAt\") FROM \"Customers\"",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "{1,2}");
    // In the file's order.
    assert_eq!(row.get::<_, String>(1), "{b@x.io,a@x.io}");
    assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3) && row.get::<_, bool>(4));
}

#[test]
fn explicit_ids_move_the_sequence_past_the_largest() {
    let db = TestDb::migrated();
    import(&db, "products", "id,name,price\n41,A,1\n,B,2\n7,C,3\n", &[]).assert_success();
    sql(
        &db,
        "INSERT INTO \"Products\" (name, price, \"createdAt\", \"updatedAt\") VALUES ('plain SQL', 1, now(), now())",
    );
    let ids: Vec<(i32, String)> = db
        .client()
        .query("SELECT id, name FROM \"Products\" ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        ids,
        vec![
            (7, "C".to_string()),
            (41, "A".to_string()),
            (42, "B".to_string()),
            (43, "plain SQL".to_string()),
        ]
    );
    // Rows without an id are numbered after the file's largest id, so they never collide with
    // one; a later import of lower ids does not move the sequence back.
    import(&db, "products", "id,name,price\n3,D,1\n", &[]).assert_success();
    sql(
        &db,
        "INSERT INTO \"Products\" (name, price, \"createdAt\", \"updatedAt\") VALUES ('next', 1, now(), now())",
    );
    let max: i32 = db
        .client()
        .query_one("SELECT max(id) FROM \"Products\"", &[])
        .unwrap()
        .get(0);
    assert_eq!(max, 44);
}

#[test]
fn import_reads_a_file_or_standard_input() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("products.csv");
    fs::write(&file, PRODUCTS_CSV).unwrap();
    db.crm()
        .args(["products", "import"])
        .arg(&file)
        .run()
        .assert_success()
        .assert_stderr_contains(&format!("imported 3 products from {}", file.display()));
    let other = TestDb::migrated();
    import(&other, "products", PRODUCTS_CSV, &[])
        .assert_success()
        .assert_stderr_contains("imported 3 products from standard input (3 added)");
    assert_eq!(rows(&db, "Products"), rows(&other, "Products"));
    db.crm()
        .args(["products", "import"])
        .arg(dir.path().join("nope.csv"))
        .run()
        .assert_code(3)
        .assert_stderr_contains("nope.csv: no such file");
}

#[test]
fn a_piped_import_prints_only_its_summary() {
    let db = TestDb::migrated();
    let out = import(&db, "products", PRODUCTS_CSV, &[]);
    out.assert_success();
    assert_eq!(
        out.stderr, "imported 3 products from standard input (3 added)\n",
        "no progress bar when stderr is not a terminal"
    );
    let quiet = db.crm().args(["-q", "products", "export"]).run();
    quiet.assert_success();
    assert_eq!(quiet.stderr, "");
    assert!(Path::new(env!("CARGO_BIN_EXE_crm")).exists());
}

/// `count` customers, and the planner's statistics of them exact (VACUUM counts every row).
fn many_customers(db: &TestDb, count: u32) {
    sql(
        db,
        &format!(
            r#"INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
               SELECT 'Ada', 'Lovelace', 'ada' || i || '@example.com', now(), now()
               FROM generate_series(1, {count}) AS i"#
        ),
    );
    sql(db, r#"VACUUM ANALYZE "Customers""#);
}

/// Runs `shell` (a command line naming crm as `crm`) on a pseudo-terminal, as a person would
/// type it, pipes and all: the screen, as the terminal shows it (stdout and stderr).
fn screen_of(shell: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let crm = env!("CARGO_BIN_EXE_crm");
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &shell.replace("crm ", &format!("'{crm}' ")),
            "/dev/null",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TERM", "xterm")
        .env("COLUMNS", "100")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the terminal tests need util-linux's script");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rows written to stdout reach the terminal, directly or through the pipe's reader: no
/// progress is drawn among them (it used to leave `exporting customers: 0 rows` among the
/// lines `head` printed).
#[test]
fn an_export_to_stdout_draws_no_progress_among_its_rows_on_a_terminal() {
    let db = TestDb::migrated();
    many_customers(&db, 50_000);

    let screen = screen_of(&format!(
        "crm --database-url '{}' customers export - | head -3",
        db.url()
    ));
    assert!(!screen.contains("exporting"), "{screen}");
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines.len(), 3, "{screen}");
    assert!(lines[0].starts_with("id,firstName,lastName"), "{screen}");
    assert!(lines[1].contains("@example.com"), "{screen}");

    let (code, screen) = crate::harness::crm_on_terminal(
        &["--database-url", &db.url(), "customers", "export", "-"],
        "",
    );
    assert_eq!(code, 0, "{}", &screen[screen.len().saturating_sub(500)..]);
    assert!(!screen.contains("exporting"), "a bar among the rows");
    assert!(screen.contains("exported 50,000 customers"));

    // Into a file, through a redirection, the bar is back.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    let screen = screen_of(&format!(
        "crm --database-url '{}' customers export - > '{}'",
        db.url(),
        file.display()
    ));
    assert!(screen.contains("exporting customers"), "{screen}");
    assert_eq!(fs::read_to_string(&file).unwrap().lines().count(), 50_001);
}

/// The bar's length is the planner's estimate of the rows, said to be one.
#[test]
fn an_export_on_a_terminal_shows_the_planners_estimate_of_the_rows() {
    let db = TestDb::migrated();
    many_customers(&db, 50_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv").display().to_string();

    let (code, screen) = crate::harness::crm_on_terminal(
        &["--database-url", &db.url(), "customers", "export", &file],
        "",
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("exporting customers ["), "{screen}");
    assert!(screen.contains(" of about 50,000"), "{screen}");
    assert!(screen.contains("exported 50,000 customers"), "{screen}");

    // A filter's estimate is the planner's for the filtered query (every row matches here).
    let (code, screen) = crate::harness::crm_on_terminal(
        &[
            "--database-url",
            &db.url(),
            "customers",
            "export",
            &file,
            "--search",
            "Lovelace",
        ],
        "",
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains(" of about "), "{screen}");
}

/// A customers file of `n` rows with distinct ids and e-mails, except that the last row repeats
/// the first one's key: its id when `by_id`, else (no id column) its e-mail, in another case.
fn far_apart_duplicate(n: u32, by_id: bool) -> String {
    let mut csv = String::from(if by_id {
        "id,firstName,email\n"
    } else {
        "firstName,email\n"
    });
    for i in 1..n {
        if by_id {
            csv.push_str(&format!("{i},C{i},c{i}@x.io\n"));
        } else {
            csv.push_str(&format!("C{i},c{i}@x.io\n"));
        }
    }
    csv.push_str(if by_id {
        "1,Last,last@x.io\n"
    } else {
        "Last,C1@X.io\n"
    });
    csv
}

/// Duplicate keys are found where the rows are (the import's staging table), so at any
/// distance: the first and the last line of a 200,000-row file, both named.
#[test]
fn a_duplicate_key_is_found_at_any_distance_and_both_lines_are_named() {
    let db = TestDb::migrated();
    let last = 200_001; // the header is line 1
    import(&db, "customers", far_apart_duplicate(200_000, true), &[])
        .assert_code(2)
        .assert_stderr_contains(&format!("line {last}: id: 1 is also on line 2"))
        .assert_stderr_contains("error: 1 of 200,000 rows in standard input is invalid");
    import(&db, "customers", far_apart_duplicate(200_000, false), &[])
        .assert_code(2)
        .assert_stderr_contains(&format!("line {last}: email: c1@x.io is also on line 2"));
    assert_eq!(count(&db, "Customers"), 0);

    // With --skip-invalid the later row goes to the rejects file as the file had it.
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    db.crm()
        .args(["customers", "import", "-", "--skip-invalid", "--rejects"])
        .arg(&rejects)
        .stdin(far_apart_duplicate(200_000, false))
        .run()
        .assert_success()
        .assert_stderr_contains(
            "imported 199,999 customers from standard input (199,999 added); 1 invalid row skipped",
        );
    assert_eq!(
        fs::read_to_string(&rejects).unwrap(),
        format!(
            "firstName,email,_line,_error\nLast,C1@X.io,{last},email: c1@x.io is also on line 2\n"
        )
    );
    assert_eq!(count(&db, "Customers"), 199_999);
}

/// Duplicates are found after the other problems, but listed with them by line.
#[test]
fn duplicates_and_bad_values_are_listed_together_by_line() {
    let db = TestDb::migrated();
    import(
        &db,
        "customers",
        "id,email\n1,a@x.io\n2,nope\n1,b@x.io\n3,\"x,y\"\n",
        &[],
    )
    .assert_code(2)
    .assert_stderr_contains(
        "line 3: email: not an e-mail address: \"nope\"\n\
         line 4: id: 1 is also on line 2\n\
         line 5: email: not an e-mail address",
    )
    .assert_stderr_contains("error: 3 of 4 rows in standard input are invalid");
    assert_eq!(count(&db, "Customers"), 0);
}

/// totalPurchases is derived from the customer's completed orders (`db check` holds it so): an
/// import stores that sum, never the file's, and names each row whose value differed. Issue
/// 15's reproduction: customer 1 given 9999.99 left `db check` exiting 1.
#[test]
fn import_stores_total_purchases_from_the_orders_and_says_where_the_file_differed() {
    let db = TestDb::migrated();
    sql(&db, crate::check::CLEAN); // Ada (1): completed orders 40.28; Grace (2): none
    let file = "id,firstName,lastName,email,totalPurchases\n\
                1,John,Doe,john.doe@example.com,9999.99\n\
                ,Grace,Hopper,GRACE@navy.mil,3.00\n\
                ,New,Person,new@x.io,12.00\n\
                ,Zero,Person,zero@x.io,0.00\n";
    let dry = import(
        &db,
        "customers",
        file,
        &["--on-conflict", "update", "--dry-run"],
    );
    dry.assert_success().assert_stderr_contains(
        "warning: line 2: totalPurchases: 9999.99 given, but customer 1's completed orders sum \
         to 40.28: would store 40.28",
    );
    import(&db, "customers", file, &["--on-conflict", "update"])
        .assert_success()
        .assert_stderr_contains(
            "warning: line 2: totalPurchases: 9999.99 given, but customer 1's completed orders \
             sum to 40.28: stored 40.28\n\
             warning: line 3: totalPurchases: 3.00 given, but customer 2's completed orders sum \
             to 0.00: stored 0.00\n\
             warning: line 4: totalPurchases: 12.00 given, but a new customer has no orders: \
             stored 0.00\n\
             warning: 3 rows give a totalPurchases other than the customer's completed orders",
        )
        .assert_stderr_contains("imported 4 customers from standard input (2 added, 2 updated)");
    let totals: String = db
        .client()
        .query_one(
            r#"SELECT string_agg("firstName" || '=' || "totalPurchases", ',' ORDER BY "id")
               FROM "Customers""#,
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(totals, "John=40.28,Grace=0.00,New=0.00,Zero=0.00");
    db.crm().args(["db", "check"]).run().assert_success();

    // Rows that --on-conflict skip leaves alone are not written, so not reported.
    let skipped = import(&db, "customers", file, &["--on-conflict", "skip"]);
    skipped.assert_success();
    assert!(!skipped.stderr.contains("line 2"), "{skipped}");
}

/// A derived totalPurchases that DECIMAL(10,2) cannot hold (completed orders summing past
/// 99,999,999.99) failed the import with the server's bare "numeric field overflow". It is bad
/// data, exit 2, naming each row, its customer, the sum and the limit, whether the file gave
/// a value or left it empty and whatever the row's key; nothing is written, dry run or not.
#[test]
fn a_derived_total_purchases_beyond_decimal_10_2_is_refused_naming_the_customer() {
    let db = TestDb::migrated();
    sql(&db, crate::check::CLEAN);
    sql(
        &db,
        r#"UPDATE "Orders" SET "total" = 60000000.00 WHERE "id" IN (1, 2);
           UPDATE "Orders" SET "status" = 'completed' WHERE "id" = 3;
           INSERT INTO "Orders" ("id", "customerId", "createdBy", "status", "total",
                                 "createdAt", "updatedAt")
             VALUES (4, 2, 1, 'completed', 99999999.99, now(), now());"#,
    );
    let before = rows(&db, "Customers");
    let file = "id,firstName,email,totalPurchases\n\
                1,Ada,ada@example.com,40.28\n\
                ,Grace,GRACE@navy.mil,\n\
                ,New,new@x.io,\n";
    for extra in [&["--dry-run"][..], &[]] {
        import(
            &db,
            "customers",
            file,
            &[&["--on-conflict", "update"], extra].concat(),
        )
        .assert_code(2)
        .assert_stderr_contains(
            "line 2: totalPurchases: customer 1's completed orders sum to 120000000.00, \
                 more than 99999999.99 (the most DECIMAL(10,2) holds)\n\
                 line 3: totalPurchases: customer 2's completed orders sum to 100000005.29, \
                 more than 99999999.99 (the most DECIMAL(10,2) holds)\n\
                 error: 2 rows of standard input would set a totalPurchases beyond 99999999.99; \
                 nothing was imported",
        );
        assert_eq!(rows(&db, "Customers"), before);
    }
    // Without the column the import leaves the totals as they are.
    import(
        &db,
        "customers",
        "id,firstName\n1,Ada\n",
        &["--on-conflict", "update"],
    )
    .assert_success()
    .assert_stderr_contains("(0 added, 1 updated)");
}
