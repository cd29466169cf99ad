//! `crm users`: list, show, create, update, set-password and delete through the real binary, as
//! an operator or a script would run them: what each prints, the exit code of every refusal, and
//! the rows left behind (none written on a refusal). Passwords go in through --password-stdin
//! (the tests have no terminal) at bcrypt cost 10, and no output ever shows a hash or a password.

use crate::harness::{Output, TestDb, create_user, insert_user, wait_for};
use std::time::Duration;

const HEADER: &str = "id,firstName,lastName,email,role,createdAt,updatedAt\n";

/// Every column of every user, password hash included, as JSON text in id order: for "nothing
/// changed" assertions.
fn snapshot(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            r#"SELECT row_to_json(u)::text FROM "Users" u ORDER BY "id""#,
            &[],
        )
        .expect("read the users")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn password_hash(db: &TestDb, id: i32) -> String {
    db.client()
        .query_one(r#"SELECT "password" FROM "Users" WHERE "id" = $1"#, &[&id])
        .expect("read a password hash")
        .get(0)
}

/// No output of a command shows a bcrypt hash or the password.
#[track_caller]
fn assert_no_secrets(out: &Output, password: &str) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!text.contains("$2b$"), "{name} shows a hash\n\n{out}");
        assert!(
            password.is_empty() || !text.contains(password),
            "{name} shows the password\n\n{out}"
        );
    }
}

/// `crm users delete ... --yes`.
fn delete(db: &TestDb, who: &str) -> Output {
    db.crm().args(["users", "delete", who, "--yes"]).run()
}

