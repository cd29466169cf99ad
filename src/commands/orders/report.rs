//! `crm orders report sales|products|customers`: revenue per period, best-selling products and
//! best customers, each one aggregate query that PostgreSQL runs (crm only prints the result).
//!
//! All three count the orders of one status (completed by default) created within
//! `--since`/`--until`. Revenue is the sum of `Orders.total` for sales and customers, and of the
//! items' quantity x price for products (the two agree while `crm db check` finds no
//! `order-total` violation). Periods are calendar days, ISO weeks (from Monday) or months in UTC.

use super::{DateRange, OrderStatus};
use crate::commands::listing::Filter;
use crate::context::Context;
use crate::db;
use crate::output::Value;
use crate::output::thousands;
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use futures_util::{TryStreamExt, pin_mut};
use rust_decimal::Decimal;
use time::Date;
use time::macros::format_description;
use tokio_postgres::Row;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Orders, revenue and average order value per day, week or month (oldest first)
    Sales {
        /// The period to add up by (UTC; a week starts on Monday)
        #[arg(long, value_enum, value_name = "PERIOD", default_value_t = Period::Month)]
        by: Period,

        #[command(flatten)]
        which: WhichOrders,
    },

    /// Units sold and revenue per product, best first
    Products {
        #[command(flatten)]
        which: WhichOrders,

        #[command(flatten)]
        top: Top,
    },

    /// Orders and revenue per customer, best first
    Customers {
        #[command(flatten)]
        which: WhichOrders,

        #[command(flatten)]
        top: Top,
    },
}

/// Which orders a report counts.
#[derive(Debug, Args, Clone, Copy)]
pub struct WhichOrders {
    /// Count the orders of this status
    #[arg(long, value_enum, value_name = "STATUS", default_value_t = OrderStatus::Completed)]
    pub status: OrderStatus,

    #[command(flatten)]
    pub dates: DateRange,
}

