//! The harness's own tests: the cluster answers as promised, test databases are separate and
//! cleaned up, and the crm runner reports failures without leaking passwords.

use crate::harness::{TestDb, crm, free_port, redact, server};
use postgres::error::SqlState;
use std::panic::{AssertUnwindSafe, catch_unwind};

fn has_table(db: &TestDb, table: &str) -> bool {
    db.client()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .unwrap()
        .get(0)
}

#[test]
fn two_empty_databases_are_distinct_and_isolated() {
    let (a, b) = (TestDb::empty(), TestDb::empty());
    assert_ne!(a.name, b.name);

    a.client()
        .batch_execute("CREATE TABLE probe (id int)")
        .unwrap();

    assert!(has_table(&a, "probe"));
    assert!(
        !has_table(&b, "probe"),
        "a table of {} is visible in {}",
        a.name,
        b.name
    );
}

#[test]
fn a_passing_tests_database_is_dropped() {
    let name = TestDb::empty().name.clone();

    let left = server()
        .admin_client()
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .unwrap();
    assert!(left.is_empty(), "{name} is still there");
}

#[test]
fn the_cluster_answers_on_tcp_and_on_the_socket() {
    let db = TestDb::empty();
    let sql = "SELECT current_database(), inet_server_addr()::text";

    let tcp = db.client().query_one(sql, &[]).unwrap();
    let socket = server()
        .connect(&db.socket_url())
        .query_one(sql, &[])
        .unwrap();

    assert_eq!(tcp.get::<_, String>(0), db.name);
    assert_eq!(
        tcp.get::<_, Option<String>>(1).as_deref(),
        Some("127.0.0.1/32")
    );
    assert_eq!(socket.get::<_, String>(0), db.name);
    assert_eq!(
        socket.get::<_, Option<String>>(1),
        None,
        "not a Unix socket"
    );
}

#[test]
fn members_of_password_users_need_their_password_over_tcp() {
    let db = TestDb::empty();
    let role = format!("pw_{}", db.name);
    server()
        .admin_client()
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'right horse' IN ROLE password_users"
        ))
        .unwrap();
    let s = server();
    let tcp = |password: &str| {
        let url = format!(
            "postgresql://{role}:{password}@{}:{}/{}",
            s.host, s.port, db.name
        );
        postgres::Client::connect(&url, postgres::NoTls).map(drop)
    };

    let wrong = tcp("wrong").expect_err("a wrong password was accepted");
    let right = tcp("right%20horse");
    let socket = postgres::Client::connect(
        &format!(
            "postgresql://{role}@/{}?host={}&port={}",
            db.name,
            s.socket_dir.display(),
            s.port
        ),
        postgres::NoTls,
    );

    // Roles belong to the whole server: drop it before asserting, so a failure leaves none.
    s.admin_client()
        .batch_execute(&format!("DROP ROLE {role}"))
        .unwrap();
    assert_eq!(wrong.code(), Some(&SqlState::INVALID_PASSWORD), "{wrong:?}");
    right.expect("the right password was refused");
    socket.expect("the socket should trust everyone");
}

#[test]
fn free_port_finds_a_port_nothing_listens_on() {
    let port = free_port();

    assert_ne!(port, server().port);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_failed_assertion_shows_the_command_and_its_output_but_no_password() {
    let out = crm()
        .env("PGPASSWORD", "sekrit1")
        .args([
            "--database-url",
            "postgresql://alice:sekrit2@127.0.0.1:1/x?password=sekrit3",
        ])
        .arg("--version")
        .run();

    let panic = catch_unwind(AssertUnwindSafe(|| {
        out.assert_code(99);
    }))
    .expect_err("exit code 99 was expected to fail");
    let message = panic.downcast_ref::<String>().unwrap();

    let command = message.lines().find(|l| l.starts_with("command: "));
    assert_eq!(
        command,
        Some(
            "command: PGPASSWORD=*** crm --database-url \
             'postgresql://alice:***@127.0.0.1:1/x?password=***' --version"
        ),
        "{message}"
    );
    for shown in [
        format!("expected exit code 99, got {}", out.code()),
        format!("status: {}", out.status),
        "--- stdout ---".to_string(),
        "--- stderr ---".to_string(),
    ] {
        assert!(message.contains(&shown), "no {shown:?} in {message}");
    }
}

#[test]
fn redact_hides_passwords_in_urls_and_keywords() {
    let cases = [
        (
            "postgresql://u:p@ss@h:5432/db",
            "postgresql://u:***@h:5432/db",
        ),
        (
            "postgresql://u@h/db?sslmode=require&password=x",
            "postgresql://u@h/db?sslmode=require&password=***",
        ),
        ("host=h password=x user=u", "host=h password=*** user=u"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ];
    for (text, redacted) in cases {
        assert_eq!(redact(text), redacted);
    }
}

#[test]
fn crm_runs_with_a_clean_home_and_stdin() {
    let mut crm = crm();
    crm.stdin("ignored");
    let home = crm.home().to_path_buf();

    let out = crm.arg("--version").run();

    assert!(home.join("crm").is_dir(), "CRM_HOME is made inside HOME");
    assert!(out.command.ends_with("crm --version"), "{}", out.command);
    drop(crm);
    assert!(!home.exists(), "the temporary HOME outlived its Crm");
}

#[test]

fn migrated_template_has_the_crm_tables() {
    let db = TestDb::migrated();

    assert!(has_table(&db, r#""Users""#));
}
