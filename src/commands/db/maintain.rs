//! `crm db maintain`: `VACUUM (ANALYZE)` of each crm table, one at a time, for a cron job.
//!
//! VACUUM and `REINDEX ... CONCURRENTLY` refuse to run inside a transaction block, so every
//! statement runs on its own in autocommit, on a dedicated connection that holds crm's
//! maintenance advisory lock for the run (a second run waits, or with `--no-wait` exits 5).
//! The dead tuples before and after each VACUUM are what the statistics system reports: it is
//! updated asynchronously, so the figures are as of the moment they were read.

use crate::context::Context;
use crate::db::LockArgs;
use crate::db::{self, AdvisoryLock, CRM_TABLES, quote_identifier};
use crate::output::{Rows, Value};
use anyhow::{Context as _, Result};
use clap::Args;
use std::time::Instant;
use tokio_postgres::Client;

/// `crm db maintain`'s options.
#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// ANALYZE only (refresh the planner's statistics), without VACUUM
    #[arg(long)]
    pub analyze_only: bool,

    /// Also rebuild the crm tables' indexes with REINDEX INDEX CONCURRENTLY, first dropping
    /// the invalid indexes a failed earlier rebuild left (*_ccnew, *_ccold)
    #[arg(long)]
    pub reindex: bool,

    /// List what would run, change nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub lock: LockArgs,
}

/// The crm tables this database has, in [`CRM_TABLES`]' order, with their sizes on disk: the
/// heap alone (what ANALYZE samples), and with its indexes and TOAST (what VACUUM reads).
const PRESENT_TABLES: &str = "SELECT c.relname::text, pg_relation_size(c.oid), \
       pg_total_relation_size(c.oid) FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
       AND c.relname::text = ANY($1::text[]) \
     ORDER BY array_position($1::text[], c.relname::text)";

/// The crm tables' indexes; `leftover`: an invalid one that a failed `REINDEX CONCURRENTLY`
/// left (PostgreSQL names its copies `<index>_ccnew` and `<index>_ccold`, with a digit when
/// taken); and its size on disk.
const INDEXES: &str = "SELECT n.nspname::text, ic.relname::text, \
       NOT i.indisvalid AND ic.relname ~ '_cc(new|old)[0-9]*$', pg_relation_size(ic.oid) \
     FROM pg_index i \
     JOIN pg_class ic ON ic.oid = i.indexrelid \
     JOIN pg_class t ON t.oid = i.indrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE n.nspname = current_schema() AND t.relname::text = ANY($1::text[]) \
     ORDER BY array_position($1::text[], t.relname::text), ic.relname";

const DEAD_TUPLES: &str = "SELECT n_dead_tup FROM pg_stat_user_tables \
     WHERE schemaname = current_schema() AND relname::text = $1";

/// The statistics a session reads are a snapshot until its transaction ends; make sure the
/// figures after a VACUUM are read fresh.
const CLEAR_SNAPSHOT: &str = "SELECT pg_stat_clear_snapshot()";

/// One statement of the run.
struct Step {
    sql: String,
    /// For a VACUUM: the table whose dead tuples are counted before and after.
    table: Option<String>,
    /// Its share of the run's progress: the bytes of the relation it reads (at least a page),
    /// since a statement's time grows with them.
    weight: u64,
}

/// A statement's weight: the bytes of its relation, at least one page (an empty table's VACUUM
/// or the DROP of an index still costs a round trip).
fn weight(bytes: i64) -> u64 {
    const PAGE: u64 = 8192;
    u64::try_from(bytes).unwrap_or(0).max(PAGE)
}

pub async fn run(ctx: &Context, args: MaintainArgs) -> Result<()> {
    let database = ctx.session_db("db maintain").await?;
    let client = database.dedicated("db maintain").await?;
    if args.dry_run {
        let steps = plan(&client, &args).await?;
        let mut rows = Rows::new(&["statement", "deadTuplesBefore"]);
        for step in &steps {
            let before = match &step.table {
                Some(table) => dead_tuples(&client, table)
                    .await?
                    .map_or(Value::Null, Value::Int),
                None => Value::Null,
            };
            rows.push(vec![step.sql.clone().into(), before]);
        }
        rows.footer = Some(format!("{} statements would run", steps.len()));
        ctx.out.rows(&rows)?;
        return Ok(());
    }
    AdvisoryLock::Maintain
        .acquire(&client, args.lock.no_wait, &ctx.out)
        .await?;
    let result = maintain(ctx, &client, &args).await;
    let released = AdvisoryLock::Maintain.release(&client).await;
    result?;
    released
}