/// How many of the best to show.
#[derive(Debug, Args, Clone, Copy)]
pub struct Top {
    /// Show the best N
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = flag::limit, allow_negative_numbers = true)]
    pub limit: i64,

    /// Show every one
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// `date_trunc`'s name for it.
    fn unit(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

pub async fn run(ctx: &Context, cmd: ReportCommand) -> Result<()> {
    match cmd {
        ReportCommand::Sales { by, which } => sales(ctx, by, which).await,
        ReportCommand::Products { which, top } => products(ctx, which, top).await,
        ReportCommand::Customers { which, top } => customers(ctx, which, top).await,
    }
}

/// The WHERE clause over `"Orders" o`.
fn filter(which: WhichOrders) -> Result<Filter> {
    let mut filter = Filter::new();
    which.status.filter(&mut filter, r#"o."status""#);
    which.dates.apply(&mut filter, r#"o."createdAt""#)?;
    Ok(filter)
}

const SALES_COLUMNS: &[&str] = &["period", "orders", "revenue", "averageOrderValue"];

/// `{unit}` is one of [`Period::unit`]'s words; the rest of the WHERE clause comes from
/// [`filter`].
const SALES: &str = r#"SELECT to_char(date_trunc('{unit}', o."createdAt" AT TIME ZONE 'UTC'),
            'YYYY-MM-DD') AS "period",
        count(*)::int8 AS "orders", sum(o."total") AS "revenue",
        round(avg(o."total"), 2) AS "averageOrderValue"
    FROM "Orders" o{where}
    GROUP BY 1 ORDER BY 1"#;

async fn sales(ctx: &Context, by: Period, which: WhichOrders) -> Result<()> {
    let filter = filter(which)?;
    let sql = SALES
        .replace("{unit}", by.unit())
        .replace("{where}", &filter.sql());
    let mut orders: i64 = 0;
    let mut revenue = Decimal::ZERO;
    let mut periods: u64 = 0;
    // A person reads periods by their names, and a gap as a period without orders; a script
    // reads the first day of each period that had some, as it always has.
    let mut named = ctx.out.format.is_table().then(|| Periods::new(by));
    let out = print(ctx, SALES_COLUMNS, &sql, filter.params(), |row| {
        let n: i64 = row.try_get("orders")?;
        let r: Decimal = row.try_get("revenue")?;
        let start: String = row.try_get("period")?;
        orders += n;
        revenue += r;
        let figures = vec![
            Value::Int(n),
            Value::Money(r),
            Value::Money(row.try_get("averageOrderValue")?),
        ];
        let rows = match named.as_mut() {
            Some(named) => named.up_to(&start, figures)?,
            None => vec![[vec![Value::Text(start)], figures].concat()],
        };
        periods += rows.len() as u64;
        Ok(rows)
    })
    .await
    .context("cannot report sales")?;
    let footer = format!(
        "{} {}; {} {} orders, revenue {revenue}",
        thousands(periods),
        match (by, periods == 1) {
            (Period::Day, true) => "day",
            (Period::Day, false) => "days",
            (Period::Week, true) => "week",
            (Period::Week, false) => "weeks",
            (Period::Month, true) => "month",
            (Period::Month, false) => "months",
        },
        thousands(u64::try_from(orders).unwrap_or(0)),
        which.status
    );
    finish(out, footer)
}

const PRODUCTS_COLUMNS: &[&str] = &["productId", "name", "unitsSold", "revenue"];

/// Items of the orders counted, summed per product, the best picked, and only those named (a
/// deleted product's items have a NULL productId and form one row without a name). Plain sums,
/// so that PostgreSQL can hash the groups: a count of distinct orders would make it sort every
/// item.
const PRODUCTS: &str = r#"SELECT s."productId", p."name", s."unitsSold", s."revenue"
    FROM (SELECT i."productId", sum(i."quantity")::int8 AS "unitsSold",
                 sum(i."quantity" * i."price") AS "revenue"
          FROM "OrderItems" i JOIN "Orders" o ON o."id" = i."orderId"{where}
          GROUP BY i."productId"
          ORDER BY "revenue" DESC, "unitsSold" DESC, i."productId" NULLS LAST{limit}) s
    LEFT JOIN "Products" p ON p."id" = s."productId"
    ORDER BY s."revenue" DESC, s."unitsSold" DESC, s."productId" NULLS LAST"#;

async fn products(ctx: &Context, which: WhichOrders, top: Top) -> Result<()> {
    let ranking = Ranking {
        sql: PRODUCTS,
        columns: PRODUCTS_COLUMNS,
        singular: "product",
        plural: "products",
    };
    ranked(ctx, which, top, ranking, |row| {
        Ok(vec![
            row.try_get::<_, Option<i32>>("productId")?
                .map_or(Value::Null, Value::from),
            row.try_get::<_, Option<String>>("name")?.into(),
            Value::Int(row.try_get("unitsSold")?),
            Value::Money(row.try_get("revenue")?),
        ])
    })
    .await
}

const CUSTOMERS_COLUMNS: &[&str] = &[
    "customerId",
    "firstName",
    "lastName",
    "email",
    "orders",
    "revenue",
];

/// The orders counted, summed per customer, the best picked, and only those named (orders of
/// deleted customers have a NULL customerId and form one row without a name).
const CUSTOMERS: &str = r#"SELECT s."customerId", c."firstName", c."lastName", c."email",
        s."orders", s."revenue"
    FROM (SELECT o."customerId", count(*)::int8 AS "orders", sum(o."total") AS "revenue"
          FROM "Orders" o{where}
          GROUP BY o."customerId"
          ORDER BY "revenue" DESC, "orders" DESC, o."customerId" NULLS LAST{limit}) s
    LEFT JOIN "Customers" c ON c."id" = s."customerId"
    ORDER BY s."revenue" DESC, s."orders" DESC, s."customerId" NULLS LAST"#;

async fn customers(ctx: &Context, which: WhichOrders, top: Top) -> Result<()> {
    let ranking = Ranking {
        sql: CUSTOMERS,
        columns: CUSTOMERS_COLUMNS,
        singular: "customer",
        plural: "customers",
    };
    ranked(ctx, which, top, ranking, |row| {
        Ok(vec![
            row.try_get::<_, Option<i32>>("customerId")?
                .map_or(Value::Null, Value::from),
            row.try_get::<_, Option<String>>("firstName")?.into(),
            row.try_get::<_, Option<String>>("lastName")?.into(),
            row.try_get::<_, Option<String>>("email")?.into(),
            Value::Int(row.try_get("orders")?),
            Value::Money(row.try_get("revenue")?),
        ])
    })
    .await
}

/// A best-first report: its SQL (with `{where}` and `{limit}` to fill in), its columns, and
/// what it ranks.
struct Ranking {
    sql: &'static str,
    columns: &'static [&'static str],
    singular: &'static str,
    plural: &'static str,
}

/// Runs a best-first report over the orders `which` picks, the best `top` of them.
async fn ranked(
    ctx: &Context,
    which: WhichOrders,
    top: Top,
    ranking: Ranking,
    mut to_values: impl FnMut(&Row) -> Result<Vec<Value>>,
) -> Result<()> {
    let filter = filter(which)?;
    let (limit, params) = limit(&filter, &top);
    let sql = ranking
        .sql
        .replace("{where}", &filter.sql())
        .replace("{limit}", &limit);
    let out = print(ctx, ranking.columns, &sql, params, |row| {
        Ok(vec![to_values(row)?])
    })
    .await
    .with_context(|| format!("cannot report {}", ranking.plural))?;
    let shown = out.count();
    let noun = if shown == 1 {
        ranking.singular
    } else {
        ranking.plural
    };
    finish(
        out,
        format!(
            "{} {noun}, best first, by revenue from {} orders",
            thousands(shown),
            which.status
        ),
    )
}

/// ` LIMIT $n` (or nothing for `--all`) and the parameters with its value.
fn limit<'a>(filter: &'a Filter, top: &'a Top) -> (String, Vec<&'a dyn crate::db::Param>) {
    let mut params = filter.params();
    if top.all {
        return (String::new(), params);
    }
    params.push(&top.limit);
    (format!(" LIMIT ${}", filter.next_param()), params)
}

