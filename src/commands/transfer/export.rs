//! `export`: `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, rendered as CSV as it arrives.
//!
//! The server sends the columns as they are stored (binary COPY is the cheapest form it has:
//! no text rendering of numbers and times), and crm writes the CSV: RFC 4180, money as plain
//! decimals, timestamps as [`output::rfc3339_utc`] prints them, NULL and the empty string both
//! as an empty field (CSV as we write it cannot tell them apart, and import reads an empty field
//! as NULL, so a round trip is exact). The filter's values reach COPY, which takes no
//! parameters, through transaction-local settings ([`Filter::copy_sql`]).

use super::target::Target;
use super::{ColumnKind, Entity, ExportArgs};
use crate::commands::listing::{Filter, thousands};
use crate::context::Context;
use crate::output;
use anyhow::{Context as _, Result};
use futures_util::{TryStreamExt, pin_mut};
use std::path::Path;
use time::OffsetDateTime;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::Type;

/// How often (in rows) the progress indicator is told.
const PROGRESS_EVERY: u64 = 4096;

pub async fn run(ctx: &Context, entity: &Entity, filter: &Filter, args: ExportArgs) -> Result<()> {
    let cells: Vec<Cell> = entity.columns.iter().map(|c| Cell::of(c.kind)).collect();
    let export = CopyExport {
        columns: &entity.column_names(),
        cells: &cells,
        sql: copy_sql(entity, filter),
        noun: entity.noun,
        singular: entity.singular,
        safe_spreadsheet: args.spreadsheet.safe_spreadsheet,
    };
    copy_out(ctx, args.file.as_deref(), filter, export).await
}

/// How a column arrives in binary COPY and is written to CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Int4,
    Int8,
    /// NUMERIC, written with its stored scale (`1234.50`).
    Money,
    /// TEXT or VARCHAR.
    Text,
    /// TIMESTAMPTZ, written as RFC 3339 in UTC.
    Time,
}

impl Cell {
    fn of(kind: ColumnKind) -> Cell {
        match kind {
            ColumnKind::Id | ColumnKind::Stock => Cell::Int4,
            ColumnKind::Money => Cell::Money,
            ColumnKind::Time => Cell::Time,
            ColumnKind::Text
            | ColumnKind::Name
            | ColumnKind::LongText
            | ColumnKind::Email
            | ColumnKind::Phone => Cell::Text,
        }
    }

    /// The type binary COPY sends it as: the column's own (VARCHAR is sent as TEXT is).
    fn sql_type(self) -> Type {
        match self {
            Cell::Int4 => Type::INT4,
            Cell::Int8 => Type::INT8,
            Cell::Money => Type::NUMERIC,
            Cell::Text => Type::TEXT,
            Cell::Time => Type::TIMESTAMPTZ,
        }
    }
}

/// An export through `COPY (SELECT ...) TO STDOUT (FORMAT binary)`: the CSV header, what each
/// column is, the COPY statement (whose WHERE clause is `filter.copy_sql()`; its SELECT list
/// must give exactly the columns of `cells`, of those types), and the nouns that count its rows.
pub struct CopyExport<'a> {
    pub columns: &'a [&'a str],
    pub cells: &'a [Cell],
    pub sql: String,
    pub noun: &'a str,
    pub singular: &'a str,
    /// `--safe-spreadsheet`: neutralise text cells a spreadsheet would run as a formula.
    pub safe_spreadsheet: bool,
}

