//! What the record commands of customers and products share, written once: a typed row
//! ([`Record`]) of a [`Table`]; `list` over it; [`fetch`] of one row by id (exit 3 when it does
//! not exist); `create` and `update` of only the [`Fields`] given, printing the row; and
//! `delete` with confirmation, saying what became of the rows that pointed at the deleted one.
//!
//! The SQL here is built with `format!`, but only from identifiers the code controls (a
//! [`Table`]'s constants and [`Fields`]' column names, checked against them); every value is a
//! `$n` parameter.

use crate::commands::confirm::ConfirmArgs;
use crate::commands::listing::{self, Filter, ListArgs};
use crate::commands::table::{Referrers, Table};
use crate::context::Context;
use crate::db::{self, quote_identifier};
use crate::error;
use crate::output::{Value, counted};
use anyhow::{Context as _, Result};
use tokio_postgres::{GenericClient, Row};

/// A typed row of a [`Table`], converted from a database row by column name.
pub trait Record: Sized + for<'r> TryFrom<&'r Row, Error = anyhow::Error> {
    const TABLE: &'static Table;

    fn id(&self) -> i32;

    /// The values of [`Table::columns`], in order.
    fn values(&self) -> Vec<Value>;

    /// What names the row for people besides its id (a name, an e-mail), if anything does.
    fn title(&self) -> Option<String>;

    /// `customer 12 (Ada Lovelace)`, for messages.
    fn label(&self) -> String {
        match self.title() {
            Some(title) => format!("{} {} ({title})", Self::TABLE.singular, self.id()),
            None => format!("{} {}", Self::TABLE.singular, self.id()),
        }
    }
}

/// `customer 4`, `customers 4 and 9`, `customers 4, 9 and 12`: rows named by id in messages.
pub fn named_by_id(table: &Table, ids: &[i32]) -> String {
    let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
    match ids.as_slice() {
        [] => format!("no {}", table.plural),
        [one] => format!("{} {one}", table.singular),
        [rest @ .., last] => format!("{} {} and {last}", table.plural, rest.join(", ")),
    }
}

/// `list`: streams the rows matching `filter` in `order` (from [`crate::commands::listing::order_by`])
/// to the output, with the total line under a table.
pub async fn list<R: Record>(
    ctx: &Context,
    filter: &Filter,
    order: &str,
    args: &ListArgs,
) -> Result<()> {
    let client = ctx.read_db().await?.get().await?;
    listing::print(ctx, &**client, R::TABLE, filter, order, args, |row| {
        Ok(R::try_from(row)?.values())
    })
    .await
}

/// `create`: inserts a row of the fields given and prints it.
pub async fn create<R: Record>(ctx: &Context, fields: Fields) -> Result<()> {
    let mut client = ctx.db().await?.get().await?;
    // A transaction of one statement: through a pooler, the lock timeout is the transaction's.
    let tx = client.transaction().await?;
    db::tx::bound_locks(&*tx).await?;
    let created: R = insert(&*tx, fields).await?;
    tx.commit().await?;
    ctx.out.record(&R::TABLE.column_names(), &created.values())
}

/// `update ID`: changes the fields given (and `updatedAt`) and prints the row.
pub async fn update<R: Record>(ctx: &Context, id: i32, fields: Fields) -> Result<()> {
    let mut client = ctx.db().await?.get().await?;
    let tx = client.transaction().await?;
    db::tx::bound_locks(&*tx).await?;
    let updated: R = update_row(&*tx, id, fields).await?;
    tx.commit().await?;
    ctx.out.record(&R::TABLE.column_names(), &updated.values())
}

/// The row with this id, or exit 3 naming it.
pub async fn fetch<R: Record>(client: &impl GenericClient, id: i32) -> Result<R> {
    fetch_row(client, id, false).await
}

