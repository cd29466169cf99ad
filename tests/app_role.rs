//! `crm db create-app-role`: the role it makes may select, insert, update and delete in every
//! crm table and use their sequences, may not create or drop a table; `--read-only` may not
//! write; running it again (either way) brings the role up to date; tables of later migrations
//! are covered; the password works and is shown nowhere. A role that GRANT and REVOKE cannot
//! hold to that (an owner, a member of an owner, of a superuser or of pg_write_all_data, one
//! that writes through another role) is refused with nothing changed, and admin attributes are
//! refused or, with `--strip-attributes`, taken away.

use crate::harness::{TABLES, TestDb, server, sql};

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

    /// `CREATE ROLE <prefix>_<db> <options>`.
    fn create(db: &TestDb, prefix: &str, options: &str) -> Role {
        let role = Role::new(db, prefix);
        sql(db, &format!("CREATE ROLE {} {options}", role.name));
        role
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

/// Everything create-app-role could change, as text to compare before and after: the owners and
/// ACLs of the schema's tables and sequences, the schema's, the database's, default privileges,
/// and the attributes and memberships of this test's roles.
fn privileges_state(db: &TestDb) -> String {
    let suffix = &db.name[2..];
    db.client()
        .query_one(
            "SELECT concat_ws(E'\n', \
               (SELECT string_agg(c.relname || ' ' || c.relowner::regrole::text || ' ' \
                  || coalesce(c.relacl::text, '-'), E'\n' ORDER BY c.relname) \
                FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace \
                  AND c.relkind IN ('r', 'p', 'S')), \
               (SELECT 'schema ' || coalesce(nspacl::text, '-') FROM pg_namespace \
                WHERE nspname = current_schema()), \
               (SELECT 'database ' || coalesce(datacl::text, '-') FROM pg_database \
                WHERE datname = current_database()), \
               (SELECT 'defaults ' || coalesce(string_agg(defaclrole::regrole::text || ' ' \
                  || defaclobjtype::text || ' ' || defaclacl::text, ', ' \
                  ORDER BY defaclrole, defaclobjtype), '-') \
                FROM pg_default_acl), \
               (SELECT string_agg(row(r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, \
                  r.rolbypassrls, r.rolreplication, r.rolcanlogin, r.rolpassword, \
                  ARRAY(SELECT m.roleid::regrole::text FROM pg_auth_members m \
                    WHERE m.member = r.oid ORDER BY 1))::text, E'\n' ORDER BY r.rolname) \
                FROM pg_roles r WHERE right(r.rolname, length($1)) = $1))",
            &[&suffix],
        )
        .unwrap()
        .get(0)
}

/// Runs `crm db create-app-role NAME EXTRA...` and checks that it exits 5 naming the role and
/// `reason`, with nothing changed.
fn assert_refused(db: &TestDb, name: &str, extra: &[&str], reason: &str) {
    let before = privileges_state(db);
    db.crm()
        .args(["db", "create-app-role", name])
        .args(extra)
        .run()
        .assert_code(5)
        .assert_stderr_contains(&format!(
            "error: cannot create the application role: role {name} "
        ))
        .assert_stderr_contains(reason)
        .assert_stderr_contains("nothing was changed");
    assert_eq!(
        privileges_state(db),
        before,
        "{name} {extra:?} changed something"
    );
}

/// Makes `owner` the owner of every crm table (and so of their sequences), as when the
/// migrations ran as it.
fn give_tables_to(db: &TestDb, owner: &Role) {
    for table in TABLES {
        sql(
            db,
            &format!(r#"ALTER TABLE "{table}" OWNER TO {}"#, owner.name),
        );
    }
}

#[test]
fn the_owner_of_the_tables_is_refused_and_keeps_its_rights() {
    let db = TestDb::migrated();
    let owner = Role::create(&db, "own", "LOGIN");
    give_tables_to(&db, &owner);
    sql(
        &db,
        &format!("GRANT CREATE ON SCHEMA public TO {}", owner.name),
    );

    let owns = "cannot be held to least privilege: it owns table \"public\".";
    assert_refused(&db, &owner.name, &[], owns);
    assert_refused(&db, &owner.name, &["--read-only"], owns);
    assert_refused(&db, &owner.name, &["--strip-attributes"], owns);

    // Its rights are whole: later migrations can still run as it.
    let mut migrations = owner.client();
    migrations
        .batch_execute(
            r#"CREATE TABLE "Later" ("id" SERIAL PRIMARY KEY);
               ALTER TABLE "Users" ADD COLUMN "nickname" TEXT;
               TRUNCATE "OrderItems";
               DELETE FROM "Customers""#,
        )
        .unwrap();
}

#[test]
fn a_member_of_the_owner_is_refused() {
    let db = TestDb::migrated();
    let owner = Role::create(&db, "own", "NOLOGIN");
    give_tables_to(&db, &owner);
    let member = Role::create(&db, "mem", &format!("LOGIN IN ROLE {}", owner.name));
    // Without INHERIT it may still SET ROLE to the owner.
    let setter = Role::create(
        &db,
        "set",
        &format!("LOGIN NOINHERIT IN ROLE {}", owner.name),
    );

    for role in [&member, &setter] {
        let reason = format!(
            "it is a member of role {}, which owns table \"public\".",
            owner.name
        );
        assert_refused(&db, &role.name, &[], &reason);
        assert_refused(&db, &role.name, &["--read-only"], &reason);
    }
    let mut setter = setter.client();
    setter
        .batch_execute(&format!(
            r#"SET ROLE {}; DROP TABLE "NotificationPreferences""#,
            owner.name
        ))
        .unwrap();
}

#[test]
fn a_member_of_pg_write_all_data_or_pg_read_all_data_is_refused() {
    let db = TestDb::migrated();
    // Indirectly: through a group of its own.
    let writers = Role::create(&db, "writers", "NOLOGIN IN ROLE pg_write_all_data");
    let writer = Role::create(&db, "w", &format!("LOGIN IN ROLE {}", writers.name));
    let reader = Role::create(&db, "r", "LOGIN IN ROLE pg_read_all_data");

    let writes = "it is a member of pg_write_all_data, which may insert, update and delete in \
                  every table of every database";
    assert_refused(&db, &writer.name, &["--read-only"], writes);
    assert_refused(&db, &writer.name, &[], writes);
    let reads = "it is a member of pg_read_all_data, which may read every table";
    assert_refused(&db, &reader.name, &["--read-only"], reads);
    assert_refused(&db, &reader.name, &[], reads);
}

#[test]
fn a_read_only_role_that_writes_through_another_role_is_refused() {
    let db = TestDb::migrated();
    let editors = Role::create(&db, "editors", "NOLOGIN");
    sql(
        &db,
        &format!(
            r#"GRANT SELECT, INSERT, DELETE ON "Customers" TO {0};
               GRANT UPDATE ("stock") ON "Products" TO {0}"#,
            editors.name
        ),
    );
    let reporter = Role::create(&db, "rep", &format!("LOGIN IN ROLE {}", editors.name));
    assert_refused(
        &db,
        &reporter.name,
        &["--read-only"],
        &format!(
            "through role {} it may INSERT, DELETE on \"public\".\"Customers\" (and on one more \
             crm table or sequence)",
            editors.name
        ),
    );
    // Row changes are what an application role may do anyway.
    db.crm()
        .args(["db", "create-app-role", &reporter.name])
        .run()
        .assert_success();

    // PUBLIC's privileges are every role's, even a new one's.
    sql(&db, r#"GRANT TRUNCATE ON "Orders" TO PUBLIC"#);
    let new = Role::new(&db, "new");
    assert_refused(
        &db,
        &new.name,
        &[],
        "PUBLIC (so every role) may TRUNCATE on \"public\".\"Orders\"",
    );
    assert_eq!(
        crate::harness::count(
            &db,
            &format!(
                "SELECT count(*) FROM pg_roles WHERE rolname = '{}'",
                new.name
            )
        ),
        0
    );
}

#[test]
fn admin_attributes_are_refused_or_stripped() {
    let db = TestDb::migrated();
    let role = Role::create(
        &db,
        "adm",
        "LOGIN CREATEROLE CREATEDB BYPASSRLS REPLICATION",
    );
    let attributes = |db: &TestDb| -> String {
        db.client()
            .query_one(
                "SELECT concat_ws(' ', rolcreaterole, rolcreatedb, rolbypassrls, \
                   rolreplication, rolcanlogin) FROM pg_roles WHERE rolname = $1",
                &[&role.name],
            )
            .unwrap()
            .get(0)
    };
    for extra in [&[][..], &["--read-only"][..]] {
        assert_refused(
            &db,
            &role.name,
            extra,
            &format!(
                "role {} has CREATEROLE, CREATEDB, BYPASSRLS, REPLICATION, which a \
                 least-privilege role must not have: --strip-attributes takes them away",
                role.name
            ),
        );
    }
    assert_eq!(attributes(&db), "t t t t t");

    db.crm()
        .args(["db", "create-app-role", &role.name, "--strip-attributes"])
        .run()
        .assert_success()
        .assert_stderr_contains(&format!(
            "took CREATEROLE, CREATEDB, BYPASSRLS, REPLICATION away from role {}",
            role.name
        ));
    assert_eq!(attributes(&db), "f f f f t");
    let mut app = role.client();
    app.batch_execute(r#"SELECT * FROM "Users""#).unwrap();
    assert_eq!(refused(&mut app, "CREATE ROLE sneaky"), "42501");

    // A membership cannot be stripped: a member of a role that has CREATEDB is refused anyway.
    let creators = Role::create(&db, "creators", "NOLOGIN CREATEDB");
    let member = Role::create(&db, "mem", &format!("LOGIN IN ROLE {}", creators.name));
    assert_refused(
        &db,
        &member.name,
        &["--strip-attributes"],
        &format!(
            "it is a member of role {}, which has CREATEDB (a member can SET ROLE to it)",
            creators.name
        ),
    );
}

#[test]
fn a_superuser_or_a_member_of_one_is_refused_even_with_strip_attributes() {
    let db = TestDb::migrated();
    let superuser = Role::create(&db, "su", "LOGIN SUPERUSER");
    assert_refused(
        &db,
        &superuser.name,
        &["--strip-attributes"],
        "is a superuser, which no privilege limits",
    );
    let deputy = Role::create(&db, "dep", &format!("LOGIN IN ROLE {}", superuser.name));
    let reason = format!(
        "it is a member of role {}, which has SUPERUSER (a member can SET ROLE to it)",
        superuser.name
    );
    assert_refused(&db, &deputy.name, &[], &reason);
    assert_refused(
        &db,
        &deputy.name,
        &["--read-only", "--strip-attributes"],
        &reason,
    );
}