/// Streams the report's rows to stdout (each database row gives one or more), and returns the
/// writer for [`finish`] to end once the footer (which sums the rows) is known.
async fn print(
    ctx: &Context,
    columns: &[&str],
    sql: &str,
    params: Vec<&dyn crate::db::Param>,
    mut to_values: impl FnMut(&Row) -> Result<Vec<Vec<Value>>>,
) -> Result<Writer> {
    let mut client = ctx.read_db().await?.get().await?;
    let tx = client.build_transaction().read_only(true).start().await?;
    db::batch_execute(&*tx, db::LARGE_WORK_MEM).await?;
    let rows = db::query_raw(&*tx, sql, params).await?;
    pin_mut!(rows);
    let mut out = ctx.out.row_writer(columns)?;
    while let Some(row) = rows.try_next().await? {
        for values in to_values(&row)? {
            out.row(values)?;
        }
    }
    tx.commit().await?;
    Ok(out)
}

type Writer = crate::output::RowWriter<std::io::StdoutLock<'static>>;

/// The periods of a sales report as a table shows them: named (`2026-12`, `2026-W49`,
/// `2026-12-06`), and every period between two that had orders shown, with zero orders.
struct Periods {
    by: Period,
    /// The first day of the period after the last one shown.
    next: Option<Date>,
}

impl Periods {
    fn new(by: Period) -> Self {
        Periods { by, next: None }
    }

    /// The rows for the periods up to the one starting on `start` (`YYYY-MM-DD`, as the query
    /// gives it), which has `figures`: the empty ones before it, then it.
    fn up_to(&mut self, start: &str, figures: Vec<Value>) -> Result<Vec<Vec<Value>>> {
        let start = Date::parse(start, format_description!("[year]-[month]-[day]"))
            .with_context(|| format!("the report gave a period that is not a date: {start}"))?;
        let mut rows = Vec::new();
        if let Some(mut empty) = self.next {
            while empty < start {
                rows.push(vec![
                    Value::Text(self.name(empty)),
                    Value::Int(0),
                    Value::Money(Decimal::new(0, 2)),
                    Value::Null,
                ]);
                empty = self.after(empty);
            }
        }
        rows.push([vec![Value::Text(self.name(start))], figures].concat());
        self.next = Some(self.after(start));
        Ok(rows)
    }

    fn name(&self, start: Date) -> String {
        match self.by {
            Period::Day => format!(
                "{:04}-{:02}-{:02}",
                start.year(),
                u8::from(start.month()),
                start.day()
            ),
            Period::Week => {
                let (year, week, _) = start.to_iso_week_date();
                format!("{year:04}-W{week:02}")
            }
            Period::Month => format!("{:04}-{:02}", start.year(), u8::from(start.month())),
        }
    }

    /// The first day of the period after the one starting on `start`.
    fn after(&self, start: Date) -> Date {
        let next = match self.by {
            Period::Day => start.next_day(),
            Period::Week => start.checked_add(time::Duration::days(7)),
            Period::Month => {
                let (year, month) = match start.month() {
                    time::Month::December => (start.year() + 1, time::Month::January),
                    m => (start.year(), m.next()),
                };
                Date::from_calendar_date(year, month, 1).ok()
            }
        };
        // Past the last date there is: no period comes after it.
        next.unwrap_or(Date::MAX)
    }
}

/// Ends the output, with `footer` under a table (the writer leaves it out of CSV and JSON).
fn finish(out: Writer, footer: String) -> Result<()> {
    drop(
        out.finish(Some(footer))
            .context("cannot write to standard output")?,
    );
    Ok(())
}