/// [`fetch`], locking the row `FOR UPDATE` (until the transaction ends) when asked.
async fn fetch_row<R: Record>(client: &impl GenericClient, id: i32, for_update: bool) -> Result<R> {
    let table = R::TABLE;
    let sql = format!(
        "SELECT {} FROM {} WHERE \"id\" = $1{}",
        table.select_list(),
        table.quoted_name(),
        if for_update { " FOR UPDATE" } else { "" }
    );
    let rows = db::query(client, &sql, &[&id])
        .await
        .with_context(|| format!("cannot read {} {id}", table.singular))?;
    match rows.first() {
        Some(row) => R::try_from(row),
        None => Err(table.not_found(id)),
    }
}

/// A field that `update --clear FIELD` empties (sets to NULL): an optional text column, named
/// as its flag is (`first-name`) or as its column (`firstName`).
pub struct Clearable {
    pub flag: &'static str,
    pub column: &'static str,
}

/// The column `--clear NAME` names: one of `clearable` (by its flag's name or its column's, in
/// any case). Any other field is refused, with why for those in `kept`, and the list of the
/// fields that can be cleared.
pub fn clear_target(
    name: &str,
    clearable: &[Clearable],
    kept: &[(&str, &str)],
) -> Result<&'static str, String> {
    let name = name.trim();
    if let Some(field) = clearable
        .iter()
        .find(|f| f.flag.eq_ignore_ascii_case(name) || f.column.eq_ignore_ascii_case(name))
    {
        return Ok(field.column);
    }
    let fields: Vec<&str> = clearable.iter().map(|f| f.flag).collect();
    let fields = fields.join(", ");
    match kept
        .iter()
        .find(|(field, _)| field.eq_ignore_ascii_case(name))
    {
        Some((field, why)) => Err(format!(
            "{field} cannot be cleared: {why} (the fields that can be: {fields})"
        )),
        None => Err(format!(
            "no field \"{name}\" can be cleared (the fields that can be: {fields})"
        )),
    }
}

/// A flag's parser for an optional field that refuses an empty value: says how to clear the
/// field instead.
pub fn or_clear(
    value: &str,
    flag: &str,
    parse: fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err(format!(
            "must not be empty (to remove the {flag}, update with --clear {flag})"
        ));
    }
    parse(value)
}

/// Column values for an INSERT or UPDATE: only the columns given, each value a parameter.
#[derive(Default)]
pub struct Fields {
    pairs: Vec<(&'static str, Box<dyn crate::db::Param + Send>)>,
}

impl Fields {
    pub fn new() -> Self {
        Fields::default()
    }

    /// Sets `column` to `value` when there is one; `None` leaves the column alone.
    pub fn maybe<T: crate::db::Param + Send + 'static>(
        mut self,
        column: &'static str,
        value: Option<T>,
    ) -> Self {
        if let Some(value) = value {
            self.pairs.push((column, Box::new(value)));
        }
        self
    }

    /// Sets each of `columns` to NULL (`update --clear`); a column also given a value is bad
    /// usage (exit 2), naming both flags.
    pub fn clear(mut self, columns: &[&'static str], clearable: &[Clearable]) -> Result<Self> {
        let mut cleared: Vec<&'static str> = Vec::new();
        for column in columns {
            if cleared.contains(column) {
                continue;
            }
            if self.pairs.iter().any(|(c, _)| c == column) {
                let flag = clearable
                    .iter()
                    .find(|f| f.column == *column)
                    .map_or(*column, |f| f.flag);
                return Err(error::usage(format!(
                    "--{flag} and --clear {flag} both given: give a new value or clear it, not both"
                )));
            }
            cleared.push(column);
        }
        for column in cleared {
            self.pairs.push((column, Box::new(None::<String>)));
        }
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn columns(&self, table: &Table) -> Vec<String> {
        self.pairs
            .iter()
            .map(|(column, _)| {
                debug_assert!(
                    table.has_column(column),
                    "{column} is not a column of {}",
                    table.name
                );
                quote_identifier(column)
            })
            .collect()
    }

    fn params(&self) -> Vec<&dyn crate::db::Param> {
        self.pairs
            .iter()
            .map(|(_, value)| value.as_ref() as &dyn crate::db::Param)
            .collect()
    }
}

/// Inserts a row of the fields given (the others take their defaults), stamped now.
async fn insert<R: Record>(client: &impl GenericClient, fields: Fields) -> Result<R> {
    let table = R::TABLE;
    let columns = fields.columns(table);
    let placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}\"createdAt\", \"updatedAt\") VALUES ({}now(), now()) RETURNING {}",
        table.quoted_name(),
        columns.iter().map(|c| format!("{c}, ")).collect::<String>(),
        placeholders
            .iter()
            .map(|p| format!("{p}, "))
            .collect::<String>(),
        table.select_list()
    );
    let row = db::query_one(client, &sql, &fields.params())
        .await
        .with_context(|| format!("cannot create the {}", table.singular))?;
    R::try_from(&row)
}

