//! `crm customers`: list, show, create, update, delete; import and export live in `transfer`.
//!
//! The record mechanics (list, fetch, insert, update of the given fields, delete with
//! confirmation) are `record`'s; this module owns the customer's row, flags and `show`.
//! `totalPurchases` is derived (the sum of the customer's completed orders, kept by the order
//! commands) and never set here.

pub mod duplicates;
pub mod merge;

use crate::commands::confirm::ConfirmArgs;
use crate::commands::listing::{Filter, ListArgs, like_pattern, order_by};
use crate::commands::record::{self, Clearable, Fields, Record};
use crate::commands::table::{Column, ColumnKind, Referrers, Table};
use crate::commands::transfer::{self, ExportArgs, ImportArgs};
use crate::context::Context;
use crate::db;
use crate::db::tx::snapshot;
use crate::output::{Rows, Value};
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio_postgres::Row;

/// What `--search` matches: the full name, NULL-safe, as the trigram index
/// `customers_full_name_trgm_idx` is built (V10), and the e-mail (`customers_email_trgm_idx`).
pub const SEARCH: &[&str] = &[
    r#"(coalesce("firstName", '') || ' ' || coalesce("lastName", ''))"#,
    r#""email""#,
];

/// The WHERE clause of `list` and `export`.
pub fn filter(search: Option<&str>) -> Filter {
    let mut filter = Filter::new();
    if let Some(text) = search {
        filter.search(TABLE.search, text);
    }
    filter
}

/// `Customers` as list, show, create, update, delete, import and export know it: its columns
/// in output (and CSV) order, each with what import checks of it.
pub const TABLE: Table = Table::new(
    "Customers",
    "customer",
    "customers",
    &[
        Column::new("id", ColumnKind::Id),
        Column::new("firstName", ColumnKind::Text),
        Column::new("lastName", ColumnKind::Text),
        Column::new("email", ColumnKind::Email),
        Column::new("phone", ColumnKind::Phone),
        Column::new("address", ColumnKind::LongText),
        Column::new("totalPurchases", ColumnKind::Money),
        Column::new("createdAt", ColumnKind::Time),
        Column::new("updatedAt", ColumnKind::Time),
    ],
)
// Orders.customerId is ON DELETE SET NULL: a deleted customer's orders stay.
.searching(SEARCH)
.referred_by(Referrers {
    table: "Orders",
    column: "customerId",
    noun: "order",
    plural: "orders",
})
.keyed_by_email();

/// How many of a customer's latest orders `show` lists.
const LAST_ORDERS_SHOWN: i64 = 5;

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// List customers (--search matches the name and the e-mail)
    List(ListArgs),

    /// Show a customer with its order count, its last five orders and totalPurchases
    Show {
        /// The customer's id
        #[arg(value_parser = flag::customer_id, allow_negative_numbers = true)]
        id: i32,
    },

    /// Create a customer (at least a name or an e-mail)
    #[command(group(clap::ArgGroup::new("identity")
        .args(["first_name", "last_name", "email"])
        .required(true)
        .multiple(true)))]
    Create(CustomerFields),

    /// Change the fields given of a customer (at least one), or clear them with --clear
    #[command(group(clap::ArgGroup::new("changes")
        .args(["first_name", "last_name", "email", "phone", "address", "clear"])
        .required(true)
        .multiple(true)))]
    Update {
        /// The customer's id
        #[arg(value_parser = flag::customer_id, allow_negative_numbers = true)]
        id: i32,
        #[command(flatten)]
        fields: CustomerFields,
        /// Empty an optional field (set it to NULL): first-name, last-name, email, phone or
        /// address; repeatable
        #[arg(long, value_name = "FIELD", value_parser = clear_target)]
        clear: Vec<&'static str>,
    },

    /// Delete a customer; its orders are kept, with customerId set to NULL
    Delete {
        /// The customer's id
        #[arg(value_parser = flag::customer_id, allow_negative_numbers = true)]
        id: i32,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },

    /// Import customers from CSV (the header of export; all or nothing by default)
    Import(ImportArgs),

    /// Export customers as CSV, streaming (same filters as list)
    Export(ExportArgs),

    /// Candidate duplicates (same e-mail, same phone, similar names), best groups first
    Duplicates(duplicates::DuplicatesArgs),

    /// Merge duplicates into KEEP: their orders move to it, its empty fields are filled, the
    /// duplicates are deleted, in one transaction
    Merge(merge::MergeArgs),
}

