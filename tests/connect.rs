//! Connecting as libpq users expect: precedence of the flag, DATABASE_URL and the PG* variables,
//! the password file, and what an unreachable server or a malformed URL gives.

use crate::harness::{TestDb, TestRole, crm, free_port, server};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn write_pgpass(home: &Path, lines: &str, mode: u32) {
    let path = home.join(".pgpass");
    fs::write(&path, lines).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn url_without_password(db: &TestDb, role: &str) -> String {
    format!(
        "postgresql://{role}@127.0.0.1:{}/{}",
        server().port,
        db.name
    )
}

#[test]
fn pgpass_exact_line_gives_the_password() {
    // An empty database: `status` reads only the catalog, which any role may.
    let db = TestDb::empty();
    let role = TestRole::create(&db, "pw", "PASSWORD 'right-pass' IN ROLE password_users");
    let role = &role.0;
    let mut cmd = crm();
    let line = format!(
        "127.0.0.1:{}:{}:{role}:right-pass\n",
        server().port,
        db.name
    );
    write_pgpass(cmd.home(), &format!("# a comment\n{line}"), 0o600);
    cmd.args([
        "--database-url",
        &url_without_password(&db, role),
        "db",
        "migrate",
        "status",
    ])
    .run()
    .assert_success();
}

#[test]
fn pgpass_wildcards_match_and_the_first_matching_line_wins() {
    // An empty database: `status` reads only the catalog, which any role may.
    let db = TestDb::empty();
    let role = TestRole::create(&db, "pw", "PASSWORD 'right-pass' IN ROLE password_users");
    let role = &role.0;
    let url = url_without_password(&db, role);

    let mut cmd = crm();
    write_pgpass(
        cmd.home(),
        &format!("*:*:*:{role}:right-pass\n127.0.0.1:*:*:{role}:wrong-pass\n"),
        0o600,
    );
    cmd.args(["--database-url", &url, "db", "migrate", "status"])
        .run()
        .assert_success();

    let mut cmd = crm();
    write_pgpass(
        cmd.home(),
        &format!("127.0.0.1:*:*:{role}:wrong-pass\n*:*:*:{role}:right-pass\n"),
        0o600,
    );
    let out = cmd
        .args(["--database-url", &url, "db", "migrate", "status"])
        .run();
    out.assert_code(4)
        .assert_stderr_contains("password authentication failed");
    assert!(!out.stderr.contains("wrong-pass"), "{}", out.stderr);
}

#[test]
fn a_pgpass_readable_by_others_is_ignored_with_a_warning() {
    // An empty database: `status` reads only the catalog, which any role may.
    let db = TestDb::empty();
    let role = TestRole::create(&db, "pw", "PASSWORD 'right-pass' IN ROLE password_users");
    let role = &role.0;
    let mut cmd = crm();
    write_pgpass(cmd.home(), &format!("*:*:*:{role}:right-pass\n"), 0o644);
    cmd.args([
        "--database-url",
        &url_without_password(&db, role),
        "db",
        "migrate",
        "status",
    ])
    .run()
    .assert_code(4)
    .assert_stderr_contains("has group or world access; permissions should be u=rw (0600) or less");
}

#[test]
fn pgpassfile_names_another_password_file() {
    // An empty database: `status` reads only the catalog, which any role may.
    let db = TestDb::empty();
    let role = TestRole::create(&db, "pw", "PASSWORD 'right-pass' IN ROLE password_users");
    let role = &role.0;
    let mut cmd = crm();
    let file = cmd.home().join("elsewhere.pgpass");
    fs::write(&file, format!("*:*:*:{role}:right-pass\n")).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    cmd.env("PGPASSFILE", &file)
        .args([
            "--database-url",
            &url_without_password(&db, role),
            "db",
            "migrate",
            "status",
        ])
        .run()
        .assert_success();
}

#[test]
fn the_pg_variables_are_used_when_no_url_is_given() {
    let db = TestDb::migrated();
    crm()
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", server().port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db.name)
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_success();
}

#[test]
fn the_flag_wins_over_database_url_which_wins_over_pg_variables() {
    let db = TestDb::migrated();
    let nowhere = format!("postgresql://postgres@127.0.0.1:{}/nowhere", free_port());
    crm()
        .env("DATABASE_URL", &nowhere)
        .args([
            "--database-url",
            &db.url(),
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
        .assert_success();
    crm()
        .env("DATABASE_URL", db.url())
        .env("PGHOST", "127.0.0.2")
        .env("PGPORT", free_port().to_string())
        .env("PGDATABASE", "nowhere")
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_success();
}

#[test]
fn pg_variables_fill_what_the_url_leaves_out() {
    let db = TestDb::migrated();
    // No database in the URL: PGDATABASE names it.
    crm()
        .env("PGDATABASE", &db.name)
        .args([
            "--database-url",
            &format!("postgresql://postgres@127.0.0.1:{}", server().port),
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
        .assert_success();
}

#[test]
fn a_unix_socket_url_works() {
    let db = TestDb::migrated();
    crm()
        .args([
            "--database-url",
            &db.socket_url(),
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
        .assert_success();
}

#[test]
fn a_malformed_url_is_bad_usage() {
    for url in [
        "postgresql://postgres@127.0.0.1:notaport/db",
        "postgresql://postgres@127.0.0.1/db?sslmode=sometimes",
        "postgresql://postgres@127.0.0.1/db?frobnicate=1",
    ] {
        let out = crm()
            .args(["--database-url", url, "db", "migrate", "status"])
            .run();
        out.assert_code(2);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    }
    crm()
        .env("DATABASE_URL", "postgresql://postgres@127.0.0.1:99999/db")
        .args(["db", "migrate", "status"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("DATABASE_URL");
    crm()
        .env("PGPORT", "many")
        .args(["db", "migrate", "status"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("PGPORT");
}

#[test]
fn a_server_that_is_not_there_exits_4_naming_where_and_never_the_password() {
    let port = free_port();
    let out = crm()
        .args([
            "--database-url",
            &format!("postgresql://alice:s3cret-pw@127.0.0.1:{port}/shop"),
            "db",
            "migrate",
            "status",
        ])
        .run();
    out.assert_code(4).assert_stderr_contains(&format!(
        "cannot connect to database \"shop\" on host \"127.0.0.1\" port {port} as user \"alice\""
    ));
    assert!(!out.stderr.contains("s3cret-pw"), "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "one line per problem: {}",
        out.stderr
    );
}

#[test]
fn a_server_that_never_answers_exits_4_within_the_connect_timeout() {
    // A listener that accepts and then says nothing, like a server behind a dead link.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let out = crm()
        .env("PGCONNECT_TIMEOUT", "2")
        .args([
            "--database-url",
            &format!("postgresql://postgres@127.0.0.1:{port}/shop"),
            "db",
            "migrate",
            "status",
        ])
        .run();
    out.assert_code(4).assert_stderr_contains("timed out");
    // Not a timing assertion: only that it gave up rather than hang (the runner's limit is 2 min).
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_wrong_database_name_exits_4() {
    crm()
        .args([
            "--database-url",
            &server().admin_url("no_such_database"),
            "db",
            "migrate",
            "status",
        ])
        .run()
        .assert_code(4)
        .assert_stderr_contains("\"no_such_database\" does not exist");
}
