//! `crm orders`: placing orders (stock taken under concurrency), their lifecycle, listing,
//! export, and the sales reports.
//!
//! SPEC.md's invariants hold after every command here: `Orders.total` is the sum of its items'
//! quantity x price, stock never goes below zero, and `Customers.totalPurchases` is the sum of
//! the customer's completed orders.

pub mod create;
pub mod lifecycle;
pub mod list;
pub mod order;
pub mod report;

use crate::commands::listing::Filter;
use crate::context::Context;
use crate::validate::flag;
use anyhow::{Context as _, Result};
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

    /// Stream orders (or, with --items, their items) as CSV to FILE or stdout (same filters as list)
    Export(list::ExportOrdersArgs),

    /// Sales, products and customers reports, aggregated in SQL
    #[command(subcommand)]
    Report(report::ReportCommand),
}

impl OrdersCommand {
    pub async fn run(self, ctx: &Context) -> Result<()> {
        match self {
            OrdersCommand::List(args) => list::list(ctx, args).await?,
            OrdersCommand::Show(args) => list::show(ctx, args).await?,
            OrdersCommand::Create(args) => create::run(ctx, args).await?,
            OrdersCommand::SetStatus(args) => lifecycle::set_status(ctx, args).await?,
            OrdersCommand::Cancel(args) => lifecycle::cancel(ctx, args).await?,
            OrdersCommand::Export(args) => return list::export(ctx, args).await,
            OrdersCommand::Report(cmd) => report::run(ctx, cmd).await?,
        }
        Ok(())
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
    /// The status of a row. NULL (the column allows it; other tools may have written it) is
    /// what the column's default says: pending.
    pub fn from_db(value: Option<OrderStatus>) -> OrderStatus {
        value.unwrap_or(OrderStatus::Pending)
    }

    /// SPEC.md's lifecycle: pending -> processing -> completed, and pending or processing ->
    /// cancelled. Nothing else, not even staying where it is.
    pub fn can_move_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Processing) | (Processing, Completed) | (Pending | Processing, Cancelled)
        )
    }

    /// Adds "orders of this status" to `filter`, over `column` (a code-controlled expression
    /// such as `o."status"`). A NULL status is pending, as [`OrderStatus::from_db`] takes it.
    pub fn filter(self, filter: &mut Filter, column: &str) {
        if self == OrderStatus::Pending {
            filter.and_label(&format!("({column} = $? OR {column} IS NULL)"), self);
        } else {
            filter.and_label(&format!("{column} = $?"), self);
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Processing => "processing",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(OrderStatus::Pending),
            "processing" => Ok(OrderStatus::Processing),
            "completed" => Ok(OrderStatus::Completed),
            "cancelled" => Ok(OrderStatus::Cancelled),
            other => Err(format!(
                "the order has the unknown status \"{other}\" (expected pending, processing, \
                 completed or cancelled)"
            )),
        }
    }
}

crate::db::label::label_sql!(OrderStatus);

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--since` and `--until`: which orders by `createdAt`, shared by list, export and the reports.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct DateRange {
    /// Only orders created at or after this time: a date (2025-07-01, its midnight UTC), an RFC
    /// 3339 time, today or yesterday (midnight UTC), or an age before now (7d, 24h, 30m, 2w)
    #[arg(long, value_name = "WHEN", value_parser = flag::timestamp)]
    pub since: Option<OffsetDateTime>,

    /// Only orders created before this time, written as for --since (2025-08-01, today, 24h)
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

/// Locks a customer row against concurrent changes of its `totalPurchases` (`FOR NO KEY
/// UPDATE`, which orders being inserted for it, taking `KEY SHARE`, do not wait for). Returns
/// whether the customer exists.
const LOCK_CUSTOMER_FOR_TOTAL: &str =
    r#"SELECT "id" FROM "Customers" WHERE "id" = $1 FOR NO KEY UPDATE"#;

/// `totalPurchases` from the customer's completed orders, recomputed rather than incremented,
/// so that it is right even where it was wrong before.
const RECOMPUTE_TOTAL_PURCHASES: &str = r#"UPDATE "Customers" SET "totalPurchases" =
        (SELECT COALESCE(sum("total"), 0.00) FROM "Orders"
         WHERE "customerId" = $1 AND "status" = 'completed'),
        "updatedAt" = now()
    WHERE "id" = $1"#;

/// Locks the customer's row; call before changing which of its orders are completed, so that
/// two transactions doing so for one customer take turns. Returns whether the customer exists.
pub async fn lock_customer_total(
    client: &impl tokio_postgres::GenericClient,
    customer: i32,
) -> Result<bool> {
    let rows = crate::db::query(client, LOCK_CUSTOMER_FOR_TOTAL, &[&customer])
        .await
        .with_context(|| format!("cannot lock customer {customer}"))?;
    Ok(!rows.is_empty())
}

/// Sets the customer's `totalPurchases` to the sum of its completed orders. Must follow
/// [`lock_customer_total`] in the same transaction, as a statement of its own: in READ
/// COMMITTED each statement sees what was committed before it began, so after the lock it sees
/// every other completion of the customer's orders.
pub async fn recompute_total_purchases(
    client: &impl tokio_postgres::GenericClient,
    customer: i32,
) -> Result<()> {
    match crate::db::execute(client, RECOMPUTE_TOTAL_PURCHASES, &[&customer]).await {
        Ok(_) => Ok(()),
        Err(e)
            if e.code() == Some(&tokio_postgres::error::SqlState::NUMERIC_VALUE_OUT_OF_RANGE) =>
        {
            Err(crate::error::conflict(format!(
                "customer {customer}'s totalPurchases would exceed 99999999.99, the most \
                 DECIMAL(10,2) holds"
            )))
        }
        Err(e) => Err(anyhow::Error::from(e).context(format!(
            "cannot update customer {customer}'s totalPurchases"
        ))),
    }
}
