//! `crm customers merge KEEP DUP...`: one customer kept, its duplicates folded into it, in one
//! transaction: every order of a duplicate moves to KEEP; KEEP's empty fields are filled from
//! the duplicates, newest first, unless `--take FIELD=ID` names the customer that gives a field;
//! `totalPurchases` is recomputed from the orders; the duplicates are deleted.
//!
//! Concurrency: the customers are locked `FOR UPDATE` in id order before anything is read, as
//! `orders create` locks its products. An order being placed for a duplicate holds `KEY SHARE`
//! on it until it commits: the merge waits for it, then moves it with the others. An order that
//! comes after the lock waits for the merge, then finds its customer gone (exit 3), so no order
//! is ever left pointing at a deleted customer.

use crate::commands::confirm::{ConfirmArgs, confirm};
use crate::commands::orders::recompute_total_purchases;
use crate::context::Context;
use crate::db;
use crate::db::tx::retrying;
use crate::error;
use crate::output::{Rows, Value};
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::Args;
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Row};

/// The fields a merge fills or takes, as the database names them.
pub const FIELDS: &[&str] = &["firstName", "lastName", "email", "phone", "address"];

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The customer that stays
    #[arg(value_name = "KEEP", value_parser = flag::customer_id, allow_negative_numbers = true)]
    pub keep: i32,

    /// The customers merged into KEEP and deleted
    #[arg(value_name = "DUP", required = true, value_parser = flag::customer_id, allow_negative_numbers = true)]
    pub duplicates: Vec<i32>,

    /// Take FIELD (firstName, lastName, email, phone or address) from customer ID, KEEP or one
    /// of the duplicates, even where KEEP has one (repeat for more fields)
    #[arg(long, value_name = "FIELD=ID", value_parser = parse_take)]
    pub take: Vec<Take>,

    /// Print what would change and write nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,
}

/// One `--take FIELD=ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub field: &'static str,
    pub customer: i32,
}

fn parse_take(value: &str) -> Result<Take, String> {
    let expected = format!("expected FIELD=ID with FIELD one of {}", FIELDS.join(", "));
    let (field, id) = value
        .split_once('=')
        .ok_or_else(|| format!("\"{value}\": {expected}"))?;
    let field = FIELDS
        .iter()
        .find(|f| f.eq_ignore_ascii_case(field.trim()))
        .ok_or_else(|| format!("unknown field \"{}\": {expected}", field.trim()))?;
    Ok(Take {
        field,
        customer: flag::customer_id(id)?,
    })
}

/// One customer as the merge reads it.
#[derive(Debug, Clone)]
struct Party {
    id: i32,
    fields: Vec<Option<String>>,
    total_purchases: Option<Decimal>,
    created_at: OffsetDateTime,
}

impl TryFrom<&Row> for Party {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(Party {
            id: row.try_get("id")?,
            fields: FIELDS
                .iter()
                .map(|f| row.try_get::<_, Option<String>>(*f))
                .collect::<Result<_, _>>()?,
            total_purchases: row.try_get("totalPurchases")?,
            created_at: row.try_get("createdAt")?,
        })
    }
}

/// The customers, locked in id order (for the merge itself).
const LOCK: &str = r#"SELECT "id", "firstName", "lastName", "email", "phone", "address",
        "totalPurchases", "createdAt"
    FROM "Customers" WHERE "id" = ANY($1) ORDER BY "id" FOR UPDATE"#;

/// The customers, unlocked (for `--dry-run`, which must not hold up orders).
const READ: &str = r#"SELECT "id", "firstName", "lastName", "email", "phone", "address",
        "totalPurchases", "createdAt"
    FROM "Customers" WHERE "id" = ANY($1) ORDER BY "id""#;

const DUPLICATES_ORDERS: &str =
    r#"SELECT "id", "customerId" FROM "Orders" WHERE "customerId" = ANY($1) ORDER BY "id""#;

const MOVE_ORDERS: &str = r#"UPDATE "Orders" SET "customerId" = $1 WHERE "customerId" = ANY($2)"#;