/// The statements to run: leftovers of a failed rebuild dropped first, then each table
/// vacuumed (or analyzed), then each index rebuilt.
async fn plan(client: &Client, args: &MaintainArgs) -> Result<Vec<Step>> {
    let tables: Vec<(String, i64, i64)> = db::query(client, PRESENT_TABLES, &[&&CRM_TABLES[..]])
        .await
        .context("cannot list the crm tables")?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut steps = Vec::new();
    let mut rebuilds = Vec::new();
    if args.reindex {
        let indexes = db::query(client, INDEXES, &[&&CRM_TABLES[..]])
            .await
            .context("cannot list the crm tables' indexes")?;
        for r in &indexes {
            let (schema, name, leftover, bytes): (String, String, bool, i64) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let qualified = format!("{}.{}", quote_identifier(&schema), quote_identifier(&name));
            match leftover {
                true => steps.push(Step {
                    sql: format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"),
                    table: None,
                    weight: weight(0),
                }),
                // REINDEX CONCURRENTLY reads the table to build the index anew; the index's
                // size is what grows with it and tells one rebuild's share from another's.
                false => rebuilds.push(Step {
                    sql: format!("REINDEX INDEX CONCURRENTLY {qualified}"),
                    table: None,
                    weight: weight(bytes),
                }),
            }
        }
    }
    for (table, heap, total) in tables {
        let (sql, bytes) = match args.analyze_only {
            true => (format!("ANALYZE {}", quote_identifier(&table)), heap),
            false => (
                format!("VACUUM (ANALYZE) {}", quote_identifier(&table)),
                total,
            ),
        };
        let table = (!args.analyze_only).then_some(table);
        steps.push(Step {
            sql,
            table,
            weight: weight(bytes),
        });
    }
    steps.extend(rebuilds);
    Ok(steps)
}

async fn dead_tuples(client: &Client, table: &str) -> Result<Option<i64>> {
    let rows = db::query(client, DEAD_TUPLES, &[&table])
        .await
        .with_context(|| format!("cannot read the dead tuples of {table}"))?;
    Ok(rows.first().map(|r| r.get(0)))
}

async fn maintain(ctx: &Context, client: &Client, args: &MaintainArgs) -> Result<()> {
    let steps = plan(client, args).await?;
    let started = Instant::now();
    // Weighted by size, so that the bar and its time left follow the bytes to go through
    // rather than the count of statements (a large table's rebuild is most of a run).
    let bar = ctx.out.progress(Some(steps.iter().map(|s| s.weight).sum()));
    bar.set_prefix("maintain");
    let mut rows = Rows::new(&["statement", "deadTuplesBefore", "deadTuplesAfter", "ms"]);
    let (mut dead_before, mut dead_after) = (0_i64, 0_i64);
    for step in &steps {
        bar.set_message(step.sql.clone());
        let before = match &step.table {
            Some(table) => dead_tuples(client, table).await?,
            None => None,
        };
        let began = Instant::now();
        db::batch_execute(client, &step.sql)
            .await
            .with_context(|| format!("{} failed", step.sql))?;
        let ms = i64::try_from(began.elapsed().as_millis()).unwrap_or(i64::MAX);
        let after = match &step.table {
            Some(table) => {
                db::query(client, CLEAR_SNAPSHOT, &[]).await?;
                dead_tuples(client, table).await?
            }
            None => None,
        };
        dead_before += before.unwrap_or(0);
        dead_after += after.unwrap_or(0);
        rows.push(vec![
            step.sql.clone().into(),
            before.map_or(Value::Null, Value::Int),
            after.map_or(Value::Null, Value::Int),
            Value::Int(ms),
        ]);
        bar.inc(step.weight);
    }
    bar.finish_and_clear();
    ctx.out.rows(&rows)?;
    let vacuumed = steps.iter().filter(|s| s.table.is_some()).count();
    let mut summary = format!(
        "ran {} statements in {:.1} s",
        steps.len(),
        started.elapsed().as_secs_f64()
    );
    if vacuumed > 0 {
        summary.push_str(&format!(
            "; dead tuples in the {vacuumed} vacuumed tables: {dead_before} before, {dead_after} \
             after (as the statistics report them; VACUUM cannot remove rows that an open \
             transaction may still see)"
        ));
    }
    ctx.out.notice(summary);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_weighs_the_bytes_of_its_relation_and_at_least_a_page() {
        assert_eq!(weight(0), 8192);
        assert_eq!(weight(-1), 8192);
        assert_eq!(weight(8192 * 1000), 8_192_000);
        // A 1 GB index is 100,000 times a small one's share, not one statement among many.
        assert_eq!(weight(1 << 30) / weight(8192), 131_072);
    }
}
