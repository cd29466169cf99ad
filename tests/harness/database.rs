//! One database per test, as crates.io's test database does it: a template migrated once by the
//! real `crm db migrate`, named after the migrations' contents so that a stale one is never
//! reused, and a `CREATE DATABASE ... TEMPLATE` copy of it (or of `template0`) per test, dropped
//! when the test passes and kept for inspection when it fails.
//!
//! There are two templates, one per schema crm must work on: crm's own (its migrations on an
//! empty database) and the original application's (`tests/fixtures/sequelize-app.sql`, the
//! plain dump of what its own `sequelize-cli` made, adopted by `crm db migrate`). The suite runs
//! on the one `CRM_TEST_SCHEMA` names (`crm`, the default, or `app`); tests that are about one
//! schema in particular ask for it by name.

use super::cluster::{causes, server};
use super::crm::{Crm, crm, redact};
use sha2::{Digest, Sha256};
use std::fs;
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// crm's eight tables, the reference's, in the order its migrations create them: the one list
/// every test that goes over all of them uses.
pub const TABLES: [&str; 8] = [
    "Users",
    "Customers",
    "Products",
    "Orders",
    "OrderItems",
    "Notifications",
    "UserNotifications",
    "NotificationPreferences",
];

/// The `pg_advisory_lock` key that serialises building templates across test processes that
/// share one server ("crm_tpl" in ASCII).
const TEMPLATE_LOCK: i64 = 0x0063_726d_5f74_706c;

/// A database of a test's own; dropped when the test passes, kept when it panics.
pub struct TestDb {
    pub name: String,
}

/// The two schemas crm works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// What crm's own migrations make: VARCHAR columns with CHECKs, crm's index names.
    Crm,
    /// What the original application's `sequelize-cli` made (ENUM types, Sequelize's index and
    /// constraint names, `SequelizeMeta`), then adopted by `crm db migrate`.
    App,
}

impl Schema {
    /// The schema the suite runs on: `CRM_TEST_SCHEMA=crm` (the default) or `app`.
    pub fn under_test() -> Schema {
        match std::env::var("CRM_TEST_SCHEMA").as_deref() {
            Err(_) | Ok("") | Ok("crm") => Schema::Crm,
            Ok("app") => Schema::App,
            Ok(other) => panic!("CRM_TEST_SCHEMA={other}: expected crm or app"),
        }
    }
}

/// The application's database as its own tools made it, schema and seed rows: see
/// scripts/make-sequelize-fixture.sh.
pub const APP_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sequelize-app.sql"
);

impl TestDb {
    /// A database with every migration applied, on the schema the suite runs on
    /// ([`Schema::under_test`]), with no rows.
    pub fn migrated() -> TestDb {
        TestDb::on(Schema::under_test())
    }

    /// A database of that schema, every migration applied, with no rows.
    pub fn on(schema: Schema) -> TestDb {
        TestDb::copy_of(template(schema))
    }

    /// The application's database exactly as its tools left it (with its seed rows), not yet
    /// adopted by crm.
    pub fn app_fixture() -> TestDb {
        let db = TestDb::empty();
        load_app_fixture(&db.url());
        db
    }

    /// An empty database, for tests of the migrations themselves.
    pub fn empty() -> TestDb {
        TestDb::copy_of("template0")
    }

    fn copy_of(template: &str) -> TestDb {
        let name = format!("t_{}", random_hex());
        let create = format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#);
        run_sql(&mut server().admin_client(), &create);
        TestDb { name }
    }

    /// Its URL over TCP, as the superuser.
    pub fn url(&self) -> String {
        server().admin_url(&self.name)
    }

    /// Its URL through the server's Unix socket, as the superuser.
    pub fn socket_url(&self) -> String {
        server().socket_url(&self.name)
    }

    /// A superuser connection to it.
    pub fn client(&self) -> postgres::Client {
        server().connect(&self.url())
    }

    /// A `crm --database-url <this database>` command.
    pub fn crm(&self) -> Crm {
        let mut crm = crm();
        crm.arg("--database-url").arg(self.url());
        crm
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let fate = match server().removed_at_exit() {
                true => "until the tests end (CRM_TEST_KEEP_CLUSTER=1 keeps it longer)",
                false => "for inspection",
            };
            eprintln!(
                "the test failed: its database {} is kept {fate}: {}",
                self.name,
                redact(&self.url())
            );
            return;
        }
        let drop = format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, self.name);
        run_sql(&mut server().admin_client(), &drop);
    }
}

/// The migrated template's name, building it on first use unless the server already has it.
fn template(schema: Schema) -> &'static str {
    static CRM: OnceLock<String> = OnceLock::new();
    static APP: OnceLock<String> = OnceLock::new();
    let (cell, prefix) = match schema {
        Schema::Crm => (&CRM, "crm_template"),
        Schema::App => (&APP, "crm_app_template"),
    };
    cell.get_or_init(|| {
        let name = format!("{prefix}_{}", migrations_hash());
        let server = server();
        let mut admin = server.admin_client();
        // Session-level: released when `admin` disconnects, even if building panics.
        run_sql(
            &mut admin,
            &format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"),
        );
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .unwrap_or_else(|e| panic!("cannot look for {name}: {}", causes(&e)))
            .is_some();
        if !exists {
            build_template(&mut admin, &name, schema);
        }
        run_sql(
            &mut admin,
            &format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"),
        );
        name
    })
}