/// Updates only the fields given of the row with this id, and its `updatedAt`; exit 3 when it
/// does not exist, exit 2 when no field is given.
async fn update_row<R: Record>(client: &impl GenericClient, id: i32, fields: Fields) -> Result<R> {
    let table = R::TABLE;
    if fields.is_empty() {
        return Err(error::usage(format!(
            "nothing to update: give at least one field to change of {} {id}",
            table.singular
        )));
    }
    let sets: Vec<String> = fields
        .columns(table)
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = ${}", i + 1))
        .collect();
    let id_param = sets.len() + 1;
    let sql = format!(
        "UPDATE {} SET {}, \"updatedAt\" = now() WHERE \"id\" = ${id_param} RETURNING {}",
        table.quoted_name(),
        sets.join(", "),
        table.select_list()
    );
    let mut params = fields.params();
    params.push(&id);
    let rows = db::query(client, &sql, &params)
        .await
        .with_context(|| format!("cannot update {} {id}", table.singular))?;
    match rows.first() {
        Some(row) => R::try_from(row),
        None => Err(table.not_found(id)),
    }
}

/// `delete ID`: names the row and how many rows point at it, asks (or takes `--yes`), then in
/// one transaction locks the row, counts again, and deletes it. Says how many referring rows
/// were kept with their reference set to NULL (the schema's `ON DELETE SET NULL`).
pub async fn delete<R: Record>(ctx: &Context, id: i32, confirm: ConfirmArgs) -> Result<()> {
    let table = R::TABLE;
    let referrers = table.referrers.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "the {} table says nothing of what points at it (internal error)",
            table.plural
        )
    })?;
    let mut client = ctx.db().await?.get().await?;
    let record: R = fetch(&**client, id).await?;
    let label = record.label();
    let pointing = count_referrers(&**client, referrers, id).await?;
    crate::commands::confirm::confirm(
        confirm,
        &format!(
            "delete {label}, keeping its {} with {} set to NULL?",
            counted(pointing, referrers.noun, referrers.plural),
            referrers.column
        ),
    )?;

    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    // The lock keeps new rows from pointing at this one until we commit (adding one takes a
    // KEY SHARE lock on it), so the count below is what the delete empties.
    let _: R = fetch_row(&*tx, id, true).await?;
    let pointing = count_referrers(&*tx, referrers, id).await?;
    let sql = format!("DELETE FROM {} WHERE \"id\" = $1", table.quoted_name());
    db::execute(&*tx, &sql, &[&id])
        .await
        .with_context(|| format!("cannot delete {label}"))?;
    tx.commit()
        .await
        .with_context(|| format!("cannot delete {label}"))?;

    ctx.out.notice(if pointing == 0 {
        format!("deleted {label}; no {} pointed at it", referrers.plural)
    } else {
        format!(
            "deleted {label}; its {} {} kept, with {} set to NULL",
            counted(pointing, referrers.noun, referrers.plural),
            if pointing == 1 { "is" } else { "are" },
            referrers.column
        )
    });
    Ok(())
}

/// How many rows of `referrers` point at the row `id`.
async fn count_referrers(
    client: &impl GenericClient,
    referrers: &Referrers,
    id: i32,
) -> Result<i64> {
    let sql = format!(
        "SELECT count(*) FROM {} WHERE {} = $1",
        quote_identifier(referrers.table),
        quote_identifier(referrers.column)
    );
    Ok(db::query_one(client, &sql, &[&id])
        .await
        .with_context(|| format!("cannot count the {}", referrers.plural))?
        .get(0))
}
