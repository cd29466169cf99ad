//! `crm products`: list, show, create, update, delete, stock, low-stock; import and export live
//! in `transfer`.
//!
//! The record mechanics (list, fetch, insert, update of the given fields, delete with
//! confirmation) are `record`'s; this module owns the product's row, flags, `show` with its
//! sales, and stock changes, each one conditional UPDATE so that concurrent changes never take
//! the stock below zero or past INTEGER.

use crate::commands::confirm::ConfirmArgs;
use crate::commands::listing::{Filter, ListArgs, order_by};
use crate::commands::record::{self, Clearable, Fields, Record};
use crate::commands::table::{Column, ColumnKind, Referrers, Table};
use crate::commands::transfer::{self, ExportArgs, ImportArgs};
use crate::context::Context;
use crate::db;
use crate::db::tx::snapshot;
use crate::error;
use crate::output::Value;
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio_postgres::Row;

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
        filter.search(TABLE.search, text);
    }
    if let Some(category) = &filters.category {
        filter.and(r#""category" = $?"#, category.clone());
    }
    if filters.in_stock {
        filter.and_sql(r#""stock" > 0"#);
    }
    filter
}

/// `Products` as list, show, create, update, delete, import and export know it: its columns
/// in output (and CSV) order, each with what import checks of it.
pub const TABLE: Table = Table::new(
    "Products",
    "product",
    "products",
    &[
        Column::new("id", ColumnKind::Id),
        Column::required("name", ColumnKind::Name),
        Column::new("description", ColumnKind::LongText),
        Column::required("price", ColumnKind::Money),
        Column::new("stock", ColumnKind::Stock),
        Column::new("category", ColumnKind::Text),
        Column::new("image", ColumnKind::Text),
        Column::new("createdAt", ColumnKind::Time),
        Column::new("updatedAt", ColumnKind::Time),
    ],
)
.searching(SEARCH)
// OrderItems.productId is ON DELETE SET NULL: the orders of a deleted product keep their
// items, quantities and prices.
.referred_by(Referrers {
    table: "OrderItems",
    column: "productId",
    noun: "order item",
    plural: "order items",
});

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// List products (--search matches the name)
    List {
        #[command(flatten)]
        args: ListArgs,
        #[command(flatten)]
        filters: ProductFilters,
    },

    /// Show a product with the units sold and the revenue of orders not cancelled
    Show {
        /// The product's id
        #[arg(value_parser = flag::product_id, allow_negative_numbers = true)]
        id: i32,
    },

    /// Create a product (--name and --price are needed)
    #[command(
        mut_arg("name", |a| a.required(true)),
        mut_arg("price", |a| a.required(true))
    )]
    Create(ProductFields),

    /// Change the fields given of a product (at least one), or clear them with --clear
    #[command(group(clap::ArgGroup::new("changes")
        .args(["name", "description", "price", "stock", "category", "image", "clear"])
        .required(true)
        .multiple(true)))]
    Update {
        /// The product's id
        #[arg(value_parser = flag::product_id, allow_negative_numbers = true)]
        id: i32,
        #[command(flatten)]
        fields: ProductFields,
        /// Empty an optional field (set it to NULL): description, category or image; repeatable
        #[arg(long, value_name = "FIELD", value_parser = clear_target)]
        clear: Vec<&'static str>,
    },

    /// Delete a product; order items of it are kept, with productId set to NULL
    Delete {
        /// The product's id
        #[arg(value_parser = flag::product_id, allow_negative_numbers = true)]
        id: i32,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },

    /// Set, add to or remove from a product's stock, never below zero
    Stock {
        /// The product's id
        #[arg(value_parser = flag::product_id, allow_negative_numbers = true)]
        id: i32,
        #[command(flatten)]
        change: StockChange,
    },

    /// List products whose stock is below a threshold, lowest first
    LowStock {
        /// Products with fewer than N in stock (or no stock recorded)
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = flag::stock, allow_negative_numbers = true)]
        threshold: i32,
        #[command(flatten)]
        filters: ProductFilters,
    },

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