/// Migrates a database under a temporary name with the real binary, and renames it into place
/// only once that succeeded: a half-migrated template is never used. The application's template
/// starts from its fixture and ends without the fixture's seed rows, so that a test starts from
/// the same empty tables on either schema.
fn build_template(admin: &mut postgres::Client, name: &str, schema: Schema) {
    let building = format!("{name}_new");
    run_sql(
        admin,
        &format!(r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#),
    );
    run_sql(
        admin,
        &format!(r#"CREATE DATABASE "{building}" TEMPLATE template0"#),
    );
    let url = server().admin_url(&building);
    if schema == Schema::App {
        load_app_fixture(&url);
    }
    let migrate = crm()
        .arg("--database-url")
        .arg(&url)
        .args(["db", "migrate"])
        .run();
    if migrate.code() != 0 {
        panic!(
            "cannot build the template database: crm db migrate failed (the half-built {building} is kept)\n\n{migrate}"
        );
    }
    if schema == Schema::App {
        let mut client = server().connect(&url);
        run_sql(&mut client, EMPTY_APP_TABLES);
    }
    // Nobody may connect to a template: CREATE DATABASE ... TEMPLATE fails while anyone is.
    // RENAME waits a few seconds for crm's sessions to end.
    run_sql(
        admin,
        &format!(r#"ALTER DATABASE "{building}" WITH ALLOW_CONNECTIONS false"#),
    );
    run_sql(
        admin,
        &format!(r#"ALTER DATABASE "{building}" RENAME TO "{name}""#),
    );
}

/// The application's seed rows out, its sequences back to 1; `SequelizeMeta` and crm's history
/// stay.
const EMPTY_APP_TABLES: &str = r#"TRUNCATE "Users", "Customers", "Products", "Orders", "OrderItems",
    "Notifications", "UserNotifications", "NotificationPreferences" RESTART IDENTITY"#;

/// Loads [`APP_FIXTURE`] into the database at `url` with psql, as a plain dump is loaded.
fn load_app_fixture(url: &str) {
    let psql = super::cluster::server_bin_dir().join("psql");
    let out = std::process::Command::new(&psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"])
        .args(["-f", APP_FIXTURE, "-d", url])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", psql.display()));
    if !out.status.success() {
        panic!(
            "cannot load {APP_FIXTURE} ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs `sql`, or panics with the statement, the server's message and where its log is.
fn run_sql(client: &mut postgres::Client, sql: &str) {
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}{}", causes(&e), server().log_hint()));
}

/// The first 16 hex digits of a SHA-256 over the name and contents of every file in
/// `migrations/`, in name order, and of the application's fixture.
fn migrations_hash() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("cannot list migrations/").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files.push(APP_FIXTURE.into());
    let mut hasher = Sha256::new();
    for file in files {
        let contents =
            fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for part in [file.file_name().unwrap().as_encoded_bytes(), &contents] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 16 random hex digits, different in every call and every process.
fn random_hex() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let seed = (std::process::id(), call, std::time::SystemTime::now());
    format!("{:016x}", RandomState::new().hash_one(seed))
}

/// Runs fixture SQL (one or more statements) in the test's database.
pub fn sql(db: &TestDb, sql: &str) {
    db.client()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("cannot run the fixture SQL: {e:?}\n{sql}"));
}

/// The single bigint a query returns, such as a `count(*)`.
pub fn count(db: &TestDb, sql: &str) -> i64 {
    db.client()
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("cannot run {sql}: {e:?}"))
        .get(0)
}

/// Whether a table (or index, or sequence) of that exact name exists.
pub fn table_exists(db: &TestDb, name: &str) -> bool {
    db.client()
        .query_one("SELECT to_regclass(quote_ident($1)) IS NOT NULL", &[&name])
        .expect("look up a relation")
        .get(0)
}

/// The type of a label column (`Users.role`, `Orders.status`, `Notifications.priority`) as SQL
/// spells it: `character varying(255)` on crm's schema, `"enum_Users_role"` on the application's.
/// Fixture SQL casts a computed or bound text to it (`$1::text::{type}`), since no text->ENUM
/// assignment cast exists; plain string literals need no cast on either schema.
pub fn label_type(db: &TestDb, table: &str, column: &str) -> String {
    db.client()
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = quote_ident($1)::regclass AND attname = $2",
            &[&table, &column],
        )
        .unwrap_or_else(|e| panic!("cannot read the type of {table}.{column}: {e:?}"))
        .get(0)
}

/// Row `id` of `table` as JSON text, every column, for before/after comparisons.
pub fn row_json(db: &TestDb, table: &str, id: i32) -> String {
    db.client()
        .query_one(
            &format!(r#"SELECT row_to_json(t)::text FROM "{table}" t WHERE "id" = $1"#),
            &[&id],
        )
        .unwrap_or_else(|e| panic!("cannot read {table} {id}: {e:?}"))
        .get(0)
}