/// The fields `create` and `update` take, each checked as it comes in.
#[derive(Debug, Args)]
pub struct CustomerFields {
    /// First name (at most 255 characters)
    #[arg(long, value_name = "NAME", value_parser = |v: &str| record::or_clear(v, "first-name", flag::name))]
    pub first_name: Option<String>,

    /// Last name (at most 255 characters)
    #[arg(long, value_name = "NAME", value_parser = |v: &str| record::or_clear(v, "last-name", flag::name))]
    pub last_name: Option<String>,

    /// E-mail address (stored lower-case)
    #[arg(long, value_name = "EMAIL", value_parser = |v: &str| record::or_clear(v, "email", flag::email))]
    pub email: Option<String>,

    /// Phone number (digits, spaces and + - ( ) . / x)
    #[arg(long, value_name = "PHONE", value_parser = |v: &str| record::or_clear(v, "phone", flag::phone))]
    pub phone: Option<String>,

    /// Postal address
    #[arg(long, value_name = "ADDRESS", value_parser = flag::long_text)]
    pub address: Option<String>,
}

/// The fields `update --clear` empties: the optional ones a person types.
const CLEARABLE: &[Clearable] = &[
    Clearable {
        flag: "first-name",
        column: "firstName",
    },
    Clearable {
        flag: "last-name",
        column: "lastName",
    },
    Clearable {
        flag: "email",
        column: "email",
    },
    Clearable {
        flag: "phone",
        column: "phone",
    },
    Clearable {
        flag: "address",
        column: "address",
    },
];

/// `--clear FIELD`: one of [`CLEARABLE`].
fn clear_target(name: &str) -> Result<&'static str, String> {
    record::clear_target(
        name,
        CLEARABLE,
        &[
            ("id", "it names the customer"),
            (
                "totalPurchases",
                "it is the sum of the customer's completed orders",
            ),
            ("createdAt", "crm keeps it"),
            ("updatedAt", "crm keeps it"),
        ],
    )
}

impl CustomerFields {
    fn into_fields(self) -> Fields {
        Fields::new()
            .maybe("firstName", self.first_name)
            .maybe("lastName", self.last_name)
            .maybe("email", self.email)
            .maybe("phone", self.phone)
            .maybe("address", self.address)
    }
}

impl CustomersCommand {
    pub async fn run(self, ctx: &Context) -> Result<()> {
        match self {
            CustomersCommand::List(args) => list(ctx, &args).await?,
            CustomersCommand::Show { id } => show(ctx, id).await?,
            CustomersCommand::Create(fields) => {
                let email = fields.email.clone();
                warn_if_email_used(ctx, email.as_deref(), None).await?;
                record::create::<Customer>(ctx, fields.into_fields()).await?;
            }
            CustomersCommand::Update { id, fields, clear } => {
                let email = fields.email.clone();
                let fields = fields.into_fields().clear(&clear, CLEARABLE)?;
                record::update::<Customer>(ctx, id, fields).await?;
                warn_if_email_used(ctx, email.as_deref(), Some(id)).await?;
            }
            CustomersCommand::Delete { id, confirm } => {
                record::delete::<Customer>(ctx, id, confirm).await?;
            }
            CustomersCommand::Import(args) => {
                return transfer::import(ctx, &TABLE, args).await;
            }
            CustomersCommand::Export(args) => {
                let filter = filter(args.search.as_deref());
                return transfer::export(ctx, &TABLE, filter, args).await;
            }
            CustomersCommand::Duplicates(args) => duplicates::run(ctx, args).await?,
            CustomersCommand::Merge(args) => merge::run(ctx, args).await?,
        }
        Ok(())
    }
}

/// A row of `Customers`.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: i32,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub total_purchases: Option<Decimal>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<&Row> for Customer {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(Customer {
            id: row.try_get("id")?,
            first_name: row.try_get("firstName")?,
            last_name: row.try_get("lastName")?,
            email: row.try_get("email")?,
            phone: row.try_get("phone")?,
            address: row.try_get("address")?,
            total_purchases: row.try_get("totalPurchases")?,
            created_at: row.try_get("createdAt")?,
            updated_at: row.try_get("updatedAt")?,
        })
    }
}

impl Record for Customer {
    const TABLE: &'static Table = &TABLE;

    fn id(&self) -> i32 {
        self.id
    }

    fn values(&self) -> Vec<Value> {
        vec![
            self.id.into(),
            self.first_name.clone().into(),
            self.last_name.clone().into(),
            self.email.clone().into(),
            self.phone.clone().into(),
            self.address.clone().into(),
            self.total_purchases.map_or(Value::Null, Value::Money),
            Value::Time(self.created_at),
            Value::Time(self.updated_at),
        ]
    }

