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
use crate::commands::users::acting::{acting_user, lock_acting_user};
use crate::context::Context;
use crate::db;
use crate::db::tx::retrying;
use crate::error;
use crate::output::{Rows, Value};
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Row};

/// The fields a merge fills or takes, as the database names them.
pub const FIELDS: &[&str] = &["firstName", "lastName", "email", "phone", "address"];

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct MergeArgs {
    #[command(subcommand)]
    pub history: Option<HistoryCommand>,

    /// The customer that stays
    #[arg(value_name = "KEEP", required = true, value_parser = flag::customer_id, allow_negative_numbers = true)]
    pub keep: Option<i32>,

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

/// The merges crm recorded.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// The merges, newest first
    List,

    /// Put a merge back: the deleted customers again (their ids too), their orders moved back,
    /// KEEP's fields as they were; refused (exit 5) when something changed since that this would
    /// lose
    Undo {
        /// The merge's id (from merge list)
        #[arg(value_parser = merge_id)]
        id: i32,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

fn merge_id(value: &str) -> Result<i32, String> {
    match value.trim().parse::<i32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "expected a merge id (a whole number from crm customers merge list), got \"{value}\""
        )),
    }
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

/// The merge's record, before anything changes: KEEP and the duplicates as they are, and the
/// orders about to move.
const RECORD: &str = r#"INSERT INTO "crm_customer_merges"
        ("mergedBy", "keepId", "keepBefore", "deleted", "movedOrders")
    VALUES ($1, $2,
        (SELECT to_jsonb(c) FROM "Customers" c WHERE c."id" = $2),
        (SELECT jsonb_agg(to_jsonb(c) ORDER BY c."id") FROM "Customers" c WHERE c."id" = ANY($3)),
        (SELECT COALESCE(jsonb_agg(jsonb_build_object('id', o."id", 'from', o."customerId")
                                   ORDER BY o."id"), '[]')
         FROM "Orders" o WHERE o."customerId" = ANY($3)))
    RETURNING "id""#;

/// KEEP as the merge left it, so that undo can tell whether it changed since.
const RECORD_KEPT: &str = r#"UPDATE "crm_customer_merges" m SET "keepAfter" = to_jsonb(c)
    FROM "Customers" c WHERE c."id" = m."keepId" AND m."id" = $1"#;

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

/// A merge asked for.
struct Request {
    keep: i32,
    duplicates: Vec<i32>,
    take: Vec<Take>,
    dry_run: bool,
    by: Option<i32>,
}

