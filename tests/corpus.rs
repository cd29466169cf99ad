//! The corpus of bad and hostile CSV files in `tests/corpus/`, run through the real `crm
//! customers import` and `crm products import` against a database that already holds rows.
//!
//! Every file directly in `tests/corpus/<entity>/` is bad: it must exit 2 with a message naming
//! the line (and the column, where there is one) and the problem, and leave the table exactly
//! as it was (a checksum of its sorted rows and its id sequence), with and without `--dry-run`.
//! The table below says what each file's message must contain, and every file must be in it.
//!
//! The files in `tests/corpus/<entity>/good/` are hostile but legitimate: text that a
//! spreadsheet would run as a formula (`=cmd|' /C calc'!A0`), SQL, markup, COPY's own escapes,
//! bidirectional overrides. In a text column such a value is data, so crm stores it exactly as
//! given and exports it back byte for byte (`--safe-spreadsheet` is for people who open the
//! export in a spreadsheet). A formula in a typed column (price, stock, e-mail) is bad like any
//! other wrong value. A file holding only a header is good too: it imports nothing.
//!
//! A 10 MB line is made at run time rather than committed.

use crate::harness::{Output, TestDb};
use std::fs;
use std::path::{Path, PathBuf};

/// What each bad customers file's stderr must contain.
const BAD_CUSTOMERS: &[(&str, &str)] = &[
    ("id-text.csv", "line 3: id: not an id: \"seven\""),
    ("id-zero.csv", "line 2: id: not an id: \"0\""),
    ("id-float.csv", "line 2: id: not an id: \"12.0\""),
    ("id-duplicate.csv", "line 4: id: 201 is also on line 2"),
    (
        "total-text.csv",
        "line 2: totalPurchases: not an amount: \"lots\"",
    ),
    (
        "total-negative.csv",
        "line 3: totalPurchases: must not be negative, got -5.00",
    ),
    (
        "total-three-decimals.csv",
        "line 2: totalPurchases: at most two decimals, got 1.005",
    ),
    (
        "total-formula.csv",
        "line 2: totalPurchases: not an amount: \"=SUM(A1:A9)\"",
    ),
    (
        "created-not-a-date.csv",
        "line 2: createdAt: not a timestamp: \"2025-02-30\"",
    ),
    (
        "updated-words.csv",
        "line 2: updatedAt: not a timestamp: \"next tuesday\"",
    ),
    (
        "first-name-256.csv",
        "line 2: firstName: at most 255 characters, got 256",
    ),
    (
        "last-name-256-multibyte.csv",
        "line 2: lastName: at most 255 characters, got 256",
    ),
    (
        "email-too-long.csv",
        "line 2: email: at most 255 characters, got 262",
    ),
    (
        "email-too-long-lower-cased.csv",
        "line 2: email: at most 255 characters once lower-cased, got 492",
    ),
    (
        "email-bad.csv",
        "line 3: email: not an e-mail address: \"bo@@corpus.test\"",
    ),
    (
        "email-no-domain-dot.csv",
        "line 2: email: not an e-mail address: \"ada@localhost\"",
    ),
    (
        "email-formula.csv",
        "line 2: email: not an e-mail address: \"=cmd|' /C calc'!A0\"",
    ),
    ("phone-words.csv", "line 2: phone: not a phone number"),
    (
        "invalid-utf8.csv",
        "line 3: lastName: not valid UTF-8 (byte 0xC3 at position 3",
    ),
    (
        "invalid-utf8-header.csv",
        "line 1: header: a column name is not valid UTF-8",
    ),
    ("nul-byte.csv", "line 2: address: contains a NUL character"),
    (
        "quote-unbalanced.csv",
        "line 2: lastName: 2 fields, but the header has 3: a quoted field runs over several lines",
    ),
    (
        "quote-unbalanced-last-line.csv",
        "line 3: lastName: a quote is left open: the field runs to the end of the file",
    ),
    (
        "header-duplicate.csv",
        "line 1: header: the column email appears twice",
    ),
    (
        "header-unknown-column.csv",
        "line 1: header: unknown column \"nickname\"",
    ),
    (
        "header-no-known-column.csv",
        "line 1: header: none of the columns id,firstName,",
    ),
    ("header-utf16.csv", "line 1: the file is UTF-16"),
    (
        "header-semicolons.csv",
        "line 1: header: unknown column \"firstName;lastName\" (crm reads comma-separated files",
    ),
    ("empty.csv", "empty.csv is empty: expected a header line"),
    (
        "fields-too-many.csv",
        "line 3: 3 fields, but the header has 2",
    ),
    (
        "fields-too-few.csv",
        "line 2: 2 fields, but the header has 3",
    ),
    (
        "crlf-bom-bad-line-4.csv",
        "line 4: email: not an e-mail address: \"not an e-mail\"",
    ),
    (
        "blank-lines-then-bad-line-5.csv",
        "line 5: email: not an e-mail address: \"bo at corpus.test\"",
    ),
    (
        "blank-lines-only.csv",
        "blank-lines-only.csv is empty: expected a header line",
    ),
    (
        "multiline-field-then-bad-line-4.csv",
        "line 4: totalPurchases: not an amount: \"1.2.3\"",
    ),
];

