//! `crm db check [--fix]`: audits the data's invariants, which crm's own commands keep but other
//! tools writing to the same database may not: order totals equal the sum of their items,
//! `totalPurchases` equals the customer's completed orders, stock is never negative, no item lacks
//! its order, and no reference names a row that is gone. Each check is one set-based query
//! ([`CHECKS`], run in that order); every violation is a row on stdout and the exit status is 1
//! while any remains.
//!
//! `--fix` repairs what can be derived from the other rows, in ONE serializable transaction that
//! finds the violations inside it, so that what it fixes is exactly what it found even while
//! orders are being placed; a serialization failure or deadlock runs it again. Each check runs
//! after the fixes of the checks before it: a `totalPurchases` is compared with the order totals
//! as corrected. Without `--fix` every check reads one read-only snapshot, so they agree, on a
//! read replica (`--read-url`) when there is one; `--fix` reads and writes on the primary.

use crate::context::Context;
use crate::db;
use crate::db::tx::{retrying, snapshot};
use crate::error::ExitStatus;
use crate::output::{RowWriter, Value};
use anyhow::{Context as _, Result};
use clap::Args;
use futures_util::TryStreamExt;
use tokio_postgres::{GenericClient, IsolationLevel};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Repair what can be derived from the other rows, in one transaction
    #[arg(long)]
    pub fix: bool,
}

/// The output's columns.
const COLUMNS: [&str; 5] = ["check", "table", "id", "problem", "fixed"];

/// One invariant: the query that finds its violations and the statements that repair them.
struct Check {
    /// The name in the output: `order-total`.
    name: &'static str,
    /// Returns `(table text, id int4, problem text, fixable bool)`, ordered by id.
    find: &'static str,
    /// Statements repairing every fixable violation `find` returns, and nothing else: they
    /// repeat its predicate, so the rows they change are the rows it found.
    fix: &'static [&'static str],
    /// What a person must do about a violation that cannot be fixed, for the summary.
    advice: &'static str,
}

/// Each order's items summed as unbounded numeric (quantity x price cannot overflow there), 0.00
/// for an order without items. A sum beyond 99999999.99, the most DECIMAL(10,2) holds, cannot be
/// stored, so that violation is not fixable.
const ORDER_TOTAL_FIND: &str = r#"
    SELECT 'Orders'::text, o."id",
           format('total is %s, its items sum to %s', o."total", s."sum"),
           abs(s."sum") <= 99999999.99
    FROM "Orders" o
    JOIN (SELECT o2."id", COALESCE(sum(i."quantity" * i."price"), 0.00) AS "sum"
          FROM "Orders" o2 LEFT JOIN "OrderItems" i ON i."orderId" = o2."id"
          GROUP BY o2."id") s ON s."id" = o."id"
    WHERE o."total" <> s."sum"
    ORDER BY o."id""#;

const ORDER_TOTAL_FIX: &str = r#"
    UPDATE "Orders" o SET "total" = s."sum", "updatedAt" = now()
    FROM (SELECT o2."id", COALESCE(sum(i."quantity" * i."price"), 0.00) AS "sum"
          FROM "Orders" o2 LEFT JOIN "OrderItems" i ON i."orderId" = o2."id"
          GROUP BY o2."id") s
    WHERE s."id" = o."id" AND o."total" <> s."sum" AND abs(s."sum") <= 99999999.99"#;

/// NULL `totalPurchases` counts as 0.00, as crm's commands treat it; status is compared as
/// text, so NULL-status orders (pending) never count.
const TOTAL_PURCHASES_FIND: &str = r#"
    SELECT 'Customers'::text, c."id",
           format('totalPurchases is %s, its completed orders sum to %s',
                  COALESCE(c."totalPurchases"::text, 'NULL'), COALESCE(s."sum", 0.00)),
           abs(COALESCE(s."sum", 0.00)) <= 99999999.99
    FROM "Customers" c
    LEFT JOIN (SELECT "customerId", sum("total") AS "sum" FROM "Orders"
               WHERE "status" = 'completed' GROUP BY "customerId") s ON s."customerId" = c."id"
    WHERE COALESCE(c."totalPurchases", 0.00) <> COALESCE(s."sum", 0.00)
    ORDER BY c."id""#;