    fn title(&self) -> Option<String> {
        let name = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        if name.trim().is_empty() {
            self.email.clone()
        } else {
            Some(name)
        }
    }
}

/// The other customers with this (lower-cased) e-mail: the trigram index finds the candidates
/// (`customers_email_trgm_idx`; $1 is the e-mail as an ILIKE pattern), `lower` compares as
/// import does, since the original system stored e-mails as typed.
const EMAIL_USED_BY: &str = r#"SELECT "id" FROM "Customers"
    WHERE "email" ILIKE $1 ESCAPE '\' AND lower("email") = $2 AND "id" IS DISTINCT FROM $3
    ORDER BY "id" LIMIT 10"#;

/// E-mails need not be unique (the reference schema has no unique index on them, and crm keeps
/// it so), but a second customer with one is usually a mistake, and an import keyed by that
/// e-mail cannot tell them apart: say which customers already have it.
async fn warn_if_email_used(ctx: &Context, email: Option<&str>, except: Option<i32>) -> Result<()> {
    let Some(email) = email else {
        return Ok(());
    };
    let client = ctx.db().await?.get().await?;
    let pattern = like_pattern(email);
    let ids: Vec<i32> = db::query(&**client, EMAIL_USED_BY, &[&pattern, &email, &except])
        .await
        .context("cannot look for customers with the same e-mail")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !ids.is_empty() {
        ctx.out.warn(format!(
            "the e-mail {email} is already used by {}",
            record::named_by_id(&TABLE, &ids)
        ));
    }
    Ok(())
}

async fn list(ctx: &Context, args: &ListArgs) -> Result<()> {
    let order = order_by(args.sort.as_deref(), &TABLE.column_names(), "id")?;
    record::list::<Customer>(ctx, &filter(args.search.as_deref()), &order, args).await
}

const ORDER_COUNT: &str = r#"SELECT count(*) FROM "Orders" WHERE "customerId" = $1"#;

/// The latest orders first (served by `orders_customer_date_idx`).
const LAST_ORDERS: &str = r#"SELECT "id", "status"::text AS "status", "total", "createdAt" FROM "Orders"
    WHERE "customerId" = $1 ORDER BY "createdAt" DESC, "id" DESC LIMIT $2"#;

/// One of the orders `show` lists.
struct OrderSummary {
    id: i32,
    status: Option<String>,
    total: Decimal,
    created_at: OffsetDateTime,
}

impl OrderSummary {
    const COLUMNS: &[&str] = &["id", "status", "total", "createdAt"];

    fn values(&self) -> Vec<Value> {
        vec![
            self.id.into(),
            self.status.clone().into(),
            Value::Money(self.total),
            Value::Time(self.created_at),
        ]
    }
}

impl TryFrom<&Row> for OrderSummary {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(OrderSummary {
            id: row.try_get("id")?,
            status: crate::db::label::text(row, "status")?,
            total: row.try_get("total")?,
            created_at: row.try_get("createdAt")?,
        })
    }
}

/// `show`: the customer's columns, `orderCount`, and its last five orders: in JSON and CSV a
/// `lastOrders` field holding them as a JSON array (so that CSV stays one header and one row);
/// in a table the record, then the orders (if any) as a table of their own.
async fn show(ctx: &Context, id: i32) -> Result<()> {
    let mut client = ctx.read_db().await?.get().await?;
    let tx = snapshot(&mut client).await?;
    let customer: Customer = record::fetch(&*tx, id).await?;
    let order_count: i64 = db::query_one(&*tx, ORDER_COUNT, &[&id])
        .await
        .context("cannot count the customer's orders")?
        .get(0);
    let last_orders = db::query(&*tx, LAST_ORDERS, &[&id, &LAST_ORDERS_SHOWN])
        .await
        .context("cannot read the customer's orders")?
        .iter()
        .map(OrderSummary::try_from)
        .collect::<Result<Vec<_>>>()?;
    tx.commit().await?;

    let mut columns = TABLE.column_names();
    let mut values = customer.values();
    columns.push("orderCount");
    values.push(Value::Int(order_count));
    let mut orders = Rows::new(OrderSummary::COLUMNS);
    for order in &last_orders {
        orders.push(order.values());
    }
    orders.footer = Some(format!(
        "the last {} of {}",
        last_orders.len(),
        crate::output::counted(order_count, "order", "orders")
    ));
    ctx.out
        .record_with(&columns, &values, &[("lastOrders", &orders)])
}
