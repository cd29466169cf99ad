//! `crm orders list`, `show` and `export`: reading orders, with the filters the three share.
//!
//! `list` and `export` read [`order::FROM`], which gives each order its customer's name and
//! item count; `export --items` reads the items with their orders' columns beside them, so that
//! the same filters pick the items of the same orders. Exports stream through COPY.

use super::order::{self, Order, TABLE};
use super::{DateRange, OrderStatus};
use crate::commands::listing::{self, Filter, ListArgs, order_by};
use crate::commands::table::{Column, ColumnKind, Table};
use crate::commands::transfer::copy_out;
use crate::context::Context;
use crate::db::tx::snapshot;
use crate::validate::flag;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// The filters `list` and `export` share besides `--search`.
#[derive(Debug, Args, Clone, Default)]
pub struct OrderFilters {
    /// Only orders with this status
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<OrderStatus>,

    /// Only orders of this customer (an id)
    #[arg(long, value_name = "ID", value_parser = flag::customer_id, allow_negative_numbers = true)]
    pub customer: Option<i32>,

    #[command(flatten)]
    pub dates: DateRange,
}

#[derive(Debug, Args)]
pub struct ListOrdersArgs {
    #[command(flatten)]
    pub list: ListArgs,

    #[command(flatten)]
    pub filters: OrderFilters,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The order's id
    #[arg(value_parser = flag::order_id, allow_negative_numbers = true)]
    pub id: i32,
}

#[derive(Debug, Args)]
pub struct ExportOrdersArgs {
    /// Write to FILE (atomically) instead of standard output; - is standard output
    pub file: Option<PathBuf>,

    /// One row per item (with its order's id, product and line total) instead of per order
    #[arg(long)]
    pub items: bool,

    /// Only orders whose customer's name or e-mail, or notes, contain TEXT (as list --search)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    #[command(flatten)]
    pub spreadsheet: crate::commands::transfer::SpreadsheetArgs,

    #[command(flatten)]
    pub filters: OrderFilters,
}

/// The WHERE clause of `list` and `export`, over a relation whose columns `status`,
/// `customerId` and `created_at` (the order's creation time) are the order's.
fn filter(filters: &OrderFilters, search: Option<&str>, created_at: &str) -> Result<Filter> {
    let mut filter = Filter::new();
    if let Some(status) = filters.status {
        status.filter(&mut filter, r#""status""#);
    }
    if let Some(customer) = filters.customer {
        filter.and(r#""customerId" = $?"#, customer);
    }
    filters.dates.apply(&mut filter, created_at)?;
    if let Some(text) = search {
        filter.search(TABLE.search, text);
    }
    Ok(filter)
}

pub async fn list(ctx: &Context, args: ListOrdersArgs) -> Result<()> {
    let filter = filter(&args.filters, args.list.search.as_deref(), r#""createdAt""#)?;
    let order = order_by(args.list.sort.as_deref(), &TABLE.column_names(), "id")?;
    let client = ctx.read_db().await?.get().await?;
    listing::print(ctx, &**client, &TABLE, &filter, &order, &args.list, |row| {
        Ok(Order::try_from(row)?.values())
    })
    .await
}

pub async fn show(ctx: &Context, args: ShowArgs) -> Result<()> {
    let mut client = ctx.read_db().await?.get().await?;
    let tx = snapshot(&mut client).await?;
    let detail = order::fetch_detail(&*tx, args.id).await?;
    tx.commit().await?;
    order::print(ctx, &detail)
}

/// The items with their orders' columns that the filters read (`status`, `customerId`,
/// `orderCreatedAt`, and for `--search` the customer's name and e-mail and the notes).
const ITEMS_FROM: &str = r#"(SELECT i."id", i."orderId", i."productId",
        p."name" AS "productName", i."quantity", i."price",
        i."quantity" * i."price" AS "lineTotal", i."createdAt", i."updatedAt",
        o."status", o."customerId", o."createdAt" AS "orderCreatedAt", o."notes",
        NULLIF(btrim(concat_ws(' ', c."firstName", c."lastName")), '') AS "customerName",
        c."email" AS "customerEmail"
    FROM "OrderItems" i
    JOIN "Orders" o ON o."id" = i."orderId"
    LEFT JOIN "Products" p ON p."id" = i."productId"
    LEFT JOIN "Customers" c ON c."id" = o."customerId") AS "items""#;

/// The order items as `export --items` reads them: through [`ITEMS_FROM`], with each item's
/// product's name and line total.
pub const ITEMS: Table = Table::new(
    "OrderItems",
    "order item",
    "order items",
    &[
        Column::new("id", ColumnKind::Id),
        Column::new("orderId", ColumnKind::Reference),
        Column::new("productId", ColumnKind::Reference),
        Column::new("productName", ColumnKind::Text),
        Column::new("quantity", ColumnKind::Integer),
        Column::new("price", ColumnKind::Money),
        Column::new("lineTotal", ColumnKind::Money),
        Column::new("createdAt", ColumnKind::Time),
        Column::new("updatedAt", ColumnKind::Time),
    ],
)
.reading(ITEMS_FROM);

pub async fn export(ctx: &Context, args: ExportOrdersArgs) -> Result<()> {
    let search = args.search.as_deref();
    let file = args.file.as_deref();
    if args.items {
        let filter = filter(&args.filters, search, r#""orderCreatedAt""#)?;
        copy_out(
            ctx,
            file,
            &ITEMS,
            &filter,
            r#""orderId", "id""#,
            args.spreadsheet,
        )
        .await
    } else {
        let filter = filter(&args.filters, search, r#""createdAt""#)?;
        copy_out(ctx, file, &TABLE, &filter, r#""id""#, args.spreadsheet).await
    }
}