const TOTAL_PURCHASES_FIX: &str = r#"
    UPDATE "Customers" c SET "totalPurchases" = s."sum", "updatedAt" = now()
    FROM (SELECT c2."id", COALESCE(sum(o."total"), 0.00) AS "sum"
          FROM "Customers" c2
          LEFT JOIN "Orders" o ON o."customerId" = c2."id" AND o."status" = 'completed'
          GROUP BY c2."id") s
    WHERE s."id" = c."id" AND COALESCE(c."totalPurchases", 0.00) <> s."sum"
      AND abs(s."sum") <= 99999999.99"#;

/// What the stock should be is not in the database: a person counts it.
const NEGATIVE_STOCK_FIND: &str = r#"
    SELECT 'Products'::text, "id", format('stock is %s', "stock"), false
    FROM "Products" WHERE "stock" < 0
    ORDER BY "id""#;

/// An item whose order is gone (or never named): the schema's ON DELETE CASCADE would have
/// deleted it, which a database made without the foreign key did not. Written as an anti-join
/// (a NULL orderId joins nothing), which PostgreSQL hashes; `IS NULL OR NOT EXISTS` made it probe
/// the orders once per item, four times slower on 3,000,000 items.
const ORPHAN_ITEM_FIND: &str = r#"
    SELECT 'OrderItems'::text, i."id",
           CASE WHEN i."orderId" IS NULL THEN 'orderId is NULL'
                ELSE format('orderId %s names no order', i."orderId") END,
           true
    FROM "OrderItems" i LEFT JOIN "Orders" o ON o."id" = i."orderId"
    WHERE o."id" IS NULL
    ORDER BY i."id""#;

const ORPHAN_ITEM_FIX: &str = r#"
    DELETE FROM "OrderItems" d
    WHERE d."id" IN (SELECT i."id" FROM "OrderItems" i
                     LEFT JOIN "Orders" o ON o."id" = i."orderId" WHERE o."id" IS NULL)"#;

/// References to rows that are gone. A NULL reference is not one: it is what ON DELETE SET NULL
/// leaves (an item of a deleted product). Items without an order are `orphan-item`s, so they
/// are not reported twice. A row is reported once even when two of its references are gone.
const MISSING_REFERENCE_FIND: &str = r#"
    SELECT * FROM (
        SELECT 'OrderItems'::text AS "table", i."id",
               format('productId %s names no product', i."productId") AS "problem", true
        FROM "OrderItems" i
        WHERE i."productId" IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM "Products" p WHERE p."id" = i."productId")
          AND EXISTS (SELECT 1 FROM "Orders" o WHERE o."id" = i."orderId")
        UNION ALL
        SELECT 'Orders', o."id",
               concat_ws('; ',
                   CASE WHEN o."customerId" IS NOT NULL AND NOT EXISTS
                            (SELECT 1 FROM "Customers" c WHERE c."id" = o."customerId")
                        THEN format('customerId %s names no customer', o."customerId") END,
                   CASE WHEN o."createdBy" IS NOT NULL AND NOT EXISTS
                            (SELECT 1 FROM "Users" u WHERE u."id" = o."createdBy")
                        THEN format('createdBy %s names no user', o."createdBy") END),
               true
        FROM "Orders" o
        WHERE (o."customerId" IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM "Customers" c WHERE c."id" = o."customerId"))
           OR (o."createdBy" IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = o."createdBy"))
        UNION ALL
        SELECT 'Notifications', n."id",
               format('createdBy %s names no user', n."createdBy"), true
        FROM "Notifications" n
        WHERE n."createdBy" IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = n."createdBy")
        UNION ALL
        SELECT 'UserNotifications', un."id",
               concat_ws('; ',
                   CASE WHEN un."userId" IS NOT NULL AND NOT EXISTS
                            (SELECT 1 FROM "Users" u WHERE u."id" = un."userId")
                        THEN format('userId %s names no user', un."userId") END,
                   CASE WHEN un."notificationId" IS NOT NULL AND NOT EXISTS
                            (SELECT 1 FROM "Notifications" n WHERE n."id" = un."notificationId")
                        THEN format('notificationId %s names no notification',
                                    un."notificationId") END),
               true
        FROM "UserNotifications" un
        WHERE (un."userId" IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = un."userId"))
           OR (un."notificationId" IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM "Notifications" n WHERE n."id" = un."notificationId"))
        UNION ALL
        SELECT 'NotificationPreferences', np."id",
               format('userId %s names no user', np."userId"), true
        FROM "NotificationPreferences" np
        WHERE np."userId" IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = np."userId")
    ) v
    ORDER BY "id", "table" COLLATE "C", "problem" COLLATE "C""#;

