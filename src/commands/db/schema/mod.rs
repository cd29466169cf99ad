//! `crm db schema diff`: the live schema against the one this crm's migrations make, built in a
//! scratch database on the same server (dropped afterwards, on every path), or in crm's local
//! cluster when the server refuses `CREATE DATABASE`. One row per difference, judged
//! `compatible` or `drift` ([`compare`]); exit 1 on drift. `db health`'s `schema` check is built
//! on [`differences`].

pub mod compare;
pub mod snapshot;

use crate::context::Context;
use crate::db::scratch::Scratch;
use crate::db::{Database, local};
use crate::error::ExitStatus;
use crate::output::{Output, Rows, Value};
use anyhow::{Context as _, Result};
use clap::Subcommand;
use compare::{Difference, Verdict};
use snapshot::Snapshot;
use tokio_postgres::error::SqlState;

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Compare the live schema with the one crm's migrations make: one row per difference,
    /// compatible or drift; exit 1 on drift
    Diff,
}

impl SchemaCommand {
    pub async fn run(self, ctx: &Context) -> Result<ExitStatus> {
        match self {
            SchemaCommand::Diff => diff(ctx).await,
        }
    }
}

const COLUMNS: &[&str] = &["object", "kind", "expected", "actual", "verdict"];

async fn diff(ctx: &Context) -> Result<ExitStatus> {
    let db = ctx.db().await?;
    let differences = differences(db, &ctx.out, Fallback::LocalCluster).await?;
    let drift = differences
        .iter()
        .filter(|d| d.verdict == Verdict::Drift)
        .count();
    let mut rows = Rows::new(COLUMNS);
    for d in &differences {
        rows.push(vec![
            Value::from(d.object.as_str()),
            d.kind.into(),
            d.expected.as_str().into(),
            d.actual.as_str().into(),
            d.verdict.as_str().into(),
        ]);
    }
    rows.footer = Some(match (differences.len(), drift) {
        (0, _) => "the schema is the one crm's migrations make".to_string(),
        (n, 0) => format!("{n} differences, all compatible: crm works on this schema"),
        (n, d) => format!("{n} differences, {d} of them drift"),
    });
    ctx.out.rows(&rows)?;
    if drift > 0 {
        ctx.out.warn(format!(
            "the schema has drifted from crm's migrations in {drift} place{}",
            if drift == 1 { "" } else { "s" }
        ));
        return Ok(ExitStatus::FOUND);
    }
    Ok(ExitStatus::SUCCESS)
}

/// Where crm's schema is built when the server refuses `CREATE DATABASE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// In crm's local cluster (started if need be): for `db schema diff`.
    LocalCluster,
    /// Nowhere: the refusal is the error (`db health`, which must not start servers).
    None,
}

/// Every difference between the schema of `db` and the one crm's migrations make.
pub async fn differences(
    db: &Database,
    out: &Output,
    fallback: Fallback,
) -> Result<Vec<Difference>> {
    match Scratch::create(db, &scratch_prefix(&db.settings.dbname)).await {
        Ok(scratch) => compare_with(db, scratch, out).await,
        Err(e) if is_refused(&e) && fallback == Fallback::LocalCluster => {
            out.notice(
                "notice: the server refuses CREATE DATABASE to this role: building crm's schema \
                 in crm's local cluster instead",
            );
            let local = local::Cluster::from_env()?.ensure_running(out).await?;
            let local = Database::with_settings(local).await?;
            let scratch = Scratch::create(&local, &scratch_prefix(&db.settings.dbname)).await?;
            compare_with(db, scratch, out).await
        }
        Err(e) => Err(e.context("cannot build the schema crm's migrations make")),
    }
}

/// `<database>_schema_diff`: the start of the scratch database's name, which says whose it is
/// (the database's name cut to 40 bytes, so that the whole fits PostgreSQL's 63).
fn scratch_prefix(database: &str) -> String {
    let mut end = database.len().min(40);
    while !database.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}_schema_diff", &database[..end])
}

/// crm's migrations applied to `scratch`, read back, then `db`'s schema, compared; the scratch
/// database is dropped on every path.
async fn compare_with(
    db: &Database,
    scratch: Scratch<'_>,
    out: &Output,
) -> Result<Vec<Difference>> {
    let result: Result<Vec<Difference>> = async {
        let mut client = scratch.connect().await?;
        crate::db::schema::apply_all(&mut client)
            .await
            .context("cannot build the schema crm's migrations make")?;
        let expected = Snapshot::read(&mut client, None).await?;
        drop(client);
        let actual = Snapshot::read(&mut db.own_connection().await?, Some(out)).await?;
        Ok(compare::compare(&expected, &actual))
    }
    .await;
    let dropped = scratch.drop_now().await;
    let differences = result?;
    dropped?;
    Ok(differences)
}

/// Whether creating the scratch database failed for want of the right to.
pub fn is_refused(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|pg| pg.code())
            == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    })
}