/// Streams `export` to `file` (or stdout) as CSV, atomically for a regular file, with a
/// progress spinner on a terminal and a notice of how many rows went out.
pub async fn copy_out(
    ctx: &Context,
    file: Option<&Path>,
    filter: &Filter,
    export: CopyExport<'_>,
) -> Result<()> {
    debug_assert_eq!(export.columns.len(), export.cells.len());
    let noun = export.noun;
    // The file first: a folder that does not exist fails before anything else happens.
    let target = Target::create(file)?;
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
    filter.set_copy_params(&tx).await?;
    let sql = export.sql;
    let started = std::time::Instant::now();
    let raw = tx
        .copy_out(sql.as_str())
        .await
        .with_context(|| format!("cannot export {noun}"))?;
    crate::db::log_sql(&sql, started);
    let types: Vec<Type> = export.cells.iter().map(|c| c.sql_type()).collect();
    let stream = BinaryCopyOutStream::new(raw, &types);
    pin_mut!(stream);

    let bar = ctx.out.progress(None);
    bar.set_prefix(format!("exporting {noun}"));
    bar.set_message("0 rows");
    let name = target.name.clone();
    let to_stdout = target.is_stdout();
    let write_failed = || format!("cannot write {name}");
    let mut csv = csv::WriterBuilder::new()
        // Target buffers already.
        .buffer_capacity(8 * 1024)
        .from_writer(target);
    csv.write_record(export.columns)
        .with_context(write_failed)?;
    let mut field = Vec::with_capacity(64);
    let mut rows: u64 = 0;
    while let Some(row) = stream
        .try_next()
        .await
        .with_context(|| format!("cannot export {noun}"))?
    {
        for (i, cell) in export.cells.iter().enumerate() {
            field.clear();
            render(&row, i, *cell, &mut field)
                .with_context(|| format!("cannot export {noun}: cannot read a value"))?;
            if export.safe_spreadsheet && *cell == Cell::Text && is_formula_like(&field) {
                field.insert(0, b'\'');
            }
            csv.write_field(&field).with_context(write_failed)?;
        }
        csv.write_record(None::<&[u8]>).with_context(write_failed)?;
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            bar.set_message(format!("{} rows", thousands(rows)));
        }
    }
    let target = csv
        .into_inner()
        .map_err(|e| anyhow::Error::from(e.into_error()))
        .with_context(write_failed)?;
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
    Ok(())
}

/// Whether a spreadsheet would take a cell with this text as a formula (OWASP's list: `=`, `+`,
/// `-`, `@`, tab and carriage return).
fn is_formula_like(text: &[u8]) -> bool {
    matches!(
        text.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Column `i` of `row` as CSV text (before quoting) into `out`; NULL leaves it empty.
fn render(
    row: &BinaryCopyOutRow,
    i: usize,
    cell: Cell,
    out: &mut Vec<u8>,
) -> Result<(), tokio_postgres::Error> {
    let mut digits = itoa::Buffer::new();
    match cell {
        Cell::Int4 => {
            if let Some(n) = row.try_get::<Option<i32>>(i)? {
                out.extend_from_slice(digits.format(n).as_bytes());
            }
        }
        Cell::Int8 => {
            if let Some(n) = row.try_get::<Option<i64>>(i)? {
                out.extend_from_slice(digits.format(n).as_bytes());
            }
        }
        Cell::Money => {
            if let Some(d) = row.try_get::<Option<rust_decimal::Decimal>>(i)? {
                use std::io::Write;
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{d}");
            }
        }
        Cell::Text => {
            if let Some(text) = row.try_get::<Option<&str>>(i)? {
                out.extend_from_slice(text.as_bytes());
            }
        }
        Cell::Time => {
            if let Some(t) = row.try_get::<Option<OffsetDateTime>>(i)? {
                output::push_rfc3339_utc(out, t);
            }
        }
    }
    Ok(())
}

/// `COPY (SELECT <the columns> FROM <table> WHERE <filter> ORDER BY id) TO STDOUT (FORMAT binary)`.
fn copy_sql(entity: &Entity, filter: &Filter) -> String {
    let select: Vec<String> = entity
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    format!(
        "COPY (SELECT {} FROM {}{} ORDER BY \"id\") TO STDOUT (FORMAT binary)",
        select.join(", "),
        entity.table_sql(),
        filter.copy_sql()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_the_ones_spreadsheets_would_run() {
        for text in [
            "=1+1",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=cmd|' /C calc'!A0",
        ] {
            assert!(is_formula_like(text.as_bytes()), "{text}");
        }
        for text in ["", "1", "a=b", "'=x", " =x"] {
            assert!(!is_formula_like(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn the_copy_query_selects_the_stored_columns_in_binary() {
        let mut filter = Filter::new();
        filter.search(&["\"name\""], "x");
        let sql = copy_sql(&super::super::PRODUCTS, &filter);
        assert_eq!(
            sql,
            "COPY (SELECT \"id\", \"name\", \"description\", \"price\", \"stock\", \"category\", \
             \"image\", \"createdAt\", \"updatedAt\" FROM \"Products\" WHERE (\"name\" ILIKE \
             (SELECT substr(NULLIF(current_setting('crm.p1'), ''), 2)::text) ESCAPE '\\') \
             ORDER BY \"id\") TO STDOUT (FORMAT binary)"
        );
        let cells: Vec<Cell> = super::super::PRODUCTS
            .columns
            .iter()
            .map(|c| Cell::of(c.kind))
            .collect();
        use Cell::*;
        assert_eq!(
            cells,
            [Int4, Text, Text, Money, Int4, Text, Text, Time, Time]
        );
    }
}