/// The fields `create` and `update` take, each checked as it comes in.
#[derive(Debug, Args)]
pub struct ProductFields {
    /// Name (at most 255 characters)
    #[arg(long, value_name = "NAME", value_parser = flag::name)]
    pub name: Option<String>,

    /// Description
    #[arg(long, value_name = "TEXT", value_parser = flag::long_text)]
    pub description: Option<String>,

    /// Price, not negative, at most two decimals (e.g. 19.99)
    #[arg(long, value_name = "PRICE", value_parser = flag::money, allow_negative_numbers = true)]
    pub price: Option<Decimal>,

    /// Units in stock, a whole number from 0 [create: 0]
    #[arg(long, value_name = "N", value_parser = flag::stock, allow_negative_numbers = true)]
    pub stock: Option<i32>,

    /// Category (at most 255 characters)
    #[arg(long, value_name = "CATEGORY", value_parser = flag::text)]
    pub category: Option<String>,

    /// Image URL or path (at most 255 characters)
    #[arg(long, value_name = "IMAGE", value_parser = flag::text)]
    pub image: Option<String>,
}

/// The fields `update --clear` empties: the optional text ones.
const CLEARABLE: &[Clearable] = &[
    Clearable {
        flag: "description",
        column: "description",
    },
    Clearable {
        flag: "category",
        column: "category",
    },
    Clearable {
        flag: "image",
        column: "image",
    },
];

/// `--clear FIELD`: one of [`CLEARABLE`].
fn clear_target(name: &str) -> Result<&'static str, String> {
    record::clear_target(
        name,
        CLEARABLE,
        &[
            ("id", "it names the product"),
            ("name", "a product must have one"),
            ("price", "a product must have one"),
            (
                "stock",
                "orders count it down (set it with crm products stock ID --set N)",
            ),
            ("createdAt", "crm keeps it"),
            ("updatedAt", "crm keeps it"),
        ],
    )
}

impl ProductFields {
    fn into_fields(self) -> Fields {
        Fields::new()
            .maybe("name", self.name)
            .maybe("description", self.description)
            .maybe("price", self.price)
            .maybe("stock", self.stock)
            .maybe("category", self.category)
            .maybe("image", self.image)
    }
}

/// Exactly one change of the stock.
#[derive(Debug, Args, Clone, Copy)]
#[group(required = true, multiple = false)]
pub struct StockChange {
    /// Set the stock to N
    #[arg(long, value_name = "N", value_parser = flag::stock, allow_negative_numbers = true)]
    pub set: Option<i32>,

    /// Add N to the stock
    #[arg(long, value_name = "N", value_parser = flag::stock, allow_negative_numbers = true)]
    pub add: Option<i32>,

    /// Remove N from the stock (refused, exit 5, when fewer are in stock)
    #[arg(long, value_name = "N", value_parser = flag::stock, allow_negative_numbers = true)]
    pub remove: Option<i32>,
}

impl ProductsCommand {
    pub async fn run(self, ctx: &Context) -> Result<()> {
        match self {
            ProductsCommand::List { args, filters } => list(ctx, &args, &filters).await?,
            ProductsCommand::Show { id } => show(ctx, id).await?,
            ProductsCommand::Create(fields) => {
                record::create::<Product>(ctx, fields.into_fields()).await?;
            }
            ProductsCommand::Update { id, fields, clear } => {
                let fields = fields.into_fields().clear(&clear, CLEARABLE)?;
                record::update::<Product>(ctx, id, fields).await?;
            }
            ProductsCommand::Delete { id, confirm } => {
                record::delete::<Product>(ctx, id, confirm).await?;
            }
            ProductsCommand::Stock { id, change } => stock(ctx, id, change).await?,
            ProductsCommand::LowStock { threshold, filters } => {
                low_stock(ctx, threshold, &filters).await?;
            }
            ProductsCommand::Import(args) => {
                return transfer::import(ctx, &TABLE, args).await;
            }
            ProductsCommand::Export { args, filters } => {
                let filter = filter(args.search.as_deref(), &filters);
                return transfer::export(ctx, &TABLE, filter, args).await;
            }
        }
        Ok(())
    }
}

