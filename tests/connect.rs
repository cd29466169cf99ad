//! Connecting as libpq users expect: precedence of the flag, DATABASE_URL and the PG* variables,
//! the password file, libpq's service file, several hosts with target_session_attrs, and what an
//! unreachable server or a malformed URL gives.

use crate::harness::{PrivateServer, TestDb, TestRole, crm, free_port, server};
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

// --- libpq's service file and several hosts ---

/// A service file section naming `dbname` on the test server, and one naming nothing that
/// exists (a closed port, a missing database).
fn services(dbname: &str) -> String {
    format!(
        "# crm's servers\n[crm]\nhost=127.0.0.1\nport={}\ndbname={dbname}\nuser=postgres\n\n[elsewhere]\nhost=127.0.0.1\nport={}\ndbname=nowhere\nuser=postgres\n",
        server().port,
        free_port()
    )
}

#[test]
fn pgservice_names_a_section_of_the_users_service_file_which_beats_the_pg_variables() {
    let db = TestDb::migrated();
    let mut cmd = crm();
    fs::write(cmd.home().join(".pg_service.conf"), services(&db.name)).unwrap();
    // The service's port and database win over PGPORT and PGDATABASE, as in libpq.
    cmd.env("PGSERVICE", "crm")
        .env("PGPORT", free_port().to_string())
        .env("PGDATABASE", "nowhere")
        .env("PGSYSCONFDIR", "/nonexistent")
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_success();
}

