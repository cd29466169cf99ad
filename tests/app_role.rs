//! `crm db create-app-role`: the role it makes may select, insert, update and delete in every
//! crm table and use their sequences, may not create or drop a table; `--read-only` may not
//! write; running it again (either way) brings the role up to date; tables of later migrations
//! are covered; the password works and is shown nowhere.

use crate::harness::{TestDb, server, sql};

/// A role of the test's own (roles belong to the whole server), dropped with everything granted
/// to it when the test ends.
struct Role {
    name: String,
    db_name: String,
    db_url: String,
}

impl Role {
    fn new(db: &TestDb, prefix: &str) -> Role {
        Role {
            name: format!("{prefix}_{}", &db.name[2..]),
            db_name: db.name.clone(),
            db_url: db.url(),
        }
    }

    /// A connection to the test's database as this role (trusted over TCP unless it is a
    /// member of password_users).
    fn client(&self) -> postgres::Client {
        let s = server();
        server().connect(&format!(
            "postgresql://{}@{}:{}/{}",
            self.name, s.host, s.port, self.db_name
        ))
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.db_url, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP OWNED BY {0}; DROP ROLE IF EXISTS {0}",
                self.name
            ));
        }
    }
}

/// One row in every crm table, written as the role, each using its table's sequence.
const WRITE_EVERY_TABLE: &str = r#"
INSERT INTO "Users" ("firstName", "lastName", "email", "password", "createdAt", "updatedAt")
  VALUES ('Ada', 'L', 'ada@example.com', 'x', now(), now());
INSERT INTO "Customers" ("firstName", "createdAt", "updatedAt") VALUES ('Grace', now(), now());
INSERT INTO "Products" ("name", "price", "createdAt", "updatedAt") VALUES ('Book', 9.99, now(), now());
INSERT INTO "Orders" ("customerId", "createdBy", "total", "createdAt", "updatedAt")
  SELECT c."id", u."id", 9.99, now(), now() FROM "Customers" c, "Users" u;
INSERT INTO "OrderItems" ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
  SELECT o."id", p."id", 1, 9.99, now(), now() FROM "Orders" o, "Products" p;
INSERT INTO "Notifications" ("type", "title", "message", "createdAt", "updatedAt")
  VALUES ('info', 'Hi', 'Hello', now(), now());
INSERT INTO "UserNotifications" ("userId", "notificationId", "createdAt", "updatedAt")
  SELECT u."id", n."id", now(), now() FROM "Users" u, "Notifications" n;
INSERT INTO "NotificationPreferences" ("userId", "notificationType", "createdAt", "updatedAt")
  SELECT "id", 'info', now(), now() FROM "Users";
"#;

const TABLES: [&str; 8] = [
    "Users",
    "Customers",
    "Products",
    "Orders",
    "OrderItems",
    "Notifications",
    "UserNotifications",
    "NotificationPreferences",
];

/// The SQLSTATE of a statement that must fail.
fn refused(client: &mut postgres::Client, statement: &str) -> String {
    let err = client
        .batch_execute(statement)
        .expect_err(&format!("{statement} should be refused"));
    err.code().map(|c| c.code().to_string()).unwrap_or_default()
}

