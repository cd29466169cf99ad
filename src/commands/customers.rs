//! `crm customers`: (being written) list, show, create, update, delete; import and export live
//! in `transfer`.

use crate::commands::listing::{Filter, ListArgs};
use crate::commands::transfer::{self, ExportArgs, ImportArgs};
use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;

/// What `--search` matches: the name as the trigram index `customers_name_trgm_idx` is built,
/// and the e-mail (`customers_email_trgm_idx`).
pub const SEARCH: &[&str] = &[r#"("firstName" || ' ' || "lastName")"#, r#""email""#];

/// The WHERE clause of `list` and `export`.
pub fn filter(search: Option<&str>) -> Filter {
    let mut filter = Filter::new();
    if let Some(text) = search {
        filter.search(SEARCH, text);
    }
    filter
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// List customers
    List(ListArgs),
    /// Import customers from CSV (the header of export; all or nothing by default)
    Import(ImportArgs),
    /// Export customers as CSV, streaming (same filters as list)
    Export(ExportArgs),
}

impl CustomersCommand {
    pub async fn run(self, ctx: &Context) -> Result<i32> {
        match self {
            CustomersCommand::Import(args) => {
                transfer::import(ctx, &transfer::CUSTOMERS, args).await
            }
            CustomersCommand::Export(args) => {
                let filter = filter(args.search.as_deref());
                transfer::export(ctx, &transfer::CUSTOMERS, filter, args).await
            }
            CustomersCommand::List(_) => anyhow::bail!("crm customers list is being written"),
        }
    }
}
