//! `crm orders set-status` and `crm orders cancel`: SPEC.md's lifecycle, each change one
//! transaction.
//!
//! The order's row is locked first, so two changes of one order take turns and the second sees
//! what the first did. Cancelling then locks the products of its items in id order (as placing
//! an order does) and puts their quantities back; completing locks the customer and recomputes
//! its `totalPurchases` (see [`super::recompute_total_purchases`]).

use super::order;
use super::{OrderStatus, lock_customer_total, recompute_total_purchases};
use crate::context::Context;
use crate::db;
use crate::db::tx::retrying;
use crate::error;
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::Args;
use tokio_postgres::GenericClient;

#[derive(Debug, Args)]
pub struct SetStatusArgs {
    /// The order's id
    #[arg(value_parser = flag::order_id, allow_negative_numbers = true)]
    pub id: i32,

    /// The new status
    #[arg(value_enum)]
    pub status: OrderStatus,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The order's id
    #[arg(value_parser = flag::order_id, allow_negative_numbers = true)]
    pub id: i32,
}

pub async fn set_status(ctx: &Context, args: SetStatusArgs) -> Result<()> {
    change(ctx, args.id, args.status).await
}

pub async fn cancel(ctx: &Context, args: CancelArgs) -> Result<()> {
    change(ctx, args.id, OrderStatus::Cancelled).await
}

/// What a change did, for the notice.
struct Changed {
    from: OrderStatus,
    /// Units put back in stock, and of how many products.
    restocked: Option<(i64, usize)>,
    /// Items whose product was deleted: nothing to put back.
    without_product: i64,
}

async fn change(ctx: &Context, id: i32, to: OrderStatus) -> Result<()> {
    let db = ctx.db().await?;
    let (changed, detail) = retrying(|| async {
        let mut client = db.get().await?;
        let tx = client.transaction().await?;
        crate::db::tx::bound_locks(&*tx).await?;
        let changed = move_order(&*tx, id, to).await?;
        let detail = order::fetch_detail(&*tx, id).await?;
        tx.commit().await?;
        Ok((changed, detail))
    })
    .await
    .with_context(|| match to {
        OrderStatus::Cancelled => format!("cannot cancel order {id}"),
        _ => format!("cannot set the status of order {id} to {to}"),
    })?;
    report(ctx, id, to, &changed);
    order::print(ctx, &detail)
}

const LOCK_ORDER: &str =
    r#"SELECT "customerId", "status"::text AS "status" FROM "Orders" WHERE "id" = $1 FOR UPDATE"#;

const SET_STATUS: &str =
    r#"UPDATE "Orders" SET "status" = $2, "updatedAt" = now() WHERE "id" = $1"#;

/// The quantities of the order's items per product (items of deleted products have none).
const ITEM_QUANTITIES: &str = r#"SELECT "productId", sum("quantity")::int8 AS "quantity"
    FROM "OrderItems" WHERE "orderId" = $1 AND "productId" IS NOT NULL
    GROUP BY "productId" ORDER BY "productId""#;

const ITEMS_WITHOUT_PRODUCT: &str =
    r#"SELECT count(*) FROM "OrderItems" WHERE "orderId" = $1 AND "productId" IS NULL"#;

/// The products to restock, locked in id order, as placing an order locks them.
const LOCK_PRODUCTS: &str =
    r#"SELECT "id" FROM "Products" WHERE "id" = ANY($1) ORDER BY "id" FOR NO KEY UPDATE"#;

/// Puts quantities back; a stock that would pass INTEGER's maximum fails the statement.
const RETURN_STOCK: &str = r#"UPDATE "Products" p
    SET "stock" = (COALESCE(p."stock", 0) + v."quantity")::int4, "updatedAt" = now()
    FROM unnest($1::int4[], $2::int8[]) AS v("id", "quantity")
    WHERE p."id" = v."id""#;

