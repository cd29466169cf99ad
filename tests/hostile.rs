//! Hostile input is data, never code: SQL in every text a user can pass is stored and searched
//! literally; formula-like cells are neutralised on request; no secret reaches any output or a
//! child's command line.

use crate::harness::{TestDb, TestRole, count, create_user, server, sql};
use std::os::unix::fs::PermissionsExt;

const DROP_USERS: &str = r#"'; DROP TABLE "Users"; --"#;

#[test]
fn sql_in_names_notes_searches_and_notification_data_is_stored_and_matched_literally() {
    let db = TestDb::migrated();
    db.crm()
        .args([
            "customers",
            "create",
            "--first-name",
            DROP_USERS,
            "--last-name",
            "O'Brien",
        ])
        .args([
            "--email",
            "obrien@example.com",
            "--address",
            "1'); DELETE FROM \"Orders\"; --",
        ])
        .run()
        .assert_success();
    db.crm()
        .args([
            "products",
            "create",
            "--name",
            "Robert'); DROP TABLE \"Products\";--",
        ])
        .args(["--price", "1.00", "--stock", "10"])
        .run()
        .assert_success();
    db.crm()
        .args([
            "orders",
            "create",
            "--customer",
            "1",
            "--item",
            "1:1",
            "--notes",
            DROP_USERS,
        ])
        .run()
        .assert_success();
    create_user(
        &db,
        &[
            "--first-name",
            "A",
            "--last-name",
            "B",
            "--email",
            "admin@example.com",
            "--role",
            "admin",
        ],
        "long enough password",
    )
    .assert_success();
    db.crm()
        .args(["notify", "send", "--type", "general", "--title", DROP_USERS])
        .args([
            "--message",
            "x' OR '1'='1",
            "--data",
            r#"{"q": "'); DROP TABLE \"Users\"; --"}"#,
        ])
        .args(["--all"])
        .run()
        .assert_success();

    // Every table is still there, holding the text as typed.
    for table in ["Users", "Customers", "Products", "Orders", "Notifications"] {
        assert_eq!(
            count(&db, &format!(r#"SELECT count(*) FROM "{table}""#)),
            1,
            "{table}"
        );
    }
    assert_eq!(
        count(
            &db,
            &format!(
                r#"SELECT count(*) FROM "Customers" WHERE "firstName" = '{}'"#,
                DROP_USERS.replace('\'', "''")
            )
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "Notifications" WHERE "data"->>'q' = '''); DROP TABLE "Users"; --'"#
        ),
        1
    );
    // Searches match the text, quotes and all, and nothing else.
    db.crm()
        .args(["customers", "list", "--search", "'; DROP", "-o", "csv"])
        .run()
        .assert_success()
        .assert_stdout_contains("obrien@example.com");
    let out = db
        .crm()
        .args(["customers", "list", "--search", "' OR '1'='1", "-o", "csv"])
        .run();
    out.assert_success();
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "only the header: {}",
        out.stdout
    );
    db.crm()
        .args(["orders", "list", "--search", "DROP TABLE", "-o", "csv"])
        .run()
        .assert_success()
        .assert_stdout_contains("DROP TABLE");
    db.crm()
        .args(["products", "list", "--search", "\"Products\"", "-o", "csv"])
        .run()
        .assert_success()
        .assert_stdout_contains("Robert");
}

#[test]
fn safe_spreadsheet_neutralises_formula_cells_and_is_off_by_default() {
    let db = TestDb::migrated();
    sql(
        &db,
        r#"INSERT INTO "Customers" ("id", "firstName", "lastName", "email", "address", "createdAt", "updatedAt")
           VALUES (1, '=cmd|'' /C calc''!A0', '+1', 'a@example.com', '@SUM(A1)', now(), now()),
                  (2, 'Plain', '-', 'b@example.com', 'a=b', now(), now());
           INSERT INTO "Orders" ("id", "customerId", "status", "total", "notes", "createdAt", "updatedAt")
           VALUES (1, 2, 'pending', 0.00, '=HYPERLINK("http://x")', now(), now())"#,
    );
    let raw = db.crm().args(["customers", "export"]).run();
    raw.assert_success();
    assert!(
        raw.stdout
            .contains("1,=cmd|' /C calc'!A0,+1,a@example.com,,@SUM(A1),"),
        "{}",
        raw.stdout
    );

    let safe = db
        .crm()
        .args(["customers", "export", "--safe-spreadsheet"])
        .run();
    safe.assert_success();
    assert!(
        safe.stdout
            .contains("1,'=cmd|' /C calc'!A0,'+1,a@example.com"),
        "{}",
        safe.stdout
    );
    assert!(safe.stdout.contains(",'@SUM(A1),"), "{}", safe.stdout);
    // Only a leading sign counts; numbers and other text are left as they are.
    assert!(
        safe.stdout.contains("2,Plain,'-,b@example.com,,a=b,0.00,"),
        "{}",
        safe.stdout
    );

    let orders = db
        .crm()
        .args(["orders", "export", "--safe-spreadsheet"])
        .run();
    orders.assert_success();
    assert!(
        orders.stdout.contains("\"'=HYPERLINK(\"\"http://x\"\")\""),
        "{}",
        orders.stdout
    );
}

#[test]
fn no_password_in_any_output_log_line_error_or_child_command_line() {
    let db = TestDb::migrated();
    let secret = "Sup3r-Secret-Pw";
    let role = TestRole::create(
        &db,
        "sec",
        &format!("SUPERUSER PASSWORD '{secret}' IN ROLE password_users"),
    );
    let url = |password: &str| {
        format!(
            "postgresql://{}:{password}@127.0.0.1:{}/{}",
            role.0,
            server().port,
            db.name
        )
    };
    let check = |out: &crate::harness::Output, what: &str| {
        assert!(
            !out.stdout.contains(what),
            "stdout shows it: {}",
            out.stdout
        );
        assert!(
            !out.stderr.contains(what),
            "stderr shows it: {}",
            out.stderr
        );
    };

    let listed = crate::harness::crm()
        .args(["-v", "--database-url", &url(secret), "customers", "list"])
        .run();
    listed.assert_success();
    assert!(
        listed.stderr.contains("sql:"),
        "-v logs statements: {}",
        listed.stderr
    );
    check(&listed, secret);

    let wrong = "Wr0ng-Secret-Pw";
    let refused = crate::harness::crm()
        .args(["-v", "--database-url", &url(wrong), "customers", "list"])
        .run();
    refused.assert_code(4);
    check(&refused, wrong);

    // pg_dump gets the password in its environment, never on its command line: a pg_dump on
    // PATH that records its own /proc/self/cmdline, then runs the real one.
    let bin = tempfile::tempdir().unwrap();
    let seen = bin.path().join("cmdline");
    let script = bin.path().join("pg_dump");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat /proc/$$/cmdline >> '{}'\necho >> '{}'\nexec '{}' \"$@\"\n",
            seen.display(),
            seen.display(),
            real_tool("pg_dump")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backups = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let backup = crate::harness::crm()
        .env("PATH", path)
        .args([
            "-v",
            "--database-url",
            &url(secret),
            "db",
            "backup",
            "--dir",
        ])
        .arg(backups.path())
        .run();
    backup.assert_success();
    check(&backup, secret);
    let cmdlines = std::fs::read(&seen).unwrap();
    let cmdlines = String::from_utf8_lossy(&cmdlines).replace('\0', " ");
    assert!(cmdlines.contains("--format=custom"), "{cmdlines}");
    assert!(
        !cmdlines.contains(secret),
        "pg_dump's command line: {cmdlines}"
    );
    for entry in std::fs::read_dir(backups.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".json") {
            let manifest = std::fs::read_to_string(&path).unwrap();
            assert!(!manifest.contains(secret), "{manifest}");
        }
    }
}

/// The real tool, found on PATH.
fn real_tool(name: &str) -> String {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not on PATH"))
        .display()
        .to_string()
}
