//! CSV import and export of customers and products, streaming through PostgreSQL's COPY in
//! constant memory however large the table.
//!
//! `export` runs `COPY (SELECT ...) TO STDOUT` and writes what the server sends as it arrives,
//! to stdout or to a temporary file renamed into place ([`target`]). `import` reads the CSV a
//! row at a time, checks every value in Rust ([`rows`]), streams the good rows into a temporary
//! table with `COPY ... FROM STDIN`, and only when the whole file is good moves them into the
//! real table with one `INSERT ... SELECT` ([`write`]); everything happens in one transaction,
//! so a bad file, a conflict or Ctrl-C leaves the table as it was.

mod export;

pub use export::{Cell, CopyExport, copy_out};
mod import;
mod rows;
mod target;
mod write;

use crate::commands::listing::Filter;
use crate::context::Context;
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// What import and export need to know of an entity.
pub struct Entity {
    /// The table, unquoted: `Customers`.
    pub table: &'static str,
    /// Plural noun for messages: `customers`.
    pub noun: &'static str,
    /// Singular noun for messages: `customer`.
    pub singular: &'static str,
    /// The table's columns, in the table's (and export's) order.
    pub columns: &'static [Column],
    /// Whether a row without an id is known by its e-mail (case-insensitively): customers.
    pub keyed_by_email: bool,
}

/// One column of an entity, as CSV carries it.
pub struct Column {
    /// The database's own name, which is also the CSV header's.
    pub name: &'static str,
    pub kind: ColumnKind,
    /// The header must name it, and no row may leave it empty.
    pub required: bool,
}

/// How a column's values are checked, stored and printed. An empty field is NULL, except
/// where the kind says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// The SERIAL key: a whole number from 1; empty or absent, the sequence assigns one.
    Id,
    /// VARCHAR(255).
    Text,
    /// VARCHAR(255) that must not be blank (a product's name).
    Name,
    /// TEXT, any length.
    LongText,
    /// An e-mail address, stored lower-cased.
    Email,
    Phone,
    /// DECIMAL(10,2), not negative.
    Money,
    /// A non-negative INTEGER.
    Stock,
    /// TIMESTAMP WITH TIME ZONE NOT NULL: empty or absent, the time of the import.
    Time,
}

impl ColumnKind {
    /// The type of the column in the import's temporary table.
    fn sql_type(self) -> &'static str {
        match self {
            ColumnKind::Id | ColumnKind::Stock => "int4",
            ColumnKind::Money => "numeric(10,2)",
            ColumnKind::Time => "timestamptz",
            ColumnKind::Text
            | ColumnKind::Name
            | ColumnKind::LongText
            | ColumnKind::Email
            | ColumnKind::Phone => "text",
        }
    }
}

const fn column(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        required: false,
    }
}

const fn required(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        required: true,
    }
}

pub static CUSTOMERS: Entity = Entity {
    table: crate::commands::customers::TABLE.name,
    noun: crate::commands::customers::TABLE.plural,
    singular: crate::commands::customers::TABLE.noun,
    columns: &[
        column("id", ColumnKind::Id),
        column("firstName", ColumnKind::Text),
        column("lastName", ColumnKind::Text),
        column("email", ColumnKind::Email),
        column("phone", ColumnKind::Phone),
        column("address", ColumnKind::LongText),
        column("totalPurchases", ColumnKind::Money),
        column("createdAt", ColumnKind::Time),
        column("updatedAt", ColumnKind::Time),
    ],
    keyed_by_email: true,
};

pub static PRODUCTS: Entity = Entity {
    table: crate::commands::products::TABLE.name,
    noun: crate::commands::products::TABLE.plural,
    singular: crate::commands::products::TABLE.noun,
    columns: &[
        column("id", ColumnKind::Id),
        required("name", ColumnKind::Name),
        column("description", ColumnKind::LongText),
        required("price", ColumnKind::Money),
        column("stock", ColumnKind::Stock),
        column("category", ColumnKind::Text),
        column("image", ColumnKind::Text),
        column("createdAt", ColumnKind::Time),
        column("updatedAt", ColumnKind::Time),
    ],
    keyed_by_email: false,
};

impl Entity {
    fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }

    /// The table, quoted for SQL.
    fn table_sql(&self) -> String {
        format!("\"{}\"", self.table)
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

/// Imports a CSV file of `entity`; see [`ImportArgs`].
pub async fn import(ctx: &Context, entity: &Entity, args: ImportArgs) -> Result<()> {
    import::run(ctx, entity, args).await
}

/// Exports the rows of `entity` that `filter` matches as CSV, ordered by id.
pub async fn export(
    ctx: &Context,
    entity: &Entity,
    filter: Filter,
    args: ExportArgs,
) -> Result<()> {
    export::run(ctx, entity, &filter, args).await
}

/// A user's text for one line of a message: control characters escaped, at most `max`
/// characters.
fn shown(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CSV columns are the columns `list` and `show` print, in the same order, so that
    /// an export and a list agree and an import takes what a list showed.
    #[test]
    fn the_csv_columns_are_the_tables_columns() {
        for (entity, table) in [
            (&CUSTOMERS, &crate::commands::customers::TABLE),
            (&PRODUCTS, &crate::commands::products::TABLE),
        ] {
            let names: Vec<&str> = entity.columns.iter().map(|c| c.name).collect();
            assert_eq!(names, table.columns, "{}", entity.table);
        }
    }
}
