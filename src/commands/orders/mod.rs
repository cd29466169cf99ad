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

use crate::commands::listing::Filter;
use crate::context::Context;
use crate::validate::flag;
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use time::OffsetDateTime;

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

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--since` and `--until`: which orders by `createdAt`, shared by list, export and the reports.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct DateRange {
    /// Only orders created at or after this time (2025-07-01 is its midnight UTC, or RFC 3339)
    #[arg(long, value_name = "WHEN", value_parser = flag::timestamp)]
    pub since: Option<OffsetDateTime>,

    /// Only orders created before this time (2025-08-01 is its midnight UTC, or RFC 3339)
    #[arg(long, value_name = "WHEN", value_parser = flag::timestamp)]
    pub until: Option<OffsetDateTime>,
}

impl DateRange {
    /// Adds the range to `filter`, over `column` (a code-controlled timestamptz expression such
    /// as `o."createdAt"`); `--until` is exclusive, so consecutive ranges do not overlap.
    pub fn apply(&self, filter: &mut Filter, column: &str) -> Result<()> {
        if let (Some(since), Some(until)) = (self.since, self.until)
            && until <= since
        {
            return Err(crate::error::usage(format!(
                "--until {} is not after --since {}: the range holds no time",
                crate::output::rfc3339_utc(until),
                crate::output::rfc3339_utc(since)
            )));
        }
        if let Some(since) = self.since {
            filter.and(&format!("{column} >= $?"), since);
        }
        if let Some(until) = self.until {
            filter.and(&format!("{column} < $?"), until);
        }
        Ok(())
    }
}