/// What each bad products file's stderr must contain.
const BAD_PRODUCTS: &[(&str, &str)] = &[
    ("id-text.csv", "line 2: id: not an id: \"abc\""),
    ("id-duplicate.csv", "line 3: id: 301 is also on line 2"),
    ("price-text.csv", "line 2: price: not an amount: \"cheap\""),
    (
        "price-negative.csv",
        "line 3: price: must not be negative, got -0.01",
    ),
    (
        "price-three-decimals.csv",
        "line 2: price: at most two decimals, got 19.999",
    ),
    (
        "price-too-large.csv",
        "line 2: price: at most 99999999.99, got 100000000.00",
    ),
    (
        "price-decimal-comma.csv",
        "line 2: price: not an amount: \"19,99\"",
    ),
    (
        "price-exponent.csv",
        "line 2: price: not an amount: \"1e3\"",
    ),
    (
        "price-formula.csv",
        "line 2: price: not an amount: \"=1+1\"",
    ),
    ("price-empty.csv", "line 2: price: must not be empty"),
    (
        "stock-text.csv",
        "line 2: stock: not a whole number: \"many\"",
    ),
    (
        "stock-float.csv",
        "line 2: stock: not a whole number: \"1.5\"",
    ),
    (
        "stock-negative.csv",
        "line 2: stock: must not be negative, got -5",
    ),
    (
        "stock-overflow.csv",
        "line 2: stock: at most 2147483647, got 2147483648",
    ),
    (
        "stock-formula.csv",
        "line 2: stock: not a whole number: \"@SUM(A1)\"",
    ),
    (
        "created-not-a-date.csv",
        "line 2: createdAt: not a timestamp: \"2025-13-01\"",
    ),
    ("name-blank.csv", "line 2: name: must not be empty"),
    (
        "name-256.csv",
        "line 2: name: at most 255 characters, got 256",
    ),
    (
        "category-256.csv",
        "line 2: category: at most 255 characters, got 256",
    ),
    (
        "image-300.csv",
        "line 2: image: at most 255 characters, got 300",
    ),
    (
        "invalid-utf8.csv",
        "line 3: name: not valid UTF-8 (byte 0xE9 at position 4",
    ),
    (
        "nul-byte.csv",
        "line 2: description: contains a NUL character",
    ),
    (
        "quote-unbalanced.csv",
        "line 3: name: 1 fields, but the header has 3: a quoted field runs over several lines",
    ),
    (
        "header-duplicate.csv",
        "line 1: header: the column price appears twice",
    ),
    (
        "header-missing-price.csv",
        "line 1: header: the required column price is missing",
    ),
    (
        "header-missing-name.csv",
        "line 1: header: the required column name is missing",
    ),
    (
        "header-unknown-column.csv",
        "line 1: header: unknown column \"colour\"",
    ),
    ("empty.csv", "empty.csv is empty: expected a header line"),
    (
        "bom-only.csv",
        "bom-only.csv is empty: expected a header line",
    ),
    (
        "fields-too-many.csv",
        "line 2: 3 fields, but the header has 2",
    ),
    (
        "fields-too-few.csv",
        "line 2: 2 fields, but the header has 3",
    ),
];

/// The corpus folder of an entity.
fn corpus(entity: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(entity)
}

/// The `.csv` files directly in `dir`, by name.
fn csv_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry"))
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".csv"))
        .collect();
    names.sort();
    names
}

/// The table's rows, sorted by id, and its id sequence, as one checksum: "exactly as before".
fn checksum(db: &TestDb, table: &str) -> String {
    db.client()
        .query_one(
            &format!(
                r#"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t."id")), '-')
                          || ' ' || (SELECT last_value || ' ' || is_called
                                     FROM "{table}_id_seq")
                   FROM "{table}" t"#
            ),
            &[],
        )
        .expect("checksum the table")
        .get(0)
}

