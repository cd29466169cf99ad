//! What a refused `crm db restore` (or `db backup verify`) must leave as it was, checked in one
//! place: the live database's rows, table by table, and the set of databases named after it.
//! Databases are cluster-wide and other tests run beside this one, so only databases named after
//! the test's own database (or, for a restore test's scratch databases, after the run's process
//! id) are looked at.

use super::cluster::server;
use super::crm::{Crm, Output};
use super::database::{TABLES, TestDb};
use std::fmt::Display;
use std::path::Path;

/// crm's migration history, compared with the tables: a restore brings it back too.
const HISTORY: &str = "refinery_schema_history";

/// Each crm table's (and the migration history's) name, row count and MD5 of its sorted rows,
/// in database `name`.
pub fn checksums(name: &str) -> Vec<(String, i64, String)> {
    let mut client = server().connect(&server().admin_url(name));
    TABLES
        .into_iter()
        .chain([HISTORY])
        .map(|table| {
            let row = client
                .query_one(
                    &format!(
                        r#"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
                           FROM "{table}" t"#
                    ),
                    &[],
                )
                .unwrap_or_else(|e| panic!("cannot read {table} of {name}: {e:?}"));
            (table.to_string(), row.get(0), row.get(1))
        })
        .collect()
}

/// The server's databases whose names start with `prefix`, sorted.
pub fn databases_like(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = server()
        .admin_client()
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname",
            &[&prefix],
        )
        .expect("list the databases")
        .iter()
        .map(|r| r.get(0))
        .collect();
    names.sort();
    names
}

/// Runs `crm` to the end, and checks that it left no scratch database of `db backup verify
/// --restore-test`: those of this run, named after its process id, since other tests' runs go
/// on beside it.
pub fn run_leaving_no_scratch(crm: &mut Crm) -> Output {
    let child = crm.spawn();
    let pid = child.id();
    let out = crm.wait(child);
    let left: Vec<String> = databases_like("crm_verify_")
        .into_iter()
        .filter(|name| name.ends_with(&format!("_{pid}")))
        .collect();
    assert!(left.is_empty(), "scratch databases left: {left:?}\n{out}");
    out
}

/// The live database as a refused restore must leave it: its rows, and the databases named
/// after it (a restore's copy or kept database would be).
pub struct LiveDatabase {
    name: String,
    checksums: Vec<(String, i64, String)>,
    databases: Vec<String>,
}

impl LiveDatabase {
    /// Database `name` as it is now.
    pub fn snapshot(name: &str) -> LiveDatabase {
        LiveDatabase {
            name: name.to_string(),
            checksums: checksums(name),
            databases: databases_like(name),
        }
    }

    /// The rows are as they were and no database named after it came or went; `context` (the
    /// run's output) is shown when not.
    #[track_caller]
    pub fn assert_unchanged(&self, context: &dyn Display) {
        assert_eq!(
            checksums(&self.name),
            self.checksums,
            "the live database's rows changed\n{context}"
        );
        assert_eq!(
            databases_like(&self.name),
            self.databases,
            "a database named after the live one came or went\n{context}"
        );
    }
}

/// Runs `crm --database-url <db> ARGS FILE` and checks that it was refused: exit `code`, stderr
/// containing `message`, the live database's rows as they were, no database named after it
/// added or removed, and no scratch database of a restore test left. Returns the run, for
/// whatever else a test asserts about it.
#[track_caller]
pub fn assert_restore_refused(
    db: &TestDb,
    args: &[&str],
    file: &Path,
    code: i32,
    message: &str,
) -> Output {
    let live = LiveDatabase::snapshot(&db.name);
    let out = run_leaving_no_scratch(db.crm().args(args).arg(file));
    out.assert_code(code).assert_stderr_contains(message);
    live.assert_unchanged(&out);
    out
}
