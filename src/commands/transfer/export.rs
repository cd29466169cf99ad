//! `export`: `COPY (SELECT ...) TO STDOUT` written as the server sends it.
//!
//! The server renders the CSV itself (RFC 4180, NULL as an empty field), so crm only copies
//! bytes: the SELECT prints money as plain decimals, timestamps as [`output::rfc3339_utc`] does,
//! and empty strings as NULL (CSV as we write it cannot tell them apart, and import reads an
//! empty field as NULL, so a round trip is exact). The filter's values reach COPY, which takes
//! no parameters, through transaction-local settings ([`Filter::copy_sql`]).

use super::target::Target;
use super::{ColumnKind, Entity, ExportArgs, progress};
use crate::commands::listing::{Filter, thousands};
use crate::context::Context;
use crate::output;
use anyhow::{Context as _, Result};
use futures_util::{TryStreamExt, pin_mut};
use std::io::Write;
use std::path::Path;

/// How often (in rows) the progress indicator is told.
const PROGRESS_EVERY: u64 = 4096;

pub async fn run(ctx: &Context, entity: &Entity, filter: &Filter, args: ExportArgs) -> Result<i32> {
    let export = CopyExport {
        columns: &entity.column_names(),
        sql: copy_sql(entity, filter),
        noun: entity.noun,
        singular: entity.singular,
    };
    copy_out(ctx, args.file.as_deref(), filter, export).await
}

/// An export through `COPY (SELECT ...) TO STDOUT (FORMAT csv)`: the CSV header, the COPY
/// statement (whose WHERE clause is `filter.copy_sql()`), and the nouns that count its rows.
pub struct CopyExport<'a> {
    pub columns: &'a [&'a str],
    pub sql: String,
    pub noun: &'a str,
    pub singular: &'a str,
}

/// Streams `export` to `file` (or stdout), atomically for a regular file, with a progress
/// spinner on a terminal and a notice of how many rows went out.
pub async fn copy_out(
    ctx: &Context,
    file: Option<&Path>,
    filter: &Filter,
    export: CopyExport<'_>,
) -> Result<i32> {
    let noun = export.noun;
    // The file first: a folder that does not exist fails before anything else happens.
    let mut target = Target::create(file)?;
    let db = ctx.db().await?;
    let mut conn = db.get().await?;
    // The plain tokio-postgres client: its transaction is what the shared query helpers take.
    let client: &mut tokio_postgres::Client = &mut conn;
    let tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .with_context(|| format!("cannot export {noun}"))?;
    crate::db::batch_execute(&tx, output::SQL_DATESTYLE).await?;
    filter.set_copy_params(&tx).await?;
    let sql = export.sql;
    let started = std::time::Instant::now();
    let stream = tx
        .copy_out(sql.as_str())
        .await
        .with_context(|| format!("cannot export {noun}"))?;
    crate::db::log_sql(&sql, started);
    pin_mut!(stream);

    let bar = progress(ctx, None);
    bar.set_prefix(format!("exporting {noun}"));
    bar.set_message("0 rows");
    let write_failed = |target: &Target| format!("cannot write {}", target.name);
    let header = export.columns.join(",");
    target
        .write_all(header.as_bytes())
        .and_then(|()| target.write_all(b"\n"))
        .with_context(|| write_failed(&target))?;
    // The server sends one CopyData message per row.
    let mut rows: u64 = 0;
    let mut bytes: u64 = 0;
    while let Some(chunk) = stream
        .try_next()
        .await
        .with_context(|| format!("cannot export {noun}"))?
    {
        target
            .write_all(&chunk)
            .with_context(|| write_failed(&target))?;
        rows += 1;
        bytes += chunk.len() as u64;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            bar.set_message(format!(
                "{} rows, {} MiB",
                thousands(rows),
                thousands(bytes / 1024 / 1024)
            ));
        }
    }
    let name = target.name.clone();
    let to_stdout = target.is_stdout();
    let written = target.finish()?;
    tx.commit()
        .await
        .with_context(|| format!("cannot export {noun}"))?;
    written.persist()?;
    bar.finish_and_clear();
    let counted = if rows == 1 { export.singular } else { noun };
    if to_stdout {
        ctx.out
            .notice(format!("exported {} {counted}", thousands(rows)));
    } else {
        ctx.out
            .notice(format!("exported {} {counted} to {name}", thousands(rows)));
    }
    Ok(0)
}

/// `COPY (SELECT <the columns, rendered> FROM <table> WHERE <filter> ORDER BY id) TO STDOUT`.
fn copy_sql(entity: &Entity, filter: &Filter) -> String {
    let select: Vec<String> = entity
        .columns
        .iter()
        .map(|c| {
            let quoted = format!("\"{}\"", c.name);
            match c.kind {
                ColumnKind::Id | ColumnKind::Stock | ColumnKind::Money => quoted,
                ColumnKind::Time => output::sql_rfc3339(&quoted),
                _ => format!("NULLIF({quoted}, '')"),
            }
        })
        .collect();
    format!(
        "COPY (SELECT {} FROM {}{} ORDER BY \"id\") TO STDOUT (FORMAT csv)",
        select.join(", "),
        entity.table_sql(),
        filter.copy_sql()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_query_renders_nulls_money_and_timestamps_as_crm_prints_them() {
        let mut filter = Filter::new();
        filter.search(&["\"name\""], "x");
        let sql = copy_sql(&super::super::PRODUCTS, &filter);
        assert!(sql.starts_with(
            "COPY (SELECT \"id\", NULLIF(\"name\", ''), NULLIF(\"description\", ''), \"price\", \"stock\","
        ));
        assert!(sql.contains(&output::sql_rfc3339("\"createdAt\"")));
        assert!(sql.ends_with(
            "FROM \"Products\" WHERE (\"name\" ILIKE (SELECT substr(NULLIF(current_setting('crm.p1'), ''), 2)::text) ESCAPE '\\') ORDER BY \"id\") TO STDOUT (FORMAT csv)"
        ));
    }
}