pub async fn run(ctx: &Context, args: MergeArgs) -> Result<()> {
    let keep = match (args.history, args.keep) {
        (Some(HistoryCommand::List), _) => return list(ctx).await,
        (Some(HistoryCommand::Undo { id, confirm }), _) => return undo(ctx, id, confirm).await,
        (None, Some(keep)) => keep,
        (None, None) => return Err(error::usage("KEEP and at least one DUP are needed")),
    };
    let confirm_args = args.confirm;
    let args = Request {
        keep,
        duplicates: args.duplicates,
        take: args.take,
        dry_run: args.dry_run,
        by: None,
    };
    check(&args)?;
    let dups = &args.duplicates;
    let listed = dups
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if !args.dry_run {
        confirm(
            confirm_args,
            &format!(
                "merge customers {listed} into customer {} (deleting {listed})?",
                args.keep
            ),
        )?;
    }
    let db = ctx.db().await?;
    let args = Request {
        by: acting_user(ctx, db).await?,
        ..args
    };
    let plan = retrying(|| async {
        let mut client = db.get().await?;
        let tx = client.transaction().await?;
        crate::db::tx::bound_locks(&*tx).await?;
        let plan = plan(&*tx, &args).await?;
        if !args.dry_run {
            lock_acting_user(&*tx, args.by).await?;
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
fn check(args: &Request) -> Result<()> {
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
async fn plan(tx: &impl GenericClient, args: &Request) -> Result<Plan> {
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
async fn apply(tx: &impl GenericClient, args: &Request, plan: &Plan) -> Result<()> {
    let merge: i32 = db::query_one(tx, RECORD, &[&args.by, &args.keep, &args.duplicates])
        .await
        .context("cannot record the merge")?
        .try_get(0)?;
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
    recompute_total_purchases(tx, args.keep).await?;
    db::execute(tx, RECORD_KEPT, &[&merge])
        .await
        .context("cannot record the merge")?;
    Ok(())
}

/// The changes as rows: each field of KEEP that changes (with the customer that gives it),
/// `totalPurchases`, each order moved, each customer deleted.
fn rows(args: &Request, plan: &Plan) -> Rows {
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

/// The merges, newest first, with the user who made each and what they moved.
const LIST: &str = r#"SELECT m."id", m."mergedAt", u."email" AS "mergedBy", m."keepId",
        (SELECT string_agg(d->>'id', ' ' ORDER BY (d->>'id')::int4)
         FROM jsonb_array_elements(m."deleted") d) AS "deleted",
        jsonb_array_length(m."movedOrders")::int8 AS "ordersMoved", m."undoneAt"
    FROM "crm_customer_merges" m LEFT JOIN "Users" u ON u."id" = m."mergedBy"
    ORDER BY m."id" DESC"#;

const LIST_COLUMNS: &[&str] = &[
    "id",
    "mergedAt",
    "mergedBy",
    "keepId",
    "deleted",
    "ordersMoved",
    "undoneAt",
];

/// `merge list`, streamed.
async fn list(ctx: &Context) -> Result<()> {
    use futures_util::{TryStreamExt, pin_mut};
    let client = ctx.db().await?.get().await?;
    let rows = db::query_raw(&**client, LIST, Vec::<&dyn crate::db::Param>::new())
        .await
        .context("cannot read the merges")?;
    pin_mut!(rows);
    let mut out = ctx.out.row_writer(LIST_COLUMNS)?;
    while let Some(row) = rows.try_next().await.context("cannot read the merges")? {
        out.row(vec![
            row.try_get::<_, i32>("id")?.into(),
            Value::Time(row.try_get("mergedAt")?),
            row.try_get::<_, Option<String>>("mergedBy")?.into(),
            row.try_get::<_, i32>("keepId")?.into(),
            row.try_get::<_, Option<String>>("deleted")?.into(),
            Value::Int(row.try_get("ordersMoved")?),
            row.try_get::<_, Option<OffsetDateTime>>("undoneAt")?.into(),
        ])
        .context("cannot write to standard output")?;
    }
    let count = out.count();
    let _stdout = out
        .finish(Some(crate::output::counted(
            i64::try_from(count).unwrap_or(i64::MAX),
            "merge",
            "merges",
        )))
        .context("cannot write to standard output")?;
    Ok(())
}

const LOCK_MERGE: &str = r#"SELECT "keepId", "keepBefore", "keepAfter", "deleted", "movedOrders",
        "undoneAt"
    FROM "crm_customer_merges" WHERE "id" = $1 FOR UPDATE"#;

const LOCK_KEPT: &str = r#"SELECT to_jsonb(c) FROM "Customers" c WHERE "id" = $1 FOR UPDATE"#;

/// The deleted customers' ids that are taken again.
const TAKEN: &str = r#"SELECT "id" FROM "Customers" WHERE "id" = ANY($1) ORDER BY "id""#;

/// The moved orders, locked in id order, with the customer each has now (NULL: deleted).
const LOCK_MOVED: &str = r#"SELECT m."id", o."id" IS NOT NULL AS "exists", o."customerId"
    FROM jsonb_to_recordset($1::jsonb) AS m("id" int4, "from" int4)
    LEFT JOIN LATERAL (SELECT "id", "customerId" FROM "Orders" WHERE "id" = m."id" FOR UPDATE) o
      ON true
    ORDER BY m."id""#;

const RESTORE_DELETED: &str = r#"INSERT INTO "Customers"
    SELECT * FROM jsonb_populate_recordset(NULL::"Customers", $1::jsonb)"#;

const MOVE_BACK: &str = r#"UPDATE "Orders" o SET "customerId" = m."from"
    FROM jsonb_to_recordset($1::jsonb) AS m("id" int4, "from" int4) WHERE o."id" = m."id""#;

const RESTORE_KEPT: &str = r#"UPDATE "Customers" c SET "firstName" = b."firstName",
        "lastName" = b."lastName", "email" = b."email", "phone" = b."phone",
        "address" = b."address", "totalPurchases" = b."totalPurchases", "updatedAt" = b."updatedAt"
    FROM jsonb_populate_record(NULL::"Customers", $1::jsonb) b WHERE c."id" = b."id""#;

/// `totalPurchases` of the customers given, where it is not what their completed orders sum to
/// (orders completed since the merge): as `db check --fix` sets it.
const FIX_TOTALS: &str = r#"UPDATE "Customers" c SET "totalPurchases" = s."sum", "updatedAt" = now()
    FROM (SELECT c2."id", COALESCE(sum(o."total"), 0.00) AS "sum"
          FROM "Customers" c2
          LEFT JOIN "Orders" o ON o."customerId" = c2."id" AND o."status" = 'completed'
          WHERE c2."id" = ANY($1) GROUP BY c2."id") s
    WHERE s."id" = c."id" AND COALESCE(c."totalPurchases", 0.00) <> s."sum""#;

const MARK_UNDONE: &str = r#"UPDATE "crm_customer_merges" SET "undoneAt" = now() WHERE "id" = $1"#;

/// What undo found and did.
struct Undone {
    keep: i32,
    restored: Vec<i32>,
    moved: usize,
}

/// `merge undo ID`: one transaction that checks nothing it would overwrite changed since the
/// merge, then puts every row back.
async fn undo(ctx: &Context, id: i32, confirm_args: ConfirmArgs) -> Result<()> {
    confirm(
        confirm_args,
        &format!("undo merge {id} (recreating its customers and restoring the kept one)?"),
    )?;
    let db = ctx.db().await?;
    let undone = retrying(|| async {
        let mut client = db.get().await?;
        let tx = client.transaction().await?;
        crate::db::tx::bound_locks(&*tx).await?;
        let undone = undo_in(&*tx, id).await?;
        tx.commit().await?;
        Ok(undone)
    })
    .await
    .with_context(|| format!("cannot undo merge {id}"))?;
    let restored: Vec<String> = undone.restored.iter().map(i32::to_string).collect();
    ctx.out.notice(format!(
        "undid merge {id}: customers {} recreated, {} moved back, customer {}'s fields restored",
        restored.join(", "),
        crate::output::counted(undone.moved as i64, "order", "orders"),
        undone.keep
    ));
    Ok(())
}

async fn undo_in(tx: &impl GenericClient, id: i32) -> Result<Undone> {
    let rows = db::query(tx, LOCK_MERGE, &[&id])
        .await
        .context("cannot read the merge")?;
    let merge = rows
        .first()
        .ok_or_else(|| error::not_found(format!("merge {id} does not exist")))?;
    let keep: i32 = merge.try_get("keepId")?;
    let keep_before: serde_json::Value = merge.try_get("keepBefore")?;
    let keep_after: Option<serde_json::Value> = merge.try_get("keepAfter")?;
    let deleted: serde_json::Value = merge.try_get("deleted")?;
    let moved: serde_json::Value = merge.try_get("movedOrders")?;
    if let Some(when) = merge.try_get::<_, Option<OffsetDateTime>>("undoneAt")? {
        return Err(error::conflict(format!(
            "merge {id} was undone already, at {}",
            crate::output::rfc3339_utc(when)
        )));
    }
    let restored: Vec<i32> = deleted
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["id"].as_i64().and_then(|i| i32::try_from(i).ok()))
                .collect()
        })
        .unwrap_or_default();

    // Everything that changed since and would be lost, named.
    let mut changed: Vec<String> = Vec::new();
    let kept = db::query(tx, LOCK_KEPT, &[&keep])
        .await
        .context("cannot read the kept customer")?;
    match kept.first() {
        None => changed.push(format!("customer {keep} (kept) was deleted")),
        Some(row) => {
            let now: serde_json::Value = row.try_get(0)?;
            let after = keep_after.unwrap_or(serde_json::Value::Null);
            for field in FIELDS {
                if now[field] != after[field] {
                    changed.push(format!(
                        "customer {keep}'s {field} changed (from {} to {})",
                        after[field], now[field]
                    ));
                }
            }
        }
    }
    for taken in db::query(tx, TAKEN, &[&restored])
        .await
        .context("cannot look up the merged customers' ids")?
    {
        let taken: i32 = taken.try_get(0)?;
        changed.push(format!("customer {taken} exists again"));
    }
    let orders = db::query(tx, LOCK_MOVED, &[&moved])
        .await
        .context("cannot read the moved orders")?;
    for order in &orders {
        let order_id: i32 = order.try_get("id")?;
        let exists: bool = order.try_get("exists")?;
        let customer: Option<i32> = order.try_get("customerId")?;
        if !exists {
            changed.push(format!("order {order_id} was deleted"));
        } else if customer != Some(keep) {
            changed.push(format!(
                "order {order_id} now belongs to {}",
                customer.map_or("no customer".to_string(), |c| format!("customer {c}"))
            ));
        }
    }
    if !changed.is_empty() {
        return Err(error::conflict(format!(
            "merge {id} cannot be undone without losing what changed since: {}",
            changed.join("; ")
        )));
    }

    db::execute(tx, RESTORE_DELETED, &[&deleted])
        .await
        .context("cannot recreate the merged customers")?;
    db::execute(tx, MOVE_BACK, &[&moved])
        .await
        .context("cannot move the orders back")?;
    db::execute(tx, RESTORE_KEPT, &[&keep_before])
        .await
        .context("cannot restore the kept customer")?;
    let mut all = restored.clone();
    all.push(keep);
    db::execute(tx, FIX_TOTALS, &[&all])
        .await
        .context("cannot recompute totalPurchases")?;
    db::execute(tx, MARK_UNDONE, &[&id])
        .await
        .context("cannot record the undo")?;
    Ok(Undone {
        keep,
        restored,
        moved: orders.len(),
    })
}