/// What the schema's foreign keys would have done when the row was deleted: SET NULL for the
/// references declared so (leaving `updatedAt` alone, as the database would have), and a
/// delete for the rows declared ON DELETE CASCADE. Each statement counts once per row changed,
/// and a row of `Orders` with both references gone is changed by one statement, once.
const MISSING_REFERENCE_FIX: &[&str] = &[
    r#"UPDATE "OrderItems" i SET "productId" = NULL
       WHERE i."productId" IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM "Products" p WHERE p."id" = i."productId")
         AND EXISTS (SELECT 1 FROM "Orders" o WHERE o."id" = i."orderId")"#,
    r#"UPDATE "Orders" o SET
         "customerId" = CASE WHEN EXISTS
             (SELECT 1 FROM "Customers" c WHERE c."id" = o."customerId")
             THEN o."customerId" END,
         "createdBy" = CASE WHEN EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = o."createdBy")
             THEN o."createdBy" END
       WHERE (o."customerId" IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM "Customers" c WHERE c."id" = o."customerId"))
          OR (o."createdBy" IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = o."createdBy"))"#,
    r#"UPDATE "Notifications" n SET "createdBy" = NULL
       WHERE n."createdBy" IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = n."createdBy")"#,
    r#"DELETE FROM "UserNotifications" un
       WHERE (un."userId" IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = un."userId"))
          OR (un."notificationId" IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM "Notifications" n WHERE n."id" = un."notificationId"))"#,
    r#"DELETE FROM "NotificationPreferences" np
       WHERE np."userId" IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM "Users" u WHERE u."id" = np."userId")"#,
];

/// The checks, in the order they run and are printed. Order totals come first because
/// `totalPurchases` is derived from them, and orphans before references so that an orphan's
/// product is not reported (or repaired) for an item about to be deleted.
const CHECKS: &[Check] = &[
    Check {
        name: "order-total",
        find: ORDER_TOTAL_FIND,
        fix: &[ORDER_TOTAL_FIX],
        advice: "its items sum beyond 99999999.99, the most DECIMAL(10,2) holds",
    },
    Check {
        name: "total-purchases",
        find: TOTAL_PURCHASES_FIND,
        fix: &[TOTAL_PURCHASES_FIX],
        advice: "its completed orders sum beyond 99999999.99, the most DECIMAL(10,2) holds",
    },
    Check {
        name: "negative-stock",
        find: NEGATIVE_STOCK_FIND,
        fix: &[],
        advice: "crm products stock ID --set N",
    },
    Check {
        name: "orphan-item",
        find: ORPHAN_ITEM_FIND,
        fix: &[ORPHAN_ITEM_FIX],
        advice: "",
    },
    Check {
        name: "missing-reference",
        find: MISSING_REFERENCE_FIND,
        fix: MISSING_REFERENCE_FIX,
        advice: "",
    },
];

/// One violation found, as printed.
#[derive(Debug, Clone, PartialEq)]
struct Violation {
    check: &'static str,
    table: String,
    id: i32,
    problem: String,
    fixable: bool,
    fixed: bool,
}

/// Prints the violations (nothing on stdout when there are none) and a summary on stderr.
/// The exit status is 1 while any violation is left unfixed, 0 otherwise.
pub async fn run(ctx: &Context, args: CheckArgs) -> Result<ExitStatus> {
    let tally = if args.fix {
        // Printed only once committed: a fix that is rolled back must not say it was made.
        let found = fix_all(ctx).await.context("cannot check the data")?;
        let mut out: Option<RowWriter<_>> = None;
        for v in &found {
            writer(ctx, &mut out)?.row(v.values())?;
        }
        if let Some(out) = out {
            drop(out.finish(None)?);
        }
        Tally::of(&found)
    } else {
        find_all(ctx).await.context("cannot check the data")?
    };
    if tally.total() == 0 {
        ctx.out.notice("no violations found");
        return Ok(ExitStatus::SUCCESS);
    }
    ctx.out.notice(summary(&tally, args.fix));
    Ok(if tally.total() > tally.fixed() {
        ExitStatus::FOUND
    } else {
        ExitStatus::SUCCESS
    })
}

