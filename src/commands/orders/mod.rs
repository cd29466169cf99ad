//! `crm orders`: placing orders (stock taken under concurrency), their lifecycle, listing,
//! export, and the sales reports.
//!
//! SPEC.md's invariants hold after every command here: `Orders.total` is the sum of its items'
//! quantity x price, stock never goes below zero, and `Customers.totalPurchases` is the sum of
//! the customer's completed orders.

pub mod create;
pub mod lifecycle;
pub mod list;
pub mod report;

use crate::context::Context;
use anyhow::Result;
use clap::{Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders (filters: --status, --customer, --since, --until)
    List(list::ListOrdersArgs),

    /// Show an order with its customer, creator and items
    Show(list::ShowArgs),

    /// Place an order: prices taken from the products now, stock decremented, in one transaction
    Create(create::CreateArgs),

    /// Move an order to another status (pending -> processing -> completed; -> cancelled)
    SetStatus(lifecycle::SetStatusArgs),

    /// Cancel an order and put its items back in stock
    Cancel(lifecycle::CancelArgs),

    /// Stream orders (or, with --items, their items) as CSV or JSON to FILE or stdout
    Export(list::ExportOrdersArgs),

    /// Sales, products and customers reports, aggregated in SQL
    #[command(subcommand)]
    Report(report::ReportCommand),
}

impl OrdersCommand {
    pub async fn run(self, ctx: &Context) -> Result<i32> {
        match self {
            OrdersCommand::List(args) => list::list(ctx, args).await?,
            OrdersCommand::Show(args) => list::show(ctx, args).await?,
            OrdersCommand::Create(args) => create::run(ctx, args).await?,
            OrdersCommand::SetStatus(args) => lifecycle::set_status(ctx, args).await?,
            OrdersCommand::Cancel(args) => lifecycle::cancel(ctx, args).await?,
            OrdersCommand::Export(args) => list::export(ctx, args).await?,
            OrdersCommand::Report(cmd) => report::run(ctx, cmd).await?,
        }
        Ok(0)
    }
}

/// The values of the `Orders.status` enum (`enum_Orders_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderStatus {
    Pending,
    Processing,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Processing => "processing",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}
