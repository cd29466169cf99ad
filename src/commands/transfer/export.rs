//! `export`: `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, rendered as CSV as it arrives.
//!
//! The server sends the columns as they are stored (binary COPY is the cheapest form it has:
//! no text rendering of numbers and times), and crm writes the CSV: RFC 4180, money as plain
//! decimals, timestamps as [`output::rfc3339_utc`] prints them, NULL and the empty string both
//! as an empty field (CSV as we write it cannot tell them apart, and import reads an empty field
//! as NULL, so a round trip is exact). The filter's values reach COPY, which takes no
//! parameters, through transaction-local settings ([`Filter::copy_sql`]).

use super::SpreadsheetArgs;
use super::target::Target;
use crate::commands::listing::Filter;
use crate::commands::table::{ColumnKind, Table};
use crate::context::Context;
use crate::output::{self, thousands};
use anyhow::{Context as _, Result};
use futures_util::{TryStreamExt, pin_mut};
use std::path::Path;
use time::OffsetDateTime;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::Type;

/// How often (in rows) the progress indicator is told.
const PROGRESS_EVERY: u64 = 4096;

/// How a column arrives in binary COPY and is written to CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
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
            ColumnKind::Id | ColumnKind::Stock | ColumnKind::Reference | ColumnKind::Integer => {
                Cell::Int4
            }
            ColumnKind::Count => Cell::Int8,
            ColumnKind::Money => Cell::Money,
            ColumnKind::Time => Cell::Time,
            ColumnKind::Text
            | ColumnKind::Name
            | ColumnKind::LongText
            | ColumnKind::Email
            | ColumnKind::Phone
            | ColumnKind::Label => Cell::Text,
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

