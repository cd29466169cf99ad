//! `crm products`: (being written) list, show, create, update, delete, stock, low-stock; import
//! and export live in `transfer`.

use crate::commands::listing::{Filter, ListArgs};
use crate::commands::transfer::{self, ExportArgs, ImportArgs};
use crate::context::Context;
use anyhow::Result;
use clap::{Args, Subcommand};

/// What `--search` matches: the name (`products_name_trgm_idx`).
pub const SEARCH: &[&str] = &[r#""name""#];

/// The filters `list` and `export` share besides `--search`.
#[derive(Debug, Args, Clone, Default)]
pub struct ProductFilters {
    /// Only products of this category (exact match)
    #[arg(long, value_name = "CATEGORY")]
    pub category: Option<String>,

    /// Only products with stock above zero
    #[arg(long)]
    pub in_stock: bool,
}

/// The WHERE clause of `list` and `export`.
pub fn filter(search: Option<&str>, filters: &ProductFilters) -> Filter {
    let mut filter = Filter::new();
    if let Some(text) = search {
        filter.search(SEARCH, text);
    }
    if let Some(category) = &filters.category {
        filter.and(r#""category" = $?"#, category.clone());
    }
    if filters.in_stock {
        filter.and_sql(r#""stock" > 0"#);
    }
    filter
}

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// List products
    List(ListArgs),
    /// Import products from CSV (the header of export; all or nothing by default)
    Import(ImportArgs),
    /// Export products as CSV, streaming (same filters as list)
    Export {
        #[command(flatten)]
        args: ExportArgs,
        #[command(flatten)]
        filters: ProductFilters,
    },
}

impl ProductsCommand {
    pub async fn run(self, ctx: &Context) -> Result<i32> {
        match self {
            ProductsCommand::Import(args) => transfer::import(ctx, &transfer::PRODUCTS, args).await,
            ProductsCommand::Export { args, filters } => {
                let filter = filter(args.search.as_deref(), &filters);
                transfer::export(ctx, &transfer::PRODUCTS, filter, args).await
            }
            ProductsCommand::List(_) => anyhow::bail!("crm products list is being written"),
        }
    }
}
