//! `crm orders create`: one transaction that takes the prices of the products at that moment,
//! takes their stock, and writes the order and its items; nothing is written when anything is
//! wrong.
//!
//! Concurrency: the products are locked (`FOR NO KEY UPDATE`) in id order before their stock is
//! read, so concurrent orders queue on each product they share, never oversell, and, taking
//! their locks in the same order, never deadlock one another. Items being inserted take only
//! `KEY SHARE` locks on their products, which do not wait for those. A transaction that loses a
//! race anyway (a deadlock with another client) is run again ([`crate::db::tx::retrying`]).

use super::order::{self, Detail};
use super::{OrderStatus, lock_customer_total, recompute_total_purchases};
use crate::commands::users::acting::{acting_user, lock_acting_user};
use crate::context::Context;
use crate::db;
use crate::db::tx::retrying;
use crate::error;
use crate::validate::{self, flag};
use anyhow::{Context as _, Result};
use clap::Args;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tokio_postgres::GenericClient;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The customer's id
    #[arg(long, value_name = "ID", value_parser = flag::customer_id, allow_negative_numbers = true)]
    pub customer: i32,

    /// A product's id and how many: PRODUCT:QTY (repeat for more; one product given twice is
    /// one item of both quantities)
    #[arg(long = "item", value_name = "PRODUCT:QTY", required = true, value_parser = parse_item, allow_hyphen_values = true)]
    pub items: Vec<ItemRequest>,

    /// Notes on the order
    #[arg(long, value_name = "TEXT", value_parser = flag::long_text)]
    pub notes: Option<String>,

    /// The status it starts in: pending, processing or completed [default: pending]
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<OrderStatus>,
}

/// One `--item PRODUCT:QTY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRequest {
    pub product: i32,
    pub quantity: i32,
}

/// `12:3` -> product 12, quantity 3; both whole numbers from 1.
fn parse_item(value: &str) -> Result<ItemRequest, String> {
    let expected = "expected PRODUCT:QTY, e.g. 12:3";
    let (product, quantity) = value
        .split_once(':')
        .ok_or_else(|| format!("\"{value}\" has no quantity ({expected})"))?;
    let whole = |text: &str, what: &str| -> Result<i32, String> {
        let n: i64 = text
            .trim()
            .parse()
            .map_err(|_| format!("the {what} \"{text}\" is not a whole number ({expected})"))?;
        if n < 1 {
            return Err(format!("the {what} must be at least 1, got {n}"));
        }
        i32::try_from(n).map_err(|_| format!("the {what} must be at most {}, got {n}", i32::MAX))
    };
    Ok(ItemRequest {
        product: whole(product, "product id")?,
        quantity: whole(quantity, "quantity")?,
    })
}

/// What to place: one quantity per product, in product id order (the order locks are taken in).
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    customer: i32,
    created_by: Option<i32>,
    status: OrderStatus,
    notes: Option<String>,
    quantities: BTreeMap<i32, i32>,
}

/// Merges the items of one product; exit 2 when their sum does not fit an INTEGER.
fn merge_items(items: &[ItemRequest]) -> Result<BTreeMap<i32, i32>> {
    let mut quantities: BTreeMap<i32, i32> = BTreeMap::new();
    for item in items {
        let sum = quantities.entry(item.product).or_insert(0);
        *sum = sum.checked_add(item.quantity).ok_or_else(|| {
            error::usage(format!(
                "product {} is asked for more than {} times in all",
                item.product,
                i32::MAX
            ))
        })?;
    }
    Ok(quantities)
}

pub async fn run(ctx: &Context, args: CreateArgs) -> Result<()> {
    let status = args.status.unwrap_or(OrderStatus::Pending);
    if status == OrderStatus::Cancelled {
        return Err(error::usage(
            "--status cancelled: an order starts pending, processing or completed (cancel it \
             afterwards with crm orders cancel)",
        ));
    }
    let quantities = merge_items(&args.items)?;
    let db = ctx.db().await?;
    let created_by = acting_user(ctx, db).await?;
    let plan = Plan {
        customer: args.customer,
        created_by,
        status,
        notes: args.notes,
        quantities,
    };
    let detail = retrying(|| async {
        let mut client = db.get().await?;
        let tx = client.transaction().await?;
        crate::db::tx::bound_locks(&*tx).await?;
        let id = place(&*tx, &plan).await?;
        let detail = order::fetch_detail(&*tx, id).await?;
        tx.commit().await?;
        Ok(detail)
    })
    .await
    .context("cannot create the order")?;
    report(ctx, &detail);
    order::print(ctx, &detail)
}