#[test]
fn values_given_in_the_url_beat_its_service_and_pgservicefile_then_pgsysconfdir_are_read() {
    let db = TestDb::migrated();
    let mut cmd = crm();
    let file = cmd.home().join("services.conf");
    fs::write(&file, services(&db.name)).unwrap();
    // [elsewhere] names a closed port and a missing database: the URL's win.
    let url = format!(
        "postgresql://127.0.0.1:{}/{}?service=elsewhere",
        server().port,
        db.name
    );
    cmd.env("PGSERVICEFILE", &file)
        .env("PGSERVICE", "crm")
        .args([
            "--database-url",
            &url,
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
        .assert_success();

    // Not in the user's file: the system-wide one is read.
    let mut cmd = crm();
    let etc = cmd.home().join("etc");
    fs::create_dir(&etc).unwrap();
    fs::write(etc.join("pg_service.conf"), services(&db.name)).unwrap();
    fs::write(cmd.home().join(".pg_service.conf"), "[other]\nport=1\n").unwrap();
    cmd.env("PGSYSCONFDIR", &etc)
        .args([
            "--database-url",
            "service=crm",
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
        .assert_success();
}

#[test]
fn an_unknown_service_or_a_bad_service_file_exits_2_naming_the_file_and_the_service() {
    let mut cmd = crm();
    let file = cmd.home().join("services.conf");
    fs::write(&file, "[crm]\nhost=127.0.0.1\nport\n").unwrap();
    let out = cmd
        .env("PGSERVICEFILE", &file)
        .env("PGSYSCONFDIR", "/nonexistent")
        .env("PGSERVICE", "nosuch")
        .args(["db", "migrate", "status"])
        .run();
    out.assert_code(2).assert_stderr_contains(&format!(
        "error: service \"nosuch\" (from PGSERVICE) is not defined in \"{}\" or \"/nonexistent/pg_service.conf\"",
        file.display()
    ));

    let mut cmd = crm();
    let file = cmd.home().join("services.conf");
    fs::write(
        &file,
        "[crm]\nhost=127.0.0.1\npassword=Hunter2Secret\nHunter2Again\n",
    )
    .unwrap();
    let out = cmd
        .env("PGSERVICEFILE", &file)
        .args(["--database-url", "service=crm", "db", "migrate", "status"])
        .run();
    out.assert_code(2).assert_stderr_contains(&format!(
        "error: invalid service file \"{}\", line 4 (service \"crm\"): expected key=value, such as host=db1",
        file.display()
    ));
    assert!(!out.stderr.contains("Hunter2"), "{}", out.stderr);
}

#[test]
fn a_two_host_url_whose_first_host_is_down_connects_to_the_second_and_so_do_child_tools() {
    let db = TestDb::migrated();
    let url = format!(
        "postgresql://postgres@127.0.0.1:{},127.0.0.1:{}/{}",
        free_port(),
        server().port,
        db.name
    );
    crm()
        .args([
            "--database-url",
            &url,
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
        .assert_success();
    // pg_dump is handed the server crm chose.
    let mut cmd = crm();
    let dir = cmd.home().join("backups");
    fs::create_dir(&dir).unwrap();
    cmd.args(["--database-url", &url, "-q", "db", "backup", "--dir"])
        .arg(&dir)
        .run()
        .assert_success();
    let dumps = fs::read_dir(&dir)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".dump")
        })
        .count();
    assert_eq!(dumps, 1);

    // Every host down: exit 4 naming each.
    let (first, second) = (free_port(), free_port());
    let out = crm()
        .args([
            "--database-url",
            &format!("postgresql://postgres@127.0.0.1:{first},127.0.0.1:{second}/shop"),
            "db",
            "migrate",
            "status",
        ])
        .run();
    out.assert_code(4)
        .assert_stderr_contains(&format!(
            "cannot connect to database \"shop\" on host \"127.0.0.1,127.0.0.1\" port {first},{second}"
        ))
        .assert_stderr_contains(&format!("host \"127.0.0.1\" port {first}: "))
        .assert_stderr_contains(&format!("; host \"127.0.0.1\" port {second}: "));
}

#[test]
fn a_service_reaches_child_tools() {
    let db = TestDb::migrated();
    let mut cmd = crm();
    fs::write(cmd.home().join(".pg_service.conf"), services(&db.name)).unwrap();
    let dir = cmd.home().join("backups");
    fs::create_dir(&dir).unwrap();
    cmd.env("PGSERVICE", "crm")
        .args(["-q", "db", "backup", "--dir"])
        .arg(&dir)
        .run()
        .assert_success();
}

#[test]
fn target_session_attrs_skips_a_server_whose_sessions_are_read_only() {
    let db = TestDb::migrated();
    // A second server where the same database name exists, empty and read-only: `migrate
    // status --exit-code` succeeds on the test server only (the other has nothing applied).
    let other = PrivateServer::start("");
    let admin = &mut other.client("postgres");
    // CREATE DATABASE cannot share a transaction with anything else.
    admin
        .batch_execute(&format!("CREATE DATABASE \"{}\"", db.name))
        .unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
            db.name
        ))
        .unwrap();
    let both = |first: u16, second: u16, attrs: &str| {
        format!(
            "postgresql://postgres@127.0.0.1:{first},127.0.0.1:{second}/{}?target_session_attrs={attrs}",
            db.name
        )
    };
    // Read-only first: read-write skips it (both servers are primaries, so `primary` could not
    // tell them apart)...
    migrate_status(&both(other.port, server().port, "read-write")).assert_success();
    // ...and without target_session_attrs the first host is taken.
    migrate_status(&both(other.port, server().port, "any")).assert_code(1);
    // read-only skips the test server.
    migrate_status(&both(server().port, other.port, "read-only")).assert_code(1);
    // None fits: exit 4 with libpq's reason for each host.
    let out = crm()
        .args([
            "--database-url",
            &both(other.port, other.port, "read-write"),
            "db",
            "migrate",
            "status",
        ])
        .run();
    out.assert_code(4).assert_stderr_contains(&format!(
        "host \"127.0.0.1\" port {}: session is read-only (target_session_attrs=read-write)",
        other.port
    ));
}

#[test]
fn target_session_attrs_primary_and_standby_on_a_primary() {
    let db = TestDb::migrated();
    let down = free_port();
    let url = |attrs: &str| {
        format!(
            "postgresql://postgres@127.0.0.1:{down},127.0.0.1:{}/{}?target_session_attrs={attrs}",
            server().port,
            db.name
        )
    };
    migrate_status(&url("primary")).assert_success();
    // No standby among the hosts: prefer-standby takes the primary, standby gives up.
    migrate_status(&url("prefer-standby")).assert_success();
    migrate_status(&url("standby"))
        .assert_code(4)
        .assert_stderr_contains(&format!(
            "host \"127.0.0.1\" port {}: server is not in hot standby mode (target_session_attrs=standby)",
            server().port
        ));
    migrate_status(&url("master"))
        .assert_code(2)
        .assert_stderr_contains("invalid target_session_attrs \"master\"");
}

/// A customer whose name says which server holds it.
fn mark(client: &mut postgres::Client, name: &str) {
    client
        .execute(
            r#"INSERT INTO "Customers" ("firstName", "lastName", "createdAt", "updatedAt")
               VALUES ($1, 'Marker', now(), now())"#,
            &[&name],
        )
        .unwrap();
}

#[test]
fn target_session_attrs_tells_a_server_in_recovery_from_a_primary() {
    let db = TestDb::migrated();
    mark(&mut db.client(), "OnPrimary");
    // A second cluster holding the same database, migrated and marked, then restarted in
    // standby mode (standby.signal, no upstream): a hot standby, in recovery and read-only.
    let standby = PrivateServer::start("");
    standby
        .client("postgres")
        .batch_execute(&format!("CREATE DATABASE \"{}\"", db.name))
        .unwrap();
    crm()
        .args(["--database-url", &standby.url(&db.name), "db", "migrate"])
        .run()
        .assert_success();
    let mut client = standby.client(&db.name);
    mark(&mut client, "OnStandby");
    client.batch_execute("CHECKPOINT").unwrap();
    let data: String = client.query_one("SHOW data_directory", &[]).unwrap().get(0);
    drop(client);
    fs::write(Path::new(&data).join("standby.signal"), "").unwrap();
    standby.stop();
    standby.restart();
    crate::harness::wait_for(
        &mut standby.client("postgres"),
        "SELECT pg_is_in_recovery()",
        "the private cluster to be a standby",
        Duration::from_secs(30),
    );

    let customers_on = |first: u16, second: u16, attrs: &str| {
        let url = format!(
            "postgresql://postgres@127.0.0.1:{first},127.0.0.1:{second}/{}?target_session_attrs={attrs}",
            db.name
        );
        let out = crm()
            .args(["--database-url", &url, "-o", "csv", "customers", "list"])
            .run();
        out.assert_success();
        let on_primary = out.stdout.contains("OnPrimary");
        assert_ne!(
            on_primary,
            out.stdout.contains("OnStandby"),
            "{}",
            out.stdout
        );
        if on_primary { "primary" } else { "standby" }
    };
    let (primary, standby_port) = (server().port, standby.port);
    assert_eq!(customers_on(standby_port, primary, "any"), "standby");
    assert_eq!(customers_on(standby_port, primary, "read-write"), "primary");
    assert_eq!(customers_on(standby_port, primary, "primary"), "primary");
    assert_eq!(customers_on(primary, standby_port, "standby"), "standby");
    assert_eq!(
        customers_on(primary, standby_port, "prefer-standby"),
        "standby"
    );
    assert_eq!(customers_on(primary, standby_port, "read-only"), "standby");

    // A standby only: primary is refused with libpq's reason, prefer-standby takes it.
    let only = format!(
        "postgresql://postgres@127.0.0.1:{standby_port}/{}?target_session_attrs=primary",
        db.name
    );
    crm()
        .args(["--database-url", &only, "customers", "list"])
        .run()
        .assert_code(4)
        .assert_stderr_contains("server is in hot standby mode (target_session_attrs=primary)");
}

#[test]
fn with_several_hosts_the_password_file_is_read_for_the_host_that_answers() {
    // An empty database: `status` reads only the catalog, which any role may.
    let db = TestDb::empty();
    let role = TestRole::create(&db, "pw", "PASSWORD 'right-pass' IN ROLE password_users");
    let role = &role.0;
    let mut cmd = crm();
    // Only the second host's line matches: libpq looks each host up as it tries it.
    let line = format!(
        "127.0.0.1:{}:{}:{role}:right-pass\n",
        server().port,
        db.name
    );
    write_pgpass(cmd.home(), &line, 0o600);
    let url = format!(
        "postgresql://{role}@127.0.0.1:{},127.0.0.1:{}/{}",
        free_port(),
        server().port,
        db.name
    );
    cmd.args(["--database-url", &url, "db", "migrate", "status"])
        .run()
        .assert_success();
}

/// `crm db migrate status --exit-code` through `url`: 0 on a migrated database, 1 on one that is
/// not (which server a multi-host URL reached).
fn migrate_status(url: &str) -> crate::harness::Output {
    crm()
        .args([
            "--database-url",
            url,
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
}
