//! (being written) CSV import and export of customers and products through PostgreSQL's COPY.

use crate::commands::listing::Filter;
use crate::context::Context;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// What import and export need to know of an entity.
pub struct Entity {
    /// The table, unquoted: `Customers`.
    pub table: &'static str,
    /// Plural noun for messages: `customers`.
    pub noun: &'static str,
}

pub static CUSTOMERS: Entity = Entity {
    table: "Customers",
    noun: "customers",
};

pub static PRODUCTS: Entity = Entity {
    table: "Products",
    noun: "products",
};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file, or - for standard input
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to FILE (atomically) instead of standard output; - is standard output
    pub file: Option<PathBuf>,

    /// Only rows containing TEXT (as list --search)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
}

pub async fn import(_ctx: &Context, entity: &Entity, _args: ImportArgs) -> Result<i32> {
    anyhow::bail!("crm {} import is being written", entity.noun)
}

pub async fn export(
    _ctx: &Context,
    entity: &Entity,
    _filter: Filter,
    _args: ExportArgs,
) -> Result<i32> {
    anyhow::bail!("crm {} export is being written", entity.noun)
}