fn import(db: &TestDb, entity: &str, file: &Path, dry_run: bool) -> Output {
    let mut crm = db.crm();
    crm.args([entity, "import"]).arg(file);
    if dry_run {
        crm.arg("--dry-run");
    }
    crm.run()
}

/// Imports the good files (hostile text, a header alone) into an empty table, checks that the
/// export gives back exactly their rows, then runs every bad file against that table.
fn run_corpus(entity: &str, table: &str, bad: &[(&str, &str)], huge: &[(&str, Vec<u8>, String)]) {
    let db = TestDb::migrated();
    let dir = corpus(entity);

    let good = dir.join("good");
    let mut expected = None::<String>;
    for name in csv_files(&good) {
        let path = good.join(&name);
        import(&db, entity, &path, false).assert_success();
        let text = fs::read_to_string(&path).expect("a good file is UTF-8");
        let (header, rows) = text.split_once('\n').expect("a good file has a header");
        let all = expected.get_or_insert_with(|| format!("{header}\n"));
        all.push_str(rows);
    }
    let expected = expected.expect("good files");
    assert!(
        expected.lines().count() > 3,
        "the good files hold rows: {expected}"
    );
    db.crm()
        .args([entity, "export"])
        .run()
        .assert_success()
        .assert_stdout_eq(&expected);
    let before = checksum(&db, table);

    let listed: Vec<&str> = bad.iter().map(|(name, _)| *name).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        csv_files(&dir),
        sorted,
        "every bad file of {} is in the table, and only those",
        dir.display()
    );
    let made = tempfile::tempdir().expect("a temporary folder");
    let mut cases: Vec<(PathBuf, String)> = bad
        .iter()
        .map(|(name, message)| (dir.join(name), message.to_string()))
        .collect();
    for (name, bytes, message) in huge {
        let path = made.path().join(name);
        fs::write(&path, bytes).expect("write a generated file");
        cases.push((path, message.clone()));
    }
    // Every file is run before failing, so that one run lists everything that is wrong.
    let mut failures = Vec::new();
    for (path, message) in &cases {
        for dry_run in [false, true] {
            let out = import(&db, entity, path, dry_run);
            let what = format!(
                "{}{}",
                path.display(),
                if dry_run { " --dry-run" } else { "" }
            );
            if out.code() != 2 {
                failures.push(format!("{what}: expected exit 2\n\n{out}"));
            } else if !out.stderr.contains(message.as_str()) {
                failures.push(format!(
                    "{what}: expected stderr to contain {message:?}\n\n{out}"
                ));
            } else if !out.stdout.is_empty() {
                failures.push(format!("{what}: printed on stdout\n\n{out}"));
            }
            if checksum(&db, table) != before {
                panic!("{what}: something was written\n\n{out}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n\n{}",
        failures.len(),
        cases.len() * 2,
        failures.join("\n\n")
    );
}

/// A file whose second line is 10 MB: `header` then `prefix`, 10 MiB of `x`, `suffix`.
fn ten_mb_line(header: &str, prefix: &str, suffix: &str) -> Vec<u8> {
    let mut bytes = format!("{header}\n{prefix}").into_bytes();
    bytes.resize(bytes.len() + 10 * 1024 * 1024, b'x');
    bytes.extend(suffix.as_bytes());
    bytes.push(b'\n');
    bytes
}

#[test]
fn every_bad_customers_file_exits_2_naming_the_line_and_writes_nothing() {
    let huge = vec![(
        "ten-mb-line.csv",
        ten_mb_line("firstName,lastName", "", ",Lovelace"),
        format!(
            "line 2: firstName: at most 255 characters, got {}",
            10 * 1024 * 1024
        ),
    )];
    run_corpus("customers", "Customers", BAD_CUSTOMERS, &huge);
}

#[test]
fn every_bad_products_file_exits_2_naming_the_line_and_writes_nothing() {
    let huge = vec![
        (
            "ten-mb-name.csv",
            ten_mb_line("price,name", "1.00,", ""),
            format!(
                "line 2: name: at most 255 characters, got {}",
                10 * 1024 * 1024
            ),
        ),
        (
            "ten-mb-of-fields.csv",
            ten_mb_line("name,price", "Widget,1.00", "")
                .iter()
                .map(|b| if *b == b'x' { b',' } else { *b })
                .collect(),
            format!(
                "line 2: {} fields, but the header has 2",
                10 * 1024 * 1024 + 2
            ),
        ),
    ];
    run_corpus("products", "Products", BAD_PRODUCTS, &huge);
}