/// A row of `Products`.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: i32,
    pub name: String,
    pub description: Option<String>,
    pub price: Decimal,
    /// NULL in rows written by other tools; crm counts it as 0.
    pub stock: Option<i32>,
    pub category: Option<String>,
    pub image: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<&Row> for Product {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(Product {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            price: row.try_get("price")?,
            stock: row.try_get("stock")?,
            category: row.try_get("category")?,
            image: row.try_get("image")?,
            created_at: row.try_get("createdAt")?,
            updated_at: row.try_get("updatedAt")?,
        })
    }
}

impl Record for Product {
    const TABLE: &'static Table = &TABLE;

    fn id(&self) -> i32 {
        self.id
    }

    fn values(&self) -> Vec<Value> {
        vec![
            self.id.into(),
            self.name.clone().into(),
            self.description.clone().into(),
            Value::Money(self.price),
            self.stock.map_or(Value::Null, Value::from),
            self.category.clone().into(),
            self.image.clone().into(),
            Value::Time(self.created_at),
            Value::Time(self.updated_at),
        ]
    }

    fn title(&self) -> Option<String> {
        Some(self.name.clone())
    }
}

async fn list(ctx: &Context, args: &ListArgs, filters: &ProductFilters) -> Result<()> {
    let order = order_by(args.sort.as_deref(), &TABLE.column_names(), "id")?;
    let filter = filter(args.search.as_deref(), filters);
    record::list::<Product>(ctx, &filter, &order, args).await
}

/// Stock below the threshold, NULL (unknown) counting as low.
const BELOW_THRESHOLD: &str = r#"("stock" < $? OR "stock" IS NULL)"#;

/// Lowest first.
const LOW_STOCK_ORDER: &str = r#""stock" NULLS FIRST, "id""#;

/// `low-stock`: every product below the threshold (no paging: it is a to-do list), lowest first.
async fn low_stock(ctx: &Context, threshold: i32, filters: &ProductFilters) -> Result<()> {
    let mut filter = filter(None, filters);
    filter.and(BELOW_THRESHOLD, threshold);
    let every_row = ListArgs {
        limit: i64::MAX,
        all: true,
        offset: 0,
        search: None,
        sort: None,
    };
    record::list::<Product>(ctx, &filter, LOW_STOCK_ORDER, &every_row).await
}

/// What a product sold, from the items of orders that are not cancelled.
const SALES: &str = r#"SELECT COALESCE(sum(i."quantity"), 0)::int8 AS "unitsSold",
        COALESCE(sum(i."quantity" * i."price"), 0.00) AS "revenue"
    FROM "OrderItems" i JOIN "Orders" o ON o."id" = i."orderId"
    WHERE i."productId" = $1 AND o."status" IS DISTINCT FROM 'cancelled'"#;

/// `show`: the product's columns, `unitsSold` and `revenue`, one record in every format.
async fn show(ctx: &Context, id: i32) -> Result<()> {
    let mut client = ctx.read_db().await?.get().await?;
    let tx = snapshot(&mut client).await?;
    let product: Product = record::fetch(&*tx, id).await?;
    let sales = db::query_one(&*tx, SALES, &[&id])
        .await
        .context("cannot sum the product's sales")?;
    let units_sold: i64 = sales.try_get("unitsSold")?;
    let revenue: Decimal = sales.try_get("revenue")?;
    tx.commit().await?;

    let mut columns = TABLE.column_names();
    let mut values = product.values();
    columns.extend(["unitsSold", "revenue"]);
    values.extend([Value::Int(units_sold), Value::Money(revenue)]);
    ctx.out.record(&columns, &values)
}

/// What `stock` prints.
const STOCK_COLUMNS: &[&str] = &["id", "name", "stock"];