#[test]
fn the_app_role_may_use_every_crm_table_and_change_no_schema() {
    let db = TestDb::migrated();
    let role = Role::new(&db, "app");
    let out = db
        .crm()
        .args([
            "db",
            "create-app-role",
            &role.name,
            "--password-stdin",
            "-v",
            "-o",
            "csv",
        ])
        .stdin("correct horse battery\n")
        .run();
    out.assert_success()
        .assert_stderr_contains(&format!("created application role {}", role.name))
        .assert_stderr_contains(&format!("ALTER ROLE \"{}\" PASSWORD '***'", role.name));
    assert!(out.stdout.starts_with("object,privileges\n"), "{out}");
    assert!(
        out.stdout
            .contains("\"\"\"public\"\".\"\"Users\"\"\",\"SELECT, INSERT, UPDATE, DELETE\"\n"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("\"\"\"public\"\".\"\"Users_id_seq\"\"\",\"USAGE, SELECT\"\n"),
        "{out}"
    );
    assert_eq!(
        out.stdout.lines().count(),
        17,
        "8 tables and 8 sequences: {out}"
    );
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains("correct horse"),
            "the password is shown: {out}"
        );
        assert!(
            !text.contains("SCRAM-SHA-256$"),
            "the verifier is shown: {out}"
        );
    }

    let mut app = role.client();
    app.batch_execute(WRITE_EVERY_TABLE).unwrap();
    for table in TABLES {
        let rows: i64 = app
            .query_one(&format!(r#"SELECT count(*) FROM "{table}""#), &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, 1, "{table}");
        app.batch_execute(&format!(
            r#"UPDATE "{table}" SET "updatedAt" = now() WHERE "id" IS NOT NULL"#
        ))
        .unwrap();
    }
    for table in TABLES.iter().rev() {
        app.batch_execute(&format!(r#"DELETE FROM "{table}""#))
            .unwrap();
    }
    assert_eq!(refused(&mut app, "CREATE TABLE evil (id int)"), "42501");
    assert_eq!(refused(&mut app, r#"DROP TABLE "OrderItems""#), "42501");
    assert_eq!(refused(&mut app, r#"TRUNCATE "Orders""#), "42501");
    assert_eq!(
        refused(&mut app, r#"ALTER TABLE "Users" ADD COLUMN x int"#),
        "42501"
    );
    assert_eq!(
        refused(&mut app, "SELECT * FROM refinery_schema_history"),
        "42501",
        "the migration history is not a crm table"
    );

    // A table a later migration creates (as the same owner) is covered by default privileges.
    sql(
        &db,
        r#"CREATE TABLE "Later" ("id" SERIAL PRIMARY KEY, "note" TEXT)"#,
    );
    app.batch_execute(r#"INSERT INTO "Later" ("note") VALUES ('hi'); DELETE FROM "Later""#)
        .unwrap();

    // The password is a SCRAM verifier the server accepts.
    sql(&db, &format!("GRANT password_users TO {}", role.name));
    let url = |password: &str| {
        format!(
            "postgresql://{}:{password}@127.0.0.1:{}/{}",
            role.name,
            server().port,
            db.name
        )
    };
    assert!(postgres::Client::connect(&url("correct%20horse%20battery"), postgres::NoTls).is_ok());
    assert!(postgres::Client::connect(&url("wrong"), postgres::NoTls).is_err());
}

#[test]
fn running_it_again_is_harmless_and_read_only_takes_writes_away() {
    let db = TestDb::migrated();
    let role = Role::new(&db, "rep");
    let create = |extra: &[&str]| {
        db.crm()
            .args(["db", "create-app-role", &role.name, "-o", "csv"])
            .args(extra)
            .run()
    };
    let first = create(&[]);
    first
        .assert_success()
        .assert_stderr_contains(&format!("warning: role {} has no password", role.name));
    let again = create(&[]);
    again
        .assert_success()
        .assert_stderr_contains(&format!("updated application role {}", role.name))
        .assert_stdout_eq(&first.stdout);
    assert!(!again.stderr.contains("no password"), "{again}");

    let read_only = create(&["--read-only"]);
    read_only
        .assert_success()
        .assert_stderr_contains(&format!("updated read-only role {}", role.name))
        .assert_stdout_contains("\"\"\"public\"\".\"\"Orders\"\"\",SELECT\n")
        .assert_stdout_contains("\"\"\"public\"\".\"\"Orders_id_seq\"\"\",SELECT\n");
    let mut reporter = role.client();
    for table in TABLES {
        reporter
            .batch_execute(&format!(r#"SELECT * FROM "{table}""#))
            .unwrap();
    }
    assert_eq!(
        refused(
            &mut reporter,
            r#"INSERT INTO "Customers" ("createdAt", "updatedAt") VALUES (now(), now())"#
        ),
        "42501"
    );
    assert_eq!(refused(&mut reporter, r#"DELETE FROM "Users""#), "42501");
    assert_eq!(
        refused(&mut reporter, r#"UPDATE "Products" SET "stock" = 1"#),
        "42501"
    );
    sql(&db, r#"CREATE TABLE "LaterReport" ("id" int)"#);
    reporter
        .batch_execute(r#"SELECT * FROM "LaterReport""#)
        .unwrap();
    assert_eq!(
        refused(&mut reporter, r#"INSERT INTO "LaterReport" VALUES (1)"#),
        "42501"
    );

    // And back: the application role may write again.
    create(&[]).assert_success();
    reporter
        .batch_execute(
            r#"INSERT INTO "Customers" ("createdAt", "updatedAt") VALUES (now(), now())"#,
        )
        .unwrap();
}

#[test]
fn a_bad_role_name_or_a_superuser_is_refused() {
    let db = TestDb::migrated();
    for bad in ["Crm-App", "x\"; DROP TABLE \"Users", "pg_app", "public"] {
        db.crm()
            .args(["db", "create-app-role", bad])
            .run()
            .assert_code(2)
            .assert_stderr_contains("role name");
    }
    let superuser: String = db
        .client()
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    db.crm()
        .args(["db", "create-app-role", &superuser])
        .run()
        .assert_code(5)
        .assert_stderr_contains(&format!("role {superuser} is a superuser"));
    db.crm()
        .args(["db", "create-app-role", "shortpw_x", "--password-stdin"])
        .stdin("short")
        .run()
        .assert_code(2);
    assert_eq!(
        crate::harness::count(
            &db,
            "SELECT count(*) FROM pg_roles WHERE rolname = 'shortpw_x'"
        ),
        0
    );
}