/// What `totalPurchases` becomes: the completed orders of KEEP and the duplicates (the same sum
/// `recompute_total_purchases` and `db check` take).
const MERGED_TOTAL: &str = r#"SELECT COALESCE(sum("total"), 0.00) FROM "Orders"
    WHERE "customerId" = ANY($1) AND "status" = 'completed'"#;

const UPDATE_FIELDS: &str = r#"UPDATE "Customers" SET "firstName" = $2, "lastName" = $3,
        "email" = $4, "phone" = $5, "address" = $6, "updatedAt" = now()
    WHERE "id" = $1"#;

const DELETE_DUPLICATES: &str = r#"DELETE FROM "Customers" WHERE "id" = ANY($1)"#;

/// What a merge changes, as the rows it prints.
struct Plan {
    keep: Party,
    fields: Vec<Option<String>>,
    /// For each field that changes, the customer that gives it.
    sources: Vec<Option<i32>>,
    orders: Vec<(i32, i32)>,
    total: Decimal,
}

pub const COLUMNS: &[&str] = &["change", "id", "field", "before", "after", "from"];

pub async fn run(ctx: &Context, args: MergeArgs) -> Result<()> {
    check(&args)?;
    let dups = &args.duplicates;
    let listed = dups
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if !args.dry_run {
        confirm(
            args.confirm,
            &format!(
                "merge customers {listed} into customer {} (deleting {listed})?",
                args.keep
            ),
        )?;
    }
    let db = ctx.db().await?;
    let plan = retrying(|| async {
        let mut client = db.get().await?;
        let tx = client.transaction().await?;
        let plan = plan(&*tx, &args).await?;
        if !args.dry_run {
            apply(&*tx, &args, &plan).await?;
            tx.commit().await?;
        }
        Ok(plan)
    })
    .await
    .with_context(|| {
        format!(
            "cannot merge customers {listed} into customer {}",
            args.keep
        )
    })?;
    ctx.out.rows(&rows(&args, &plan))?;
    let moved = crate::output::counted(plan.orders.len() as i64, "order", "orders");
    if args.dry_run {
        ctx.out.notice(format!(
            "dry run: merging {listed} into {} would move {moved}; nothing was written",
            args.keep
        ));
    } else {
        ctx.out.notice(format!(
            "merged customers {listed} into customer {}: {moved} moved",
            args.keep
        ));
    }
    Ok(())
}