/// The output, opened at the first violation (so that none leaves stdout empty).
fn writer<'a>(
    ctx: &Context,
    out: &'a mut Option<RowWriter<std::io::StdoutLock<'static>>>,
) -> Result<&'a mut RowWriter<std::io::StdoutLock<'static>>> {
    if out.is_none() {
        *out = Some(ctx.out.row_writer(&COLUMNS)?);
    }
    out.as_mut().context("no output")
}

/// Every check in one read-only snapshot, each violation printed as it arrives (in constant
/// memory, however many there are); nothing is written, so a read replica serves it.
async fn find_all(ctx: &Context) -> Result<Tally> {
    let mut client = ctx.read_db().await?.get().await?;
    let tx = snapshot(&mut client).await?;
    db::batch_execute(&*tx, db::LARGE_WORK_MEM).await?;
    let mut tally = Tally::default();
    let mut out = None;
    for check in CHECKS {
        let rows = db::query_raw(&*tx, check.find, Vec::new())
            .await
            .with_context(|| format!("cannot run the {} check", check.name))?;
        futures_util::pin_mut!(rows);
        while let Some(row) = rows
            .try_next()
            .await
            .with_context(|| format!("cannot run the {} check", check.name))?
        {
            let v = Violation::of(check, &row)?;
            writer(ctx, &mut out)?.row(v.values())?;
            tally.add(v.check, false);
        }
    }
    tx.commit().await?;
    if let Some(out) = out {
        drop(out.finish(None)?);
    }
    Ok(tally)
}

/// Every check and its fix in one serializable transaction, run again when it loses a race.
async fn fix_all(ctx: &Context) -> Result<Vec<Violation>> {
    let db = ctx.db().await?;
    retrying(|| async {
        let mut client = db.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()
            .await
            .context("cannot start a transaction")?;
        db::tx::bound_locks(&*tx).await?;
        db::batch_execute(&*tx, db::LARGE_WORK_MEM).await?;
        let mut found = Vec::new();
        for check in CHECKS {
            let mut violations = find(&*tx, check).await?;
            repair(&*tx, check, &mut violations).await?;
            found.extend(violations);
        }
        tx.commit().await.context("cannot commit the fixes")?;
        Ok(found)
    })
    .await
}

/// The violations of one check.
async fn find(client: &impl GenericClient, check: &'static Check) -> Result<Vec<Violation>> {
    let rows = db::query(client, check.find, &[])
        .await
        .with_context(|| format!("cannot run the {} check", check.name))?;
    rows.iter().map(|row| Violation::of(check, row)).collect()
}

impl Violation {
    fn of(check: &'static Check, row: &tokio_postgres::Row) -> Result<Violation> {
        let read = || -> Result<Violation, tokio_postgres::Error> {
            Ok(Violation {
                check: check.name,
                table: row.try_get(0)?,
                id: row.try_get(1)?,
                problem: row.try_get(2)?,
                fixable: row.try_get(3)?,
                fixed: false,
            })
        };
        read().with_context(|| format!("cannot read the {} check's rows", check.name))
    }

    fn values(&self) -> Vec<Value> {
        vec![
            Value::from(self.check),
            Value::from(self.table.as_str()),
            Value::from(self.id),
            Value::from(self.problem.as_str()),
            Value::Bool(self.fixed),
        ]
    }
}

/// How many violations of each check (in [`CHECKS`] order) were found, and how many fixed.
#[derive(Debug, Clone, PartialEq)]
struct Tally(Vec<(usize, usize)>);

impl Default for Tally {
    fn default() -> Self {
        Tally(vec![(0, 0); CHECKS.len()])
    }
}

impl Tally {
    fn of(violations: &[Violation]) -> Tally {
        let mut tally = Tally::default();
        for v in violations {
            tally.add(v.check, v.fixed);
        }
        tally
    }

    fn add(&mut self, check: &str, fixed: bool) {
        if let Some(i) = CHECKS.iter().position(|c| c.name == check) {
            self.0[i].0 += 1;
            self.0[i].1 += usize::from(fixed);
        }
    }

    fn total(&self) -> usize {
        self.0.iter().map(|(found, _)| found).sum()
    }

    fn fixed(&self) -> usize {
        self.0.iter().map(|(_, fixed)| fixed).sum()
    }
}

