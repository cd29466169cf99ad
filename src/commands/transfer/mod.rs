//! CSV import and export of customers and products, streaming through PostgreSQL's COPY in
//! constant memory however large the table.
//!
//! `export` runs `COPY (SELECT ...) TO STDOUT` and writes what the server sends as it arrives,
//! to stdout or to a temporary file renamed into place ([`target`]). `import` reads the CSV a
//! row at a time, checks every value in Rust ([`rows`]), streams the good rows into a temporary
//! table with `COPY ... FROM STDIN`, and only when the whole file is good moves them into the
//! real table with one `INSERT ... SELECT` ([`write`]); everything happens in one transaction,
//! so a bad file, a conflict or Ctrl-C leaves the table as it was.

mod dedupe;
mod export;
mod import;
pub mod matching;
mod rows;
mod target;
mod write;

pub use export::copy_out;

use crate::commands::listing::Filter;
use crate::commands::table::{ColumnKind, Table};
use crate::context::Context;
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

impl ColumnKind {
    /// The type of the column in the import's temporary table.
    fn sql_type(self) -> &'static str {
        match self {
            ColumnKind::Id | ColumnKind::Stock | ColumnKind::Reference | ColumnKind::Integer => {
                "int4"
            }
            ColumnKind::Count => "int8",
            ColumnKind::Money => "numeric(10,2)",
            ColumnKind::Time => "timestamptz",
            ColumnKind::Text
            | ColumnKind::Name
            | ColumnKind::LongText
            | ColumnKind::Email
            | ColumnKind::Phone
            | ColumnKind::Label => "text",
        }
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file, or - for standard input
    pub file: PathBuf,

    /// Check the whole file (values, duplicates, conflicts with existing rows) and say what
    /// would be imported, but write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Import the valid rows and write the invalid ones to the --rejects file, instead of
    /// importing nothing when any row is invalid
    #[arg(long, requires = "rejects")]
    pub skip_invalid: bool,

    /// With --skip-invalid: where the invalid rows go (their columns, plus _line and _error)
    #[arg(long, value_name = "FILE", requires = "skip_invalid")]
    pub rejects: Option<PathBuf>,

    /// What a row whose id (or, for customers without an id, e-mail) already exists does
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = OnConflict::Error)]
    pub on_conflict: OnConflict,

    /// Customers: write to FILE (CSV, atomically, even when nothing is imported) the rows of the
    /// file that look like existing customers by the rules of `customers duplicates`:
    /// line,customerId,score,reasons,email,name,customerEmail,customerName
    #[arg(long, value_name = "FILE")]
    pub dedupe_report: Option<PathBuf>,
}

/// What a row whose key already exists in the table does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnConflict {
    /// Fail (exit 5) naming the rows, and import nothing
    Error,
    /// Leave the existing row as it is and skip the file's
    Skip,
    /// Overwrite the existing row with the file's columns
    Update,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to FILE (atomically) instead of standard output; - is standard output
    pub file: Option<PathBuf>,

    /// Only rows containing TEXT (as list --search)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    #[command(flatten)]
    pub spreadsheet: SpreadsheetArgs,
}

/// For exports that people open in a spreadsheet rather than feed to a script.
#[derive(Debug, Args, Clone, Copy)]
pub struct SpreadsheetArgs {
    /// Prefix text cells that begin with = + - @ (or a tab or carriage return) with ', so that a
    /// spreadsheet shows them instead of running them as formulas
    #[arg(long)]
    pub safe_spreadsheet: bool,
}

/// Imports a CSV file of `table`'s rows; see [`ImportArgs`].
pub async fn import(ctx: &Context, table: &Table, args: ImportArgs) -> Result<()> {
    import::run(ctx, table, args).await
}

/// Exports the rows of `table` that `filter` matches as CSV, ordered by id.
pub async fn export(ctx: &Context, table: &Table, filter: Filter, args: ExportArgs) -> Result<()> {
    copy_out(
        ctx,
        args.file.as_deref(),
        table,
        &filter,
        r#""id""#,
        args.spreadsheet,
    )
    .await
}