/// Exit 2 for a request that contradicts itself.
fn check(args: &MergeArgs) -> Result<()> {
    let mut seen = vec![args.keep];
    for dup in &args.duplicates {
        if *dup == args.keep {
            return Err(error::usage(format!(
                "customer {dup} is both KEEP and a duplicate: a customer cannot be merged into \
                 itself"
            )));
        }
        if seen.contains(dup) {
            return Err(error::usage(format!(
                "customer {dup} is named twice as a duplicate"
            )));
        }
        seen.push(*dup);
    }
    for (i, take) in args.take.iter().enumerate() {
        if !seen.contains(&take.customer) {
            return Err(error::usage(format!(
                "--take {}={}: customer {} is not one of those merged ({})",
                take.field,
                take.customer,
                take.customer,
                seen.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if args.take[..i].iter().any(|t| t.field == take.field) {
            return Err(error::usage(format!(
                "--take {} is given twice: name one customer per field",
                take.field
            )));
        }
    }
    Ok(())
}

/// Reads (and, unless a dry run, locks) the customers and works out every change.
async fn plan(tx: &impl GenericClient, args: &MergeArgs) -> Result<Plan> {
    let mut ids = args.duplicates.clone();
    ids.push(args.keep);
    let parties = db::query(tx, if args.dry_run { READ } else { LOCK }, &[&ids])
        .await
        .context("cannot read the customers")?
        .iter()
        .map(Party::try_from)
        .collect::<Result<Vec<_>>>()?;
    let mut missing: Vec<i32> = ids
        .iter()
        .copied()
        .filter(|id| !parties.iter().any(|p| p.id == *id))
        .collect();
    missing.sort_unstable();
    match missing.as_slice() {
        [] => {}
        [one] => return Err(error::not_found(format!("customer {one} does not exist"))),
        many => {
            let many: Vec<String> = many.iter().map(i32::to_string).collect();
            return Err(error::not_found(format!(
                "customers {} do not exist",
                many.join(", ")
            )));
        }
    }
    let find = |id: i32| parties.iter().find(|p| p.id == id);
    let keep = find(args.keep)
        .cloned()
        .ok_or_else(|| error::not_found(format!("customer {} does not exist", args.keep)))?;
    // The duplicates, newest first: the first that has a field gives it.
    let mut newest: Vec<&Party> = parties.iter().filter(|p| p.id != args.keep).collect();
    newest.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));

    let mut fields = keep.fields.clone();
    let mut sources = vec![None; FIELDS.len()];
    for (i, field) in FIELDS.iter().enumerate() {
        if let Some(take) = args.take.iter().find(|t| t.field == *field) {
            if let Some(giver) = find(take.customer)
                && giver.fields[i] != fields[i]
            {
                fields[i] = giver.fields[i].clone();
                sources[i] = Some(giver.id);
            }
        } else if is_empty(&fields[i])
            && let Some(giver) = newest.iter().find(|p| !is_empty(&p.fields[i]))
        {
            fields[i] = giver.fields[i].clone();
            sources[i] = Some(giver.id);
        }
    }

    let orders = db::query(tx, DUPLICATES_ORDERS, &[&args.duplicates])
        .await
        .context("cannot read the duplicates' orders")?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("customerId")?)))
        .collect::<Result<Vec<(i32, i32)>>>()?;
    let total: Decimal = db::query_one(tx, MERGED_TOTAL, &[&ids])
        .await
        .context("cannot sum the completed orders")?
        .try_get(0)?;
    Ok(Plan {
        keep,
        fields,
        sources,
        orders,
        total,
    })
}

fn is_empty(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

/// The writes, in the transaction that locked the customers.
async fn apply(tx: &impl GenericClient, args: &MergeArgs, plan: &Plan) -> Result<()> {
    db::execute(tx, MOVE_ORDERS, &[&args.keep, &args.duplicates])
        .await
        .context("cannot move the orders")?;
    db::execute(tx, DELETE_DUPLICATES, &[&args.duplicates])
        .await
        .context("cannot delete the duplicates")?;
    if plan.sources.iter().any(Option::is_some) {
        let f = &plan.fields;
        db::execute(
            tx,
            UPDATE_FIELDS,
            &[&args.keep, &f[0], &f[1], &f[2], &f[3], &f[4]],
        )
        .await
        .context("cannot fill the kept customer's fields")?;
    }
    recompute_total_purchases(tx, args.keep).await
}

/// The changes as rows: each field of KEEP that changes (with the customer that gives it),
/// `totalPurchases`, each order moved, each customer deleted.
fn rows(args: &MergeArgs, plan: &Plan) -> Rows {
    let mut rows = Rows::new(COLUMNS);
    for (i, field) in FIELDS.iter().enumerate() {
        if let Some(source) = plan.sources[i] {
            rows.push(vec![
                "field".into(),
                args.keep.into(),
                (*field).into(),
                plan.keep.fields[i].clone().into(),
                plan.fields[i].clone().into(),
                source.into(),
            ]);
        }
    }
    if plan.keep.total_purchases != Some(plan.total) {
        rows.push(vec![
            "field".into(),
            args.keep.into(),
            "totalPurchases".into(),
            plan.keep.total_purchases.map_or(Value::Null, Value::Money),
            Value::Money(plan.total),
            Value::Null,
        ]);
    }
    for (order, from) in &plan.orders {
        rows.push(vec![
            "order".into(),
            (*order).into(),
            "customerId".into(),
            (*from).into(),
            args.keep.into(),
            Value::Null,
        ]);
    }
    for dup in &args.duplicates {
        rows.push(vec![
            "delete".into(),
            (*dup).into(),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ]);
    }
    rows
}