/// Streams the rows of `table` that `filter` matches, in `order` (SQL the code controls), to
/// `file` (or stdout) as CSV through `COPY (SELECT ...) TO STDOUT (FORMAT binary)`: the header
/// is the table's columns, each written as its [`ColumnKind`] says. Atomic for a regular file,
/// with a progress bar on a terminal (of the planner's estimate of the rows; none among rows
/// written to stdout, see [`crate::output::Output::row_progress`]) and a notice of how many
/// rows went out.
pub async fn copy_out(
    ctx: &Context,
    file: Option<&Path>,
    table: &Table,
    filter: &Filter,
    order: &str,
    spreadsheet: SpreadsheetArgs,
) -> Result<()> {
    let columns = table.column_names();
    let cells: Vec<Cell> = table.columns.iter().map(|c| Cell::of(c.kind)).collect();
    let noun = table.plural;
    // The file first: a folder that does not exist fails before anything else happens.
    let target = Target::create(file)?;
    let db = ctx.read_db().await?;
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
    let to_stdout = target.is_stdout();
    let estimate = match ctx.out.shows_row_progress(to_stdout) {
        true => estimate_rows(&tx, table, filter, order)
            .await
            .with_context(|| format!("cannot export {noun}"))?,
        false => None,
    };
    let sql = copy_sql(table, filter, order);
    let started = std::time::Instant::now();
    let raw = tx
        .copy_out(sql.as_str())
        .await
        .with_context(|| format!("cannot export {noun}"))?;
    crate::db::log_sql(&sql, started);
    let types: Vec<Type> = cells.iter().map(|c| c.sql_type()).collect();
    let stream = BinaryCopyOutStream::new(raw, &types);
    pin_mut!(stream);

    let bar = ctx.out.row_progress(estimate, to_stdout);
    bar.set_prefix(format!("exporting {noun}"));
    bar.set_message("0 rows");
    let name = target.name.clone();
    let write_failed = || format!("cannot write {name}");
    let mut csv = csv::WriterBuilder::new()
        // Target buffers already.
        .buffer_capacity(8 * 1024)
        .from_writer(target);
    csv.write_record(&columns).with_context(write_failed)?;
    let mut field = Vec::with_capacity(64);
    let mut rows: u64 = 0;
    while let Some(row) = stream
        .try_next()
        .await
        .with_context(|| format!("cannot export {noun}"))?
    {
        for (i, cell) in cells.iter().enumerate() {
            field.clear();
            render(&row, i, *cell, &mut field)
                .with_context(|| format!("cannot export {noun}: cannot read a value"))?;
            if spreadsheet.safe_spreadsheet && *cell == Cell::Text && is_formula_like(&field) {
                field.insert(0, b'\'');
            }
            csv.write_field(&field).with_context(write_failed)?;
        }
        csv.write_record(None::<&[u8]>).with_context(write_failed)?;
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            bar.set_message(format!("{} rows", thousands(rows)));
            bar.set_position(rows);
            // An estimate may fall short: the bar grows rather than pass its end.
            if estimate.is_some_and(|e| rows > e) {
                bar.set_length(rows);
            }
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
    let counted = if rows == 1 { table.singular } else { noun };
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

/// The planner's estimate of the rows the export's query returns (the table's `reltuples`
/// scaled to its current size, or the filter's selectivity applied to it), for the length of
/// the progress bar; none for an empty estimate. Planning only: nothing is run.
async fn estimate_rows(
    tx: &tokio_postgres::Transaction<'_>,
    table: &Table,
    filter: &Filter,
    order: &str,
) -> Result<Option<u64>> {
    let sql = format!("EXPLAIN (FORMAT JSON) {}", select_sql(table, filter, order));
    let plan: serde_json::Value = crate::db::query_one(tx, &sql, &[]).await?.get(0);
    let rows = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0);
    // A float of the planner's, rounded; an estimate beyond u64 is no estimate.
    Ok((1.0..1e18).contains(&rows).then(|| rows.round() as u64))
}

/// `SELECT <the columns> FROM <table> WHERE <filter> ORDER BY <order>`, every part
/// code-controlled, the filter's values read from settings.
fn select_sql(table: &Table, filter: &Filter, order: &str) -> String {
    format!(
        "SELECT {} FROM {}{} ORDER BY {order}",
        table.select_list(),
        table.from_sql(),
        filter.copy_sql()
    )
}

/// `COPY (SELECT <the columns> FROM <table> WHERE <filter> ORDER BY <order>) TO STDOUT (FORMAT
/// binary)`, every part code-controlled, the filter's values read from settings.
fn copy_sql(table: &Table, filter: &Filter, order: &str) -> String {
    format!(
        "COPY ({}) TO STDOUT (FORMAT binary)",
        select_sql(table, filter, order)
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
        let products = &crate::commands::products::TABLE;
        let sql = copy_sql(products, &filter, r#""id""#);
        assert_eq!(
            sql,
            "COPY (SELECT \"id\", \"name\", \"description\", \"price\", \"stock\", \"category\", \
             \"image\", \"createdAt\", \"updatedAt\" FROM \"Products\" WHERE (\"name\" ILIKE \
             (SELECT substr(NULLIF(current_setting('crm.p1'), ''), 2)::text) ESCAPE '\\') \
             ORDER BY \"id\") TO STDOUT (FORMAT binary)"
        );
        let cells: Vec<Cell> = products.columns.iter().map(|c| Cell::of(c.kind)).collect();
        use Cell::*;
        assert_eq!(
            cells,
            [Int4, Text, Text, Money, Int4, Text, Text, Time, Time]
        );
    }

    /// The orders' and items' exports read the types that their relations' columns have.
    #[test]
    fn the_orders_exports_read_their_columns_types() {
        use crate::commands::orders::{list::ITEMS, order::TABLE};
        let cells = |table: &Table| -> Vec<Cell> {
            table.columns.iter().map(|c| Cell::of(c.kind)).collect()
        };
        use Cell::*;
        assert_eq!(
            cells(&TABLE),
            [Int4, Int4, Text, Text, Money, Int8, Int4, Text, Time, Time]
        );
        assert_eq!(
            cells(&ITEMS),
            [Int4, Int4, Int4, Text, Int4, Money, Money, Time, Time]
        );
    }
}
