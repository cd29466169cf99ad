//! An order as crm reads and prints it: [`Order`] (the row with its customer's name and item
//! count, as `list` and `export` show it), its [`Item`]s, and [`print`], which `show`, `create`
//! and `set-status` share so that each prints an order the same way.

use crate::commands::table::{Column, ColumnKind, Table};
use crate::context::Context;
use crate::db;
use crate::db::label;
use crate::error;
use crate::output::{Rows, Value};
use anyhow::{Context as _, Result};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Row};

/// The orders with what `list`, `show` and `export` add to them, as one relation whose column
/// names are the output's, so that filters and `--sort` name them plainly. `customerEmail` is
/// there for `--search`, `createdByEmail` for `show`. PostgreSQL pulls the subquery up into the
/// outer query, so filters still reach the indexes of "Orders", and it removes the joins that a
/// query (such as the count under a table) does not use. A macro, so that `concat!` can build
/// other statements on it; [`FROM`] is the same text.
macro_rules! orders_relation {
    () => {
        r#"(SELECT o."id", o."customerId",
        NULLIF(btrim(concat_ws(' ', c."firstName", c."lastName")), '') AS "customerName",
        c."email" AS "customerEmail", o."status", o."total",
        (SELECT count(*) FROM "OrderItems" i WHERE i."orderId" = o."id") AS "itemCount",
        o."createdBy", u."email" AS "createdByEmail", o."notes", o."createdAt", o."updatedAt"
    FROM "Orders" o
    LEFT JOIN "Customers" c ON c."id" = o."customerId"
    LEFT JOIN "Users" u ON u."id" = o."createdBy") AS "orders""#
    };
}

pub const FROM: &str = orders_relation!();

/// What `--search` matches: the customer's name and e-mail, and the notes.
pub const SEARCH: &[&str] = &[r#""customerName""#, r#""customerEmail""#, r#""notes""#];

/// The orders as `list` and `export` read them: through [`FROM`], with each order's
/// customer's name and item count beside its own columns.
pub const TABLE: Table = Table::new(
    "Orders",
    "order",
    "orders",
    &[
        Column::new("id", ColumnKind::Id),
        Column::new("customerId", ColumnKind::Reference),
        Column::new("customerName", ColumnKind::Text),
        Column::new("status", ColumnKind::Label),
        Column::new("total", ColumnKind::Money),
        Column::new("itemCount", ColumnKind::Count),
        Column::new("createdBy", ColumnKind::Reference),
        Column::new("notes", ColumnKind::LongText),
        Column::new("createdAt", ColumnKind::Time),
        Column::new("updatedAt", ColumnKind::Time),
    ],
)
.reading(FROM)
.searching(SEARCH);

/// One order, as `list` shows it.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: i32,
    pub customer_id: Option<i32>,
    pub customer_name: Option<String>,
    pub status: Option<String>,
    pub total: Decimal,
    pub item_count: i64,
    pub created_by: Option<i32>,
    pub notes: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<&Row> for Order {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(Order {
            id: row.try_get("id")?,
            customer_id: row.try_get("customerId")?,
            customer_name: row.try_get("customerName")?,
            status: label::text(row, "status")?,
            total: row.try_get("total")?,
            item_count: row.try_get("itemCount")?,
            created_by: row.try_get("createdBy")?,
            notes: row.try_get("notes")?,
            created_at: row.try_get("createdAt")?,
            updated_at: row.try_get("updatedAt")?,
        })
    }
}

impl Order {
    /// The values of [`TABLE`]'s columns.
    pub fn values(&self) -> Vec<Value> {
        vec![
            self.id.into(),
            self.customer_id.map_or(Value::Null, Value::from),
            self.customer_name.clone().into(),
            self.status.clone().into(),
            Value::Money(self.total),
            Value::Int(self.item_count),
            self.created_by.map_or(Value::Null, Value::from),
            self.notes.clone().into(),
            Value::Time(self.created_at),
            Value::Time(self.updated_at),
        ]
    }
}