/// Runs the check's fixes and marks its fixable violations fixed. The statements repeat the
/// check's predicate inside the same serializable transaction, so they change exactly the rows
/// found; a different count means they disagree, and the whole transaction is rolled back
/// rather than committing a repair nobody can account for.
async fn repair(
    client: &impl GenericClient,
    check: &Check,
    violations: &mut [Violation],
) -> Result<()> {
    let fixable = violations.iter().filter(|v| v.fixable).count() as u64;
    if fixable == 0 {
        return Ok(());
    }
    let mut changed = 0;
    for statement in check.fix {
        changed += db::execute(client, statement, &[])
            .await
            .with_context(|| format!("cannot fix the {} violations", check.name))?;
    }
    if changed != fixable {
        anyhow::bail!(
            "the {} fix changed {changed} rows where {fixable} violations were found; \
             nothing was changed",
            check.name
        );
    }
    for v in violations.iter_mut().filter(|v| v.fixable) {
        v.fixed = true;
    }
    Ok(())
}

/// `found 3 violations: 2 order-total, 1 negative-stock`, or after `--fix`
/// `fixed 2 of 3 violations; 1 needs a person: negative-stock (crm products stock ID --set N)`.
fn summary(tally: &Tally, fixing: bool) -> String {
    let total = tally.total();
    let violations = crate::output::counted(total as i64, "violation", "violations");
    let found: Vec<(&Check, usize)> = CHECKS.iter().zip(tally.0.iter().map(|t| t.0)).collect();
    if !fixing {
        return format!("found {violations}: {}", by_check(&found, false));
    }
    let fixed = tally.fixed();
    let left: Vec<(&Check, usize)> = CHECKS
        .iter()
        .zip(tally.0.iter().map(|(found, fixed)| found - fixed))
        .collect();
    let left_total = total - fixed;
    if left_total == 0 {
        return format!("fixed {fixed} of {violations}");
    }
    format!(
        "fixed {fixed} of {violations}; {left_total} {}: {}",
        if left_total == 1 {
            "needs a person"
        } else {
            "need a person"
        },
        by_check(&left, true)
    )
}

/// `2 order-total, 1 negative-stock`, in check order; with `advice`, each followed by what a
/// person should do, and the count left out when there is only one kind (the total says it).
fn by_check(counts: &[(&Check, usize)], advice: bool) -> String {
    let kinds: Vec<&(&Check, usize)> = counts.iter().filter(|(_, n)| *n > 0).collect();
    let single = kinds.len() == 1;
    kinds
        .iter()
        .map(|(check, n)| {
            let mut part = if advice && single {
                check.name.to_string()
            } else {
                format!("{n} {}", check.name)
            };
            if advice && !check.advice.is_empty() {
                part.push_str(&format!(" ({})", check.advice));
            }
            part
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(check: &'static str, fixed: bool) -> Violation {
        Violation {
            check,
            table: "Orders".into(),
            id: 1,
            problem: String::new(),
            fixable: fixed,
            fixed,
        }
    }

    #[test]
    fn summaries_count_by_check_in_check_order() {
        let found = [
            violation("negative-stock", false),
            violation("order-total", true),
            violation("order-total", true),
        ];
        assert_eq!(
            summary(&Tally::of(&found), false),
            "found 3 violations: 2 order-total, 1 negative-stock"
        );
        assert_eq!(
            summary(&Tally::of(&found), true),
            "fixed 2 of 3 violations; 1 needs a person: negative-stock \
             (crm products stock ID --set N)"
        );
        assert_eq!(
            summary(&Tally::of(&found[1..]), true),
            "fixed 2 of 2 violations"
        );
        let unfixable = [
            violation("order-total", false),
            violation("negative-stock", false),
            violation("negative-stock", false),
        ];
        assert_eq!(
            summary(&Tally::of(&unfixable), true),
            "fixed 0 of 3 violations; 3 need a person: 1 order-total (its items sum beyond \
             99999999.99, the most DECIMAL(10,2) holds), 2 negative-stock \
             (crm products stock ID --set N)"
        );
    }

    #[test]
    fn every_check_that_may_need_a_person_says_what_to_do() {
        for check in [&CHECKS[0], &CHECKS[1], &CHECKS[2]] {
            assert!(!check.advice.is_empty(), "{}", check.name);
        }
        let names: Vec<&str> = CHECKS.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "order-total",
                "total-purchases",
                "negative-stock",
                "orphan-item",
                "missing-reference"
            ]
        );
    }
}