#[test]
fn create_stores_a_lower_cased_email_and_a_bcrypt_hash_and_prints_the_user_without_it() {
    let db = TestDb::migrated();
    let out = create_user(
        &db,
        &[
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "Ada@Example.COM",
            "--role",
            "admin",
        ],
        "correct horse battery",
    );
    out.assert_success();
    assert_no_secrets(&out, "correct horse battery");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(format!("{}\n", lines[0]), HEADER);
    assert!(
        lines[1].starts_with("1,Ada,Lovelace,ada@example.com,admin,20"),
        "{out}"
    );

    let row = db
        .client()
        .query_one(
            r#"SELECT "email", "role"::text, "password", "createdAt" = "updatedAt",
                      "createdAt" > now() - interval '1 minute'
               FROM "Users""#,
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ada@example.com");
    assert_eq!(row.get::<_, String>(1), "admin");
    let hash: String = row.get(2);
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(bcrypt::verify("correct horse battery", &hash).unwrap());
    assert!(!bcrypt::verify("correct horse batterz", &hash).unwrap());
    assert!(
        row.get::<_, bool>(3),
        "createdAt and updatedAt are both now()"
    );
    assert!(row.get::<_, bool>(4));
}

#[test]
fn create_makes_staff_by_default_reads_a_password_with_crlf_and_logs_no_secret() {
    let db = TestDb::migrated();
    let out = db
        .crm()
        .args([
            "-v",
            "users",
            "create",
            "--first-name",
            "Grace",
            "--last-name",
            "Hopper",
            "--email",
            "grace@example.com",
            "--password-stdin",
        ])
        .env("CRM_BCRYPT_COST", "10")
        .stdin("cobol-1959\r\n")
        .run();
    out.assert_success()
        .assert_stdout_contains(",Grace,Hopper,grace@example.com,staff,")
        .assert_stderr_contains(r#"sql: "#);
    // -v logs statements, never their parameters.
    assert_no_secrets(&out, "cobol-1959");
    assert!(bcrypt::verify("cobol-1959", &password_hash(&db, 1)).unwrap());
}

#[test]
fn a_duplicate_email_in_another_case_exits_5_and_writes_nothing() {
    let db = TestDb::migrated();
    let names = ["--first-name", "Ada", "--last-name", "Lovelace"];
    create_user(
        &db,
        &[&names[..], &["--email", "ada@example.com"]].concat(),
        "password-1",
    )
    .assert_success();
    let before = snapshot(&db);

    let out = create_user(
        &db,
        &[&names[..], &["--email", "ADA@example.com"]].concat(),
        "password-2",
    );
    out.assert_code(5)
        .assert_stderr_contains(r#"a user with e-mail "ada@example.com" already exists"#);
    assert_no_secrets(&out, "password-2");
    assert_eq!(snapshot(&db), before);

    // A mixed-case e-mail left by the original system counts too.
    insert_user(&db, "Grace", "Hopper", "Grace@Example.com", "staff");
    let before = snapshot(&db);
    create_user(
        &db,
        &[&names[..], &["--email", "grace@example.com"]].concat(),
        "password-3",
    )
    .assert_code(5)
    .assert_stderr_contains(r#"a user with e-mail "grace@example.com" already exists"#);
    assert_eq!(snapshot(&db), before);
}

#[test]
fn passwords_under_8_characters_or_over_72_bytes_are_refused_72_bytes_is_fine() {
    let db = TestDb::migrated();
    let args = |email: &'static str| {
        vec![
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            email,
        ]
    };

    let out = create_user(&db, &args("a@example.com"), "1234567");
    out.assert_code(2)
        .assert_stderr_contains("at least 8 characters, got 7");
    assert_no_secrets(&out, "1234567");

    let long = format!("{}Z", "y".repeat(72));
    let out = create_user(&db, &args("a@example.com"), &long);
    out.assert_code(2)
        .assert_stderr_contains("at most 72 bytes")
        .assert_stderr_contains("got 73");
    assert_no_secrets(&out, &long);
    // Multi-byte characters count as the bytes bcrypt sees: 37 × 2 bytes.
    create_user(&db, &args("a@example.com"), &"é".repeat(37))
        .assert_code(2)
        .assert_stderr_contains("at most 72 bytes");
    assert!(snapshot(&db).is_empty());

    let exact = format!("{}Z", "y".repeat(71));
    create_user(&db, &args("b@example.com"), &exact).assert_success();
    let hash = password_hash(&db, 1);
    assert!(bcrypt::verify(&exact, &hash).unwrap());
    // Truncation would make this one verify too.
    assert!(!bcrypt::verify(&exact[..71], &hash).unwrap());
}

#[test]
fn without_a_terminal_a_password_needs_password_stdin() {
    let db = TestDb::migrated();
    db.crm()
        .args([
            "users",
            "create",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
        ])
        .env("CRM_BCRYPT_COST", "10")
        .stdin("password-1\n")
        .run()
        .assert_code(2)
        .assert_stderr_contains("--password-stdin");
    assert!(snapshot(&db).is_empty());

    let id = insert_user(&db, "Grace", "Hopper", "grace@example.com", "admin");
    let before = snapshot(&db);
    db.crm()
        .args(["users", "set-password", &id.to_string()])
        .env("CRM_BCRYPT_COST", "10")
        .run()
        .assert_code(2)
        .assert_stderr_contains("--password-stdin");
    assert_eq!(snapshot(&db), before);
}

#[test]
fn a_password_is_never_a_flag_value() {
    let db = TestDb::migrated();
    let out = db
        .crm()
        .args([
            "users",
            "create",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
            "--password",
            "hunter2-hunter2",
        ])
        .env("CRM_BCRYPT_COST", "10")
        .run();
    out.assert_code(2)
        .assert_stderr_contains("unexpected argument '--password'");
    assert_no_secrets(&out, "hunter2-hunter2");
    assert!(snapshot(&db).is_empty());
}

#[test]
fn a_bcrypt_cost_below_10_or_not_a_number_is_refused() {
    let db = TestDb::migrated();
    let id = insert_user(&db, "Grace", "Hopper", "grace@example.com", "admin");
    let before = snapshot(&db);
    for cost in ["9", "twelve", "32"] {
        db.crm()
            .args([
                "users",
                "create",
                "--first-name",
                "Ada",
                "--last-name",
                "Lovelace",
                "--email",
                "ada@example.com",
                "--password-stdin",
            ])
            .env("CRM_BCRYPT_COST", cost)
            .stdin("password-1\n")
            .run()
            .assert_code(2)
            .assert_stderr_contains(&format!(
                r#"CRM_BCRYPT_COST must be a whole number from 10 to 31, got "{cost}""#
            ));
        db.crm()
            .args(["users", "set-password", &id.to_string(), "--password-stdin"])
            .env("CRM_BCRYPT_COST", cost)
            .stdin("password-1\n")
            .run()
            .assert_code(2)
            .assert_stderr_contains("CRM_BCRYPT_COST");
    }
    assert_eq!(snapshot(&db), before);
}

#[test]
fn set_password_replaces_the_hash_of_the_user_named_in_any_case() {
    let db = TestDb::migrated();
    let id = insert_user(&db, "Grace", "Hopper", "grace@example.com", "admin");

    let out = db
        .crm()
        .args([
            "users",
            "set-password",
            "GRACE@example.com",
            "--password-stdin",
        ])
        .env("CRM_BCRYPT_COST", "10")
        .stdin("new password 1\n")
        .run();
    out.assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains("set the password of user 1 (grace@example.com)");
    assert_no_secrets(&out, "new password 1");
    let hash = password_hash(&db, id);
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(bcrypt::verify("new password 1", &hash).unwrap());
    let bumped: bool = db
        .client()
        .query_one(
            r#"SELECT "updatedAt" > '2025-07-02 10:00:00.25+00' FROM "Users""#,
            &[],
        )
        .unwrap()
        .get(0);
    assert!(bumped, "updatedAt is bumped");

    // Refusals change nothing.
    let before = snapshot(&db);
    let set = |who: &str, password: &str| {
        db.crm()
            .args(["users", "set-password", who, "--password-stdin"])
            .env("CRM_BCRYPT_COST", "10")
            .stdin(format!("{password}\n"))
            .run()
    };
    set("1", "short").assert_code(2);
    set("1", &"x".repeat(73)).assert_code(2);
    set("1", "two\nlines-of-it")
        .assert_code(2)
        .assert_stderr_contains("one line");
    set("2", "long enough")
        .assert_code(3)
        .assert_stderr_contains(r#"user "2" does not exist"#);
    set("nobody@example.com", "long enough")
        .assert_code(3)
        .assert_stderr_contains(r#"user "nobody@example.com" does not exist"#);
    assert_eq!(snapshot(&db), before);
}

#[test]
fn show_by_id_and_by_email_in_any_case_as_csv_json_and_table() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    // Left mixed-case by the original system: found however it is typed.
    insert_user(&db, "Grace", "Hopper", "Grace@Example.com", "staff");
    let ada = format!(
        "{HEADER}1,Ada,Lovelace,ada@example.com,admin,2025-07-01T09:30:00Z,2025-07-02T10:00:00.25Z\n"
    );
    for who in ["1", "ada@example.com", "ADA@Example.Com"] {
        let out = db.crm().args(["users", "show", who]).run();
        out.assert_success().assert_stdout_eq(&ada);
        assert_no_secrets(&out, "");
    }
    for who in [
        "2",
        "grace@example.com",
        "Grace@Example.com",
        "GRACE@EXAMPLE.COM",
    ] {
        db.crm()
            .args(["users", "show", who])
            .run()
            .assert_success()
            .assert_stdout_contains("2,Grace,Hopper,Grace@Example.com,staff,");
    }

    let json = db.crm().args(["-o", "json", "users", "show", "1"]).run();
    json.assert_success().assert_stdout_eq(
        "{\"id\":1,\"firstName\":\"Ada\",\"lastName\":\"Lovelace\",\"email\":\"ada@example.com\",\
         \"role\":\"admin\",\"createdAt\":\"2025-07-01T09:30:00Z\",\"updatedAt\":\"2025-07-02T10:00:00.25Z\"}\n",
    );
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    assert!(parsed.is_object());
    assert!(parsed.get("password").is_none());

    db.crm()
        .args(["-o", "table", "users", "show", "ada@example.com"])
        .run()
        .assert_success()
        .assert_stdout_contains("│ email     ┆ ada@example.com")
        .assert_stdout_contains("│ role      ┆ admin");
}

#[test]
fn an_unknown_id_or_email_exits_3() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    insert_user(&db, "Grace", "Hopper", "grace@example.com", "staff");
    let before = snapshot(&db);
    for who in ["999", "99999999999", "nobody@example.com", "ada"] {
        let missing = format!(r#"user "{who}" does not exist"#);
        for args in [
            vec!["users", "show", who],
            vec!["users", "update", who, "--first-name", "X"],
            vec!["users", "delete", who, "--yes"],
            vec!["users", "set-password", who, "--password-stdin"],
        ] {
            db.crm()
                .args(&args)
                .env("CRM_BCRYPT_COST", "10")
                .stdin("long enough\n")
                .run()
                .assert_code(3)
                .assert_stderr_contains(&missing);
        }
    }
    assert_eq!(snapshot(&db), before);
}

#[test]
fn list_prints_every_user_as_csv_without_passwords_and_filters_by_role() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    insert_user(&db, "Grace", "Hopper", "grace@example.com", "staff");
    insert_user(&db, "Alan", "Turing", "alan@example.com", "staff");
    let row = |id: i32, first: &str, last: &str, role: &str| {
        format!(
            "{id},{first},{last},{}@example.com,{role},2025-07-01T09:30:00Z,2025-07-02T10:00:00.25Z\n",
            first.to_lowercase()
        )
    };

    let out = db.crm().args(["users", "list"]).run();
    out.assert_success().assert_stdout_eq(&format!(
        "{HEADER}{}{}{}",
        row(1, "Ada", "Lovelace", "admin"),
        row(2, "Grace", "Hopper", "staff"),
        row(3, "Alan", "Turing", "staff")
    ));
    assert_no_secrets(&out, "not a hash");

    db.crm()
        .args(["users", "list", "--role", "staff", "--sort=-email"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!(
            "{HEADER}{}{}",
            row(2, "Grace", "Hopper", "staff"),
            row(3, "Alan", "Turing", "staff")
        ));
    db.crm()
        .args(["users", "list", "--role", "admin"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}", row(1, "Ada", "Lovelace", "admin")));
    db.crm()
        .args(["users", "list", "--limit", "1", "--offset", "1"])
        .run()
        .assert_success()
        .assert_stdout_eq(&format!("{HEADER}{}", row(2, "Grace", "Hopper", "staff")));
    db.crm()
        .args(["-o", "table", "users", "list", "--role", "staff"])
        .run()
        .assert_success()
        .assert_stdout_contains("2 of 2 users\n");

    db.crm()
        .args(["users", "list", "--role", "owner"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("owner");
    db.crm()
        .args(["users", "list", "--sort", "password"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("no such field");
}

#[test]
fn search_matches_name_and_email_literally_and_drops_nothing() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    insert_user(&db, "Per", "Cent", "100%@example.com", "staff");
    insert_user(&db, "Under", "Score", "under_score@example.com", "staff");
    insert_user(&db, "Plain", "Person", "underxscore@example.com", "staff");
    let ids = |search: &str| -> Vec<String> {
        let out = db.crm().args(["users", "list", "--search", search]).run();
        out.assert_success();
        assert!(out.stdout.starts_with(HEADER), "{out}");
        out.stdout
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };

    assert_eq!(ids("ada LOVE"), ["1"], "first and last name together");
    assert_eq!(ids("EXAMPLE.com"), ["1", "2", "3", "4"]);
    assert_eq!(ids("%"), ["2"]);
    assert_eq!(ids("_"), ["3"]);
    assert_eq!(ids("under_"), ["3"]);
    assert!(ids(r#"'; DROP TABLE "Users"; --"#).is_empty());
    assert!(ids(r"\").is_empty());
    assert_eq!(snapshot(&db).len(), 4, "the Users table is intact");
}

#[test]
fn update_changes_only_the_fields_given() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    insert_user(&db, "Grace", "Hopper", "grace@example.com", "staff");
    let hash_before = password_hash(&db, 2);

    let out = db
        .crm()
        .args([
            "users",
            "update",
            "GRACE@example.com",
            "--last-name",
            "Murray Hopper",
            "--email",
            "Grace.Hopper@Navy.MIL",
        ])
        .run();
    out.assert_success();
    assert!(
        out.stdout.starts_with(&format!(
            "{HEADER}2,Grace,Murray Hopper,grace.hopper@navy.mil,staff,2025-07-01T09:30:00Z,20"
        )),
        "{out}"
    );
    assert_no_secrets(&out, "");
    let row = db
        .client()
        .query_one(
            r#"SELECT "firstName", "lastName", "email", "role"::text, "password",
                      "createdAt" = '2025-07-01 09:30:00+00', "updatedAt" > '2025-07-02 10:00:00.25+00'
               FROM "Users" WHERE "id" = 2"#,
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Grace");
    assert_eq!(row.get::<_, String>(1), "Murray Hopper");
    assert_eq!(row.get::<_, String>(2), "grace.hopper@navy.mil");
    assert_eq!(row.get::<_, String>(3), "staff");
    assert_eq!(row.get::<_, String>(4), hash_before);
    assert!(row.get::<_, bool>(5), "createdAt is kept");
    assert!(row.get::<_, bool>(6), "updatedAt is bumped");

    db.crm()
        .args(["users", "update", "2", "--role", "admin"])
        .run()
        .assert_success()
        .assert_stdout_contains(",grace.hopper@navy.mil,admin,");
}

#[test]
fn update_refusals_exit_2_or_5_and_change_nothing() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    insert_user(&db, "Grace", "Hopper", "grace@example.com", "staff");
    let before = snapshot(&db);

    db.crm()
        .args(["users", "update", "2"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("nothing to update");
    db.crm()
        .args(["users", "update", "2", "--email", "Ada@EXAMPLE.com"])
        .run()
        .assert_code(5)
        .assert_stderr_contains(r#"a user with e-mail "ada@example.com" already exists"#);
    db.crm()
        .args(["users", "update", "2", "--email", "not-an-email"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--email")
        .assert_stderr_contains("not-an-email");
    db.crm()
        .args(["users", "update", "2", "--first-name", "  "])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--first-name")
        .assert_stderr_contains("must not be empty");
    db.crm()
        .args(["users", "update", "2", "--last-name", &"x".repeat(256)])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--last-name")
        .assert_stderr_contains("at most 255 characters, got 256");
    db.crm()
        .args(["users", "update", "2", "--role", "root"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("root");
    assert_eq!(snapshot(&db), before);

    // Its own e-mail in another case is not a conflict.
    db.crm()
        .args(["users", "update", "2", "--email", "GRACE@example.com"])
        .run()
        .assert_success();
}

#[test]
fn create_refuses_invalid_values_naming_the_flag_and_the_value() {
    let db = TestDb::migrated();
    let try_create = |first: &str, last: &str, email: &str| {
        create_user(
            &db,
            &["--first-name", first, "--last-name", last, "--email", email],
            "long enough",
        )
    };
    try_create("Ada", "Lovelace", "ada.example.com")
        .assert_code(2)
        .assert_stderr_contains("--email")
        .assert_stderr_contains("ada.example.com");
    try_create("", "Lovelace", "ada@example.com")
        .assert_code(2)
        .assert_stderr_contains("--first-name")
        .assert_stderr_contains("must not be empty");
    try_create("Ada", &"é".repeat(256), "ada@example.com")
        .assert_code(2)
        .assert_stderr_contains("--last-name")
        .assert_stderr_contains("at most 255 characters, got 256");
    create_user(
        &db,
        &[
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
            "--role",
            "owner",
        ],
        "long enough",
    )
    .assert_code(2)
    .assert_stderr_contains("owner");
    assert!(snapshot(&db).is_empty());

    // 255 characters, not bytes.
    try_create("Ada", &"é".repeat(255), "ada@example.com").assert_success();
}

#[test]
fn the_last_admin_can_be_neither_deleted_nor_demoted() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    insert_user(&db, "Grace", "Hopper", "grace@example.com", "staff");
    let before = snapshot(&db);

    delete(&db, "ada@example.com")
        .assert_code(5)
        .assert_stderr_contains("cannot delete user 1 (ada@example.com): it is the last admin");
    db.crm()
        .args(["users", "update", "1", "--role", "staff"])
        .run()
        .assert_code(5)
        .assert_stderr_contains("cannot demote user 1 (ada@example.com): it is the last admin");
    // Not even together with other changes.
    db.crm()
        .args([
            "users",
            "update",
            "1",
            "--role",
            "staff",
            "--first-name",
            "Augusta",
        ])
        .run()
        .assert_code(5);
    assert_eq!(snapshot(&db), before);

    // With a second admin, either may go.
    db.crm()
        .args(["users", "update", "2", "--role", "admin"])
        .run()
        .assert_success();
    db.crm()
        .args(["users", "update", "1", "--role", "staff"])
        .run()
        .assert_success()
        .assert_stdout_contains(",ada@example.com,staff,");
    delete(&db, "2").assert_code(5);
    delete(&db, "1").assert_success();
    assert_eq!(snapshot(&db).len(), 1);
}

/// Waits until a session of `db` other than the test's own waits for a row lock.
fn wait_for_a_blocked_session(db: &TestDb) {
    wait_for(
        &mut db.client(),
        "SELECT count(*) > 0 FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
        "crm to wait for the lock",
        Duration::from_secs(30),
    );
}

#[test]
fn a_deletion_or_demotion_racing_another_demotion_still_keeps_an_admin() {
    for command in [
        &["users", "delete", "1", "--yes"][..],
        &["users", "update", "1", "--role", "staff"],
    ] {
        let db = TestDb::migrated();
        insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
        insert_user(&db, "Grace", "Hopper", "grace@example.com", "admin");

        // Another session demotes Grace and has not committed yet: crm still sees two admins
        // until it locks them, and then waits for that session.
        let mut other = db.client();
        let mut demotion = other.transaction().unwrap();
        demotion
            .execute(r#"UPDATE "Users" SET "role" = 'staff' WHERE "id" = 2"#, &[])
            .unwrap();
        let mut crm = db.crm();
        crm.args(command);
        let child = crm.spawn();
        wait_for_a_blocked_session(&db);
        demotion.commit().unwrap();

        crm.wait(child)
            .assert_code(5)
            .assert_stderr_contains("user 1 (ada@example.com): it is the last admin");
        let roles: Vec<String> = db
            .client()
            .query(r#"SELECT "role"::text FROM "Users" ORDER BY "id""#, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(roles, ["admin", "staff"], "{command:?}");
    }
}

#[test]
fn delete_reports_the_rows_that_keep_them_with_created_by_null_and_the_rows_that_go() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    let grace = insert_user(&db, "Grace", "Hopper", "grace@example.com", "staff");
    let mut client = db.client();
    client
        .batch_execute(&format!(
            r#"
            INSERT INTO "Orders" ("createdBy", "total", "createdAt", "updatedAt")
            VALUES ({grace}, 10.00, now(), now()), ({grace}, 20.50, now(), now()), (1, 5.00, now(), now());
            INSERT INTO "Notifications" ("type", "title", "message", "createdBy", "createdAt", "updatedAt")
            VALUES ('low_stock', 'Low stock', 'Widgets are low', {grace}, now(), now()),
                   ('order', 'New order', 'Order 3', 1, now(), now());
            INSERT INTO "UserNotifications" ("userId", "notificationId", "createdAt", "updatedAt")
            VALUES ({grace}, 1, now(), now()), ({grace}, 2, now(), now()), (1, 1, now(), now());
            INSERT INTO "NotificationPreferences" ("userId", "notificationType", "createdAt", "updatedAt")
            VALUES ({grace}, 'low_stock', now(), now()), (1, 'low_stock', now(), now());
            "#
        ))
        .unwrap();
    let count = |client: &mut postgres::Client, sql: &str| -> i64 {
        client.query_one(sql, &[]).unwrap().get(0)
    };

    // Without --yes and without a terminal: refused, naming the flag and what would happen.
    db.crm()
        .args(["users", "delete", "grace@example.com"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("delete user 2 Grace Hopper <grace@example.com>?")
        .assert_stderr_contains("2 orders and 1 notification they created will stay")
        .assert_stderr_contains("2 inbox rows and 1 notification preference will be deleted")
        .assert_stderr_contains("--yes");
    assert_eq!(snapshot(&db).len(), 2);

    let out = delete(&db, "Grace@Example.com");
    out.assert_success()
        .assert_stdout_eq("")
        .assert_stderr_contains(
            "deleted user 2 (grace@example.com): 2 orders and 1 notification they created kept \
         their rows with createdBy set to NULL; 2 inbox rows and 1 notification preference \
         were deleted with the user",
        );
    assert_no_secrets(&out, "");

    assert_eq!(snapshot(&db).len(), 1);
    assert_eq!(count(&mut client, r#"SELECT count(*) FROM "Orders""#), 3);
    assert_eq!(
        count(
            &mut client,
            r#"SELECT count(*) FROM "Orders" WHERE "createdBy" IS NULL"#
        ),
        2
    );
    assert_eq!(
        count(&mut client, r#"SELECT count(*) FROM "Notifications""#),
        2
    );
    assert_eq!(
        count(
            &mut client,
            r#"SELECT count(*) FROM "Notifications" WHERE "createdBy" IS NULL AND "type" = 'low_stock'"#
        ),
        1
    );
    assert_eq!(
        count(&mut client, r#"SELECT count(*) FROM "UserNotifications""#),
        1,
        "only Ada's inbox row is left"
    );
    assert_eq!(
        count(
            &mut client,
            r#"SELECT count(*) FROM "NotificationPreferences""#
        ),
        1
    );

    // A user nothing refers to; --quiet silences the report.
    insert_user(&db, "Alan", "Turing", "alan@example.com", "staff");
    delete(&db, "alan@example.com")
        .assert_success()
        .assert_stderr_contains(
            "deleted user 3 (alan@example.com); no other rows referred to them",
        );
    insert_user(&db, "Linus", "Torvalds", "linus@example.com", "staff");
    let quiet = db
        .crm()
        .args(["--quiet", "users", "delete", "linus@example.com", "--yes"])
        .run();
    quiet.assert_success().assert_stdout_eq("");
    assert_eq!(quiet.stderr, "", "{quiet}");
    assert_eq!(snapshot(&db).len(), 1);
}

#[test]
fn delete_without_yes_and_without_a_terminal_is_refused() {
    let db = TestDb::migrated();
    insert_user(&db, "Ada", "Lovelace", "ada@example.com", "admin");
    insert_user(&db, "Grace", "Hopper", "grace@example.com", "staff");
    let before = snapshot(&db);
    db.crm()
        .args(["users", "delete", "2"])
        .stdin("y\n")
        .run()
        .assert_code(2)
        .assert_stderr_contains("pass --yes to confirm");
    assert_eq!(snapshot(&db), before);
}

#[test]
fn there_is_no_users_export() {
    let db = TestDb::migrated();
    db.crm()
        .args(["users", "export"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("unrecognized subcommand 'export'");
}

/// What crm writes stays readable by the original application, on either schema: its
/// `bcryptjs` verifies `$2b$` hashes, and crm's default cost is 12.
#[test]
fn created_and_reset_passwords_are_2b_bcrypt_hashes_of_cost_12_by_default() {
    let db = TestDb::migrated();
    let hash = |id: i64| -> String {
        db.client()
            .query_one(
                r#"SELECT "password" FROM "Users" WHERE "id" = $1"#,
                &[&(id as i32)],
            )
            .unwrap()
            .get(0)
    };
    db.crm()
        .args(["users", "create", "--password-stdin", "--first-name", "Ada"])
        .args([
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
            "--role",
            "admin",
        ])
        .stdin("correct horse\n")
        .run()
        .assert_success();
    let created = hash(1);
    assert!(created.starts_with("$2b$12$"), "{created}");
    assert!(bcrypt::verify("correct horse", &created).unwrap());

    db.crm()
        .args([
            "users",
            "set-password",
            "ada@example.com",
            "--password-stdin",
        ])
        .stdin("battery staple\n")
        .run()
        .assert_success();
    let reset = hash(1);
    assert!(reset.starts_with("$2b$12$"), "{reset}");
    assert!(bcrypt::verify("battery staple", &reset).unwrap());
    let role: String = db
        .client()
        .query_one(r#"SELECT "role"::text FROM "Users" WHERE "id" = 1"#, &[])
        .unwrap()
        .get(0);
    assert_eq!(role, "admin");
}