/// The columns of one item, as `show` lists them.
pub const ITEM_COLUMNS: &[&str] = &[
    "id",
    "productId",
    "productName",
    "quantity",
    "price",
    "lineTotal",
];

/// An order's items with their products' names (NULL for a deleted product), in id order.
const ITEMS: &str = r#"SELECT i."id", i."productId", p."name" AS "productName", i."quantity",
        i."price", i."quantity" * i."price" AS "lineTotal"
    FROM "OrderItems" i LEFT JOIN "Products" p ON p."id" = i."productId"
    WHERE i."orderId" = $1 ORDER BY i."id""#;

/// One item of an order.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: i32,
    pub product_id: Option<i32>,
    pub product_name: Option<String>,
    pub quantity: i32,
    pub price: Decimal,
    pub line_total: Decimal,
}

impl TryFrom<&Row> for Item {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(Item {
            id: row.try_get("id")?,
            product_id: row.try_get("productId")?,
            product_name: row.try_get("productName")?,
            quantity: row.try_get("quantity")?,
            price: row.try_get("price")?,
            line_total: row.try_get("lineTotal")?,
        })
    }
}

impl Item {
    fn values(&self) -> Vec<Value> {
        vec![
            self.id.into(),
            self.product_id.map_or(Value::Null, Value::from),
            self.product_name.clone().into(),
            self.quantity.into(),
            Value::Money(self.price),
            Value::Money(self.line_total),
        ]
    }
}

/// An order with everything `show` prints.
pub struct Detail {
    pub order: Order,
    pub customer_email: Option<String>,
    pub created_by_email: Option<String>,
    pub items: Vec<Item>,
}

const DETAIL: &str = concat!(
    r#"SELECT "id", "customerId", "customerName", "customerEmail", "status"::text AS "status", "total",
        "itemCount", "createdBy", "createdByEmail", "notes", "createdAt", "updatedAt" FROM "#,
    orders_relation!(),
    r#" WHERE "id" = $1"#
);

/// `order 12 does not exist` (exit 3).
pub fn not_found(id: i32) -> anyhow::Error {
    error::not_found(format!("order {id} does not exist"))
}

/// The order `id` with its customer, creator and items (exit 3 when there is none). Within
/// one transaction, so that the items and the count agree.
pub async fn fetch_detail(client: &impl GenericClient, id: i32) -> Result<Detail> {
    let rows = db::query(client, DETAIL, &[&id])
        .await
        .with_context(|| format!("cannot read order {id}"))?;
    let row = rows.first().ok_or_else(|| not_found(id))?;
    let order = Order::try_from(row)?;
    let items = db::query(client, ITEMS, &[&id])
        .await
        .with_context(|| format!("cannot read the items of order {id}"))?
        .iter()
        .map(Item::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(Detail {
        order,
        customer_email: row.try_get("customerEmail")?,
        created_by_email: row.try_get("createdByEmail")?,
        items,
    })
}

/// Prints one order: in a table, the order as fields and then its items as a table of their
/// own; in CSV and JSON one record whose `items` field holds them as a JSON array (so that CSV
/// stays one header and one row).
pub fn print(ctx: &Context, detail: &Detail) -> Result<()> {
    let names = TABLE.column_names();
    let mut columns = names.clone();
    let mut values = detail.order.values();
    // Beside the ids they name.
    columns.insert(3, "customerEmail");
    values.insert(3, detail.customer_email.clone().into());
    let created_by_at = columns
        .iter()
        .position(|c| *c == "createdBy")
        .map_or(columns.len(), |i| i + 1);
    columns.insert(created_by_at, "createdByEmail");
    values.insert(created_by_at, detail.created_by_email.clone().into());
    let mut items = Rows::new(ITEM_COLUMNS);
    for item in &detail.items {
        items.push(item.values());
    }
    ctx.out.record_with(&columns, &values, &[("items", &items)])
}