/// The customer, locked against deletion until the order is in (the foreign key would lock it
/// too, but only once the order is written; this tells a missing customer apart first).
const LOCK_CUSTOMER: &str = r#"SELECT "id" FROM "Customers" WHERE "id" = $1 FOR KEY SHARE"#;

/// The products asked for, locked in id order; NULL stock counts as none.
const LOCK_PRODUCTS: &str = r#"SELECT "id", "name", "price", COALESCE("stock", 0) AS "stock"
    FROM "Products" WHERE "id" = ANY($1) ORDER BY "id" FOR NO KEY UPDATE"#;

/// Takes each product's quantity from its stock (rows already locked and checked).
const TAKE_STOCK: &str = r#"UPDATE "Products" p
    SET "stock" = COALESCE(p."stock", 0) - v."quantity", "updatedAt" = now()
    FROM unnest($1::int4[], $2::int4[]) AS v("id", "quantity")
    WHERE p."id" = v."id""#;

const INSERT_ORDER: &str = r#"INSERT INTO "Orders"
        ("customerId", "createdBy", "status", "total", "notes", "createdAt", "updatedAt")
    VALUES ($1, $2, $3, $4, $5, now(), now()) RETURNING "id""#;

/// The items, each with its product's price at this moment.
const INSERT_ITEMS: &str = r#"INSERT INTO "OrderItems"
        ("orderId", "productId", "quantity", "price", "createdAt", "updatedAt")
    SELECT $1, v."productId", v."quantity", v."price", now(), now()
    FROM unnest($2::int4[], $3::int4[], $4::numeric[]) AS v("productId", "quantity", "price")"#;

/// A product as the order finds it, locked.
struct Stocked {
    id: i32,
    name: String,
    price: Decimal,
    stock: i32,
}