const SET_STOCK: &str = r#"UPDATE "Products" SET "stock" = $2, "updatedAt" = now()
    WHERE "id" = $1 RETURNING "id", "name", "stock""#;

/// Adds `$2` (negative to remove) only if the result stays within 0..=INTEGER's maximum. One
/// statement: a concurrent change of the row makes PostgreSQL re-check the condition against
/// the row as that change left it, so stock is never oversold.
const ADJUST_STOCK: &str = r#"UPDATE "Products"
    SET "stock" = COALESCE("stock", 0) + $2::int8, "updatedAt" = now()
    WHERE "id" = $1 AND COALESCE("stock", 0) + $2::int8 BETWEEN 0 AND 2147483647
    RETURNING "id", "name", "stock""#;

/// Why an adjustment changed nothing: the stock now, or no row.
const CURRENT_STOCK: &str = r#"SELECT COALESCE("stock", 0) FROM "Products" WHERE "id" = $1"#;

/// One change of the stock, as the flags give it.
#[derive(Debug, Clone, Copy)]
enum StockOp {
    Set(i32),
    Add(i32),
    Remove(i32),
}

impl StockChange {
    fn op(self) -> Result<StockOp> {
        match self {
            StockChange { set: Some(n), .. } => Ok(StockOp::Set(n)),
            StockChange { add: Some(n), .. } => Ok(StockOp::Add(n)),
            StockChange {
                remove: Some(n), ..
            } => Ok(StockOp::Remove(n)),
            StockChange { .. } => Err(error::usage("give one of --set N, --add N or --remove N")),
        }
    }
}

/// `stock ID --set N | --add N | --remove N`.
async fn stock(ctx: &Context, id: i32, change: StockChange) -> Result<()> {
    let op = change.op()?;
    let mut client = ctx.db().await?.get().await?;
    // A transaction of one statement: through a pooler, the lock timeout is the transaction's.
    let tx = client.transaction().await?;
    db::tx::bound_locks(&*tx).await?;
    let updated = match op {
        StockOp::Set(n) => db::query(&*tx, SET_STOCK, &[&id, &n]).await,
        StockOp::Add(n) => db::query(&*tx, ADJUST_STOCK, &[&id, &i64::from(n)]).await,
        StockOp::Remove(n) => db::query(&*tx, ADJUST_STOCK, &[&id, &-i64::from(n)]).await,
    }
    .with_context(|| format!("cannot change the stock of product {id}"))?;
    let Some(row) = updated.first() else {
        return Err(refused_stock_change(&*tx, id, op).await);
    };
    let stock: Option<i32> = row.try_get("stock")?;
    let values = vec![
        Value::from(row.try_get::<_, i32>("id")?),
        Value::from(row.try_get::<_, String>("name")?),
        stock.map_or(Value::Null, Value::from),
    ];
    tx.commit()
        .await
        .with_context(|| format!("cannot change the stock of product {id}"))?;
    ctx.out.record(STOCK_COLUMNS, &values)
}

/// The error for a stock change that updated no row: the product does not exist (3), has too
/// few in stock (5), or would overflow INTEGER (2).
async fn refused_stock_change(
    client: &impl tokio_postgres::GenericClient,
    id: i32,
    op: StockOp,
) -> anyhow::Error {
    let rows = match db::query(client, CURRENT_STOCK, &[&id]).await {
        Ok(rows) => rows,
        Err(e) => return anyhow::Error::from(e).context("cannot read the stock"),
    };
    let Some(row) = rows.first() else {
        return TABLE.not_found(id);
    };
    let in_stock: i32 = row.get(0);
    match op {
        StockOp::Remove(n) => error::conflict(format!(
            "cannot remove {n} from product {id}: it has {in_stock} in stock"
        )),
        StockOp::Add(n) => error::usage(format!(
            "cannot add {n} to product {id}: it has {in_stock} in stock, and stock holds at \
             most {}",
            i32::MAX
        )),
        // A plain SET matches any existing row; it can only miss a product deleted meanwhile.
        StockOp::Set(_) => TABLE.not_found(id),
    }
}