/// Moves order `id` to `to` in the caller's transaction, or refuses: exit 3 when there is no
/// such order, exit 5 when the lifecycle forbids the move.
async fn move_order(tx: &impl GenericClient, id: i32, to: OrderStatus) -> Result<Changed> {
    let rows = db::query(tx, LOCK_ORDER, &[&id])
        .await
        .with_context(|| format!("cannot read order {id}"))?;
    let row = rows.first().ok_or_else(|| order::not_found(id))?;
    let customer: Option<i32> = row.try_get("customerId")?;
    let from = OrderStatus::from_db(row.try_get("status")?);
    if !from.can_move_to(to) {
        return Err(refused(from, to));
    }
    let mut changed = Changed {
        from,
        restocked: None,
        without_product: 0,
    };
    match to {
        OrderStatus::Cancelled => {
            let (units, products) = return_stock(tx, id).await?;
            changed.restocked = Some((units, products));
            changed.without_product = db::query_one(tx, ITEMS_WITHOUT_PRODUCT, &[&id])
                .await
                .context("cannot count the items of deleted products")?
                .try_get(0)?;
            db::execute(tx, SET_STATUS, &[&id, &to]).await?;
        }
        OrderStatus::Completed => {
            // The customer's lock first, then the change, then the sum: see
            // recompute_total_purchases. An order whose customer was deleted has no sum to keep.
            let customer = match customer {
                Some(c) if lock_customer_total(tx, c).await? => Some(c),
                _ => None,
            };
            db::execute(tx, SET_STATUS, &[&id, &to]).await?;
            if let Some(customer) = customer {
                recompute_total_purchases(tx, customer).await?;
            }
        }
        OrderStatus::Pending | OrderStatus::Processing => {
            db::execute(tx, SET_STATUS, &[&id, &to]).await?;
        }
    }
    Ok(changed)
}

/// Puts the order's quantities back in stock; returns the units and the number of products.
async fn return_stock(tx: &impl GenericClient, id: i32) -> Result<(i64, usize)> {
    let rows = db::query(tx, ITEM_QUANTITIES, &[&id])
        .await
        .with_context(|| format!("cannot read the items of order {id}"))?;
    let mut products = Vec::with_capacity(rows.len());
    let mut quantities = Vec::with_capacity(rows.len());
    for row in &rows {
        products.push(row.try_get::<_, i32>("productId")?);
        quantities.push(row.try_get::<_, i64>("quantity")?);
    }
    if products.is_empty() {
        return Ok((0, 0));
    }
    db::query(tx, LOCK_PRODUCTS, &[&products])
        .await
        .context("cannot lock the products")?;
    match db::execute(tx, RETURN_STOCK, &[&products, &quantities]).await {
        Ok(_) => {}
        Err(e)
            if e.code() == Some(&tokio_postgres::error::SqlState::NUMERIC_VALUE_OUT_OF_RANGE) =>
        {
            return Err(error::conflict(format!(
                "putting the items back would take a product's stock past {}, the most it holds",
                i32::MAX
            )));
        }
        Err(e) => return Err(anyhow::Error::from(e).context("cannot put the items back in stock")),
    }
    Ok((quantities.iter().sum(), products.len()))
}

/// Exit 5 naming both statuses, and what the lifecycle allows from the current one.
fn refused(from: OrderStatus, to: OrderStatus) -> anyhow::Error {
    if from == to {
        return error::conflict(format!("it is already {from}"));
    }
    let allowed: Vec<&str> = [
        OrderStatus::Pending,
        OrderStatus::Processing,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ]
    .into_iter()
    .filter(|s| from.can_move_to(*s))
    .map(OrderStatus::as_str)
    .collect();
    let next = match allowed.as_slice() {
        [] => format!("a {from} order does not change status any more"),
        some => format!("a {from} order can only become {}", some.join(" or ")),
    };
    error::conflict(format!("it is {from}, and {next}"))
}

fn report(ctx: &Context, id: i32, to: OrderStatus, changed: &Changed) {
    let mut message = format!("order {id}: {} -> {to}", changed.from);
    if let Some((units, products)) = changed.restocked {
        message.push_str(&format!(
            "; {} of {} put back in stock",
            crate::output::counted(units, "unit", "units"),
            crate::output::counted(
                i64::try_from(products).unwrap_or(i64::MAX),
                "product",
                "products"
            )
        ));
    }
    if changed.without_product > 0 {
        message.push_str(&format!(
            " ({} of deleted products had nothing to put back)",
            crate::output::counted(changed.without_product, "item", "items")
        ));
    }
    ctx.out.notice(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_both_statuses_and_what_is_allowed() {
        use OrderStatus::*;
        let text = |from, to| refused(from, to).to_string();
        assert_eq!(
            text(Pending, Completed),
            "it is pending, and a pending order can only become processing or cancelled"
        );
        assert_eq!(
            text(Completed, Cancelled),
            "it is completed, and a completed order does not change status any more"
        );
        assert_eq!(text(Cancelled, Cancelled), "it is already cancelled");
        assert_eq!(crate::error::exit_code(&refused(Processing, Pending)), 5);
    }

    #[test]
    fn the_lifecycle_allows_exactly_specs_moves() {
        use OrderStatus::*;
        let all = [Pending, Processing, Completed, Cancelled];
        let allowed: Vec<(OrderStatus, OrderStatus)> = all
            .iter()
            .flat_map(|from| all.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from.can_move_to(*to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, Processing),
                (Pending, Cancelled),
                (Processing, Completed),
                (Processing, Cancelled)
            ]
        );
    }
}