/// Writes the order in the caller's transaction; returns its id. Every check comes before the
/// first write.
async fn place(tx: &impl GenericClient, plan: &Plan) -> Result<i32> {
    let customer_found = if plan.status == OrderStatus::Completed {
        // Completing changes the customer's totalPurchases: the stronger lock.
        lock_customer_total(tx, plan.customer).await?
    } else {
        !db::query(tx, LOCK_CUSTOMER, &[&plan.customer])
            .await
            .context("cannot look up the customer")?
            .is_empty()
    };
    if !customer_found {
        return Err(error::not_found(format!(
            "customer {} does not exist",
            plan.customer
        )));
    }
    lock_acting_user(tx, plan.created_by).await?;

    let ids: Vec<i32> = plan.quantities.keys().copied().collect();
    let products = db::query(tx, LOCK_PRODUCTS, &[&ids])
        .await
        .context("cannot read the products")?
        .iter()
        .map(|row| {
            Ok(Stocked {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                price: row.try_get("price")?,
                stock: row.try_get("stock")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    check_products(plan, &products)?;
    let total = total(plan, &products)?;

    let quantities: Vec<i32> = products.iter().map(|p| plan.quantities[&p.id]).collect();
    let prices: Vec<Decimal> = products.iter().map(|p| p.price).collect();
    db::execute(tx, TAKE_STOCK, &[&ids, &quantities])
        .await
        .context("cannot take the stock")?;
    let id: i32 = db::query_one(
        tx,
        INSERT_ORDER,
        &[
            &plan.customer,
            &plan.created_by,
            &plan.status,
            &total,
            &plan.notes,
        ],
    )
    .await
    .context("cannot write the order")?
    .try_get("id")?;
    db::execute(tx, INSERT_ITEMS, &[&id, &ids, &quantities, &prices])
        .await
        .context("cannot write the order's items")?;
    if plan.status == OrderStatus::Completed {
        recompute_total_purchases(tx, plan.customer).await?;
    }
    Ok(id)
}

/// Exit 3 naming the products that do not exist; exit 5 naming each product that has too few
/// in stock, its stock and the quantity asked.
fn check_products(plan: &Plan, products: &[Stocked]) -> Result<()> {
    let missing: Vec<String> = plan
        .quantities
        .keys()
        .filter(|id| !products.iter().any(|p| p.id == **id))
        .map(i32::to_string)
        .collect();
    match missing.as_slice() {
        [] => {}
        [one] => return Err(error::not_found(format!("product {one} does not exist"))),
        many => {
            return Err(error::not_found(format!(
                "products {} do not exist",
                many.join(", ")
            )));
        }
    }
    let short: Vec<String> = products
        .iter()
        .filter(|p| p.stock < plan.quantities[&p.id])
        .map(|p| {
            format!(
                "product {} ({}) has {} in stock, {} asked",
                p.id, p.name, p.stock, plan.quantities[&p.id]
            )
        })
        .collect();
    if short.is_empty() {
        Ok(())
    } else {
        Err(error::conflict(short.join("; ")))
    }
}

/// The sum of quantity x price, exact; exit 2 when it does not fit DECIMAL(10,2).
fn total(plan: &Plan, products: &[Stocked]) -> Result<Decimal> {
    let too_large = || {
        error::usage(format!(
            "the order's total would exceed {}, the most DECIMAL(10,2) holds",
            validate::max_money()
        ))
    };
    let mut total = Decimal::ZERO;
    for p in products {
        let line = p
            .price
            .checked_mul(Decimal::from(plan.quantities[&p.id]))
            .ok_or_else(too_large)?;
        total = total.checked_add(line).ok_or_else(too_large)?;
    }
    if total > validate::max_money() {
        return Err(too_large());
    }
    total.rescale(2);
    Ok(total)
}

/// `created order 17 for customer 3: 2 items, total 59.97 (pending)`.
fn report(ctx: &Context, detail: &Detail) {
    let order = &detail.order;
    let customer = match &order.customer_name {
        Some(name) => format!(
            "customer {} ({name})",
            order.customer_id.unwrap_or_default()
        ),
        None => format!("customer {}", order.customer_id.unwrap_or_default()),
    };
    ctx.out.notice(format!(
        "created order {} for {customer}: {}, total {} ({})",
        order.id,
        crate::output::counted(order.item_count, "item", "items"),
        order.total,
        order.status.as_deref().unwrap_or("pending")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_product_colon_quantity() {
        assert_eq!(
            parse_item("12:3"),
            Ok(ItemRequest {
                product: 12,
                quantity: 3
            })
        );
        for bad in [
            "12",
            "12:",
            ":3",
            "a:1",
            "1:b",
            "0:1",
            "1:0",
            "1:-2",
            "1:2147483648",
        ] {
            assert!(parse_item(bad).is_err(), "{bad}");
        }
        assert!(
            parse_item("1:0")
                .unwrap_err()
                .contains("the quantity must be at least 1")
        );
    }

    #[test]
    fn one_product_given_twice_is_one_item() {
        let items = [
            ItemRequest {
                product: 7,
                quantity: 2,
            },
            ItemRequest {
                product: 3,
                quantity: 1,
            },
            ItemRequest {
                product: 7,
                quantity: 5,
            },
        ];
        let merged = merge_items(&items).unwrap();
        assert_eq!(merged.into_iter().collect::<Vec<_>>(), vec![(3, 1), (7, 7)]);
        let overflow = [
            ItemRequest {
                product: 1,
                quantity: i32::MAX,
            },
            ItemRequest {
                product: 1,
                quantity: 1,
            },
        ];
        assert_eq!(
            crate::error::exit_code(&merge_items(&overflow).unwrap_err()),
            2
        );
    }

    #[test]
    fn a_total_beyond_decimal_10_2_is_refused() {
        let plan = Plan {
            customer: 1,
            created_by: None,
            status: OrderStatus::Pending,
            notes: None,
            quantities: BTreeMap::from([(1, 2), (2, 1)]),
        };
        let product = |id, price: &str| Stocked {
            id,
            name: String::new(),
            price: price.parse().unwrap(),
            stock: 10,
        };
        let fits = [product(1, "49999999.99"), product(2, "0.01")];
        assert_eq!(total(&plan, &fits).unwrap().to_string(), "99999999.99");
        let too_much = [product(1, "49999999.99"), product(2, "0.02")];
        assert_eq!(
            crate::error::exit_code(&total(&plan, &too_much).unwrap_err()),
            2
        );
    }
}
