//! The import's SQL: the temporary table the checked rows are copied into, the conflict check
//! against the real table, and the statements that move the rows in.
//!
//! A row's key is its id; a customer without an id is known by its e-mail, case-insensitively
//! (`lower("email")`, since the original system stored e-mails as typed). Where the primary key
//! alone cannot keep the conflict check true until the rows go in, the table is locked against
//! other writers (SHARE ROW EXCLUSIVE: readers go on) from the check to the commit.

use super::OnConflict;
use crate::commands::table::{Column, ColumnKind, Table};
use crate::db::{self, quote_identifier};
use anyhow::{Context as _, Result};
use tokio_postgres::Transaction;

/// The temporary table, dropped at the end of the transaction.
pub(super) const TEMP: &str = "crm_import";

/// The customers' column that is derived, never taken from a file: the sum of the customer's
/// completed orders, the invariant `db check` enforces.
const DERIVED_TOTAL: &str = "totalPurchases";

/// The most `DERIVED_TOTAL` holds: DECIMAL(10,2), in crm's schema and the application's.
pub const MOST_TOTAL: &str = "99999999.99";

/// `DERIVED_TOTAL` of the customer whose id is `{id}`: as `db check` computes it (status
/// compared with a literal, so that ENUM and VARCHAR columns both serve).
fn derived_total(id: &str) -> String {
    format!(
        "(SELECT coalesce(sum(o.\"total\"), 0.00) FROM \"Orders\" o \
         WHERE o.\"customerId\" = {id} AND o.\"status\" = 'completed')"
    )
}

/// How many conflicting rows are named before `... and N more`.
pub const SHOWN: i64 = 50;

pub struct Plan<'a> {
    pub entity: &'a Table,
    /// The file's columns, as indexes in `entity.columns`, in the entity's order.
    pub present: &'a [usize],
    pub mode: OnConflict,
    /// Whether some row has no id: the sequence then numbers those rows in the file's order.
    pub rows_without_id: bool,
    /// The largest id the file gives.
    pub max_id: Option<i32>,
    /// Whether the temporary table keeps each row as the file had it (`_raw`), for a rejects
    /// file that may yet take duplicates.
    pub keep_raw: bool,
}

/// A row of the file whose key an earlier line of the file has.
pub struct Duplicate {
    pub line: u64,
    /// The first line with the key.
    pub first: u64,
    /// `id` or `email`.
    pub column: &'static str,
    pub key: String,
    /// The row's fields as the file had them (CSV), when the plan keeps them.
    pub raw: Option<Vec<u8>>,
}

impl TryFrom<&tokio_postgres::Row> for Duplicate {
    type Error = anyhow::Error;

    fn try_from(row: &tokio_postgres::Row) -> Result<Duplicate> {
        let line: i64 = row.try_get("_line")?;
        let first: i64 = row.try_get("first")?;
        let column: &str = row.try_get("column")?;
        Ok(Duplicate {
            line: u64::try_from(line).unwrap_or_default(),
            first: u64::try_from(first).unwrap_or_default(),
            column: if column == "id" { "id" } else { "email" },
            key: row.try_get("key")?,
            raw: row
                .columns()
                .iter()
                .any(|c| c.name() == "_raw")
                .then(|| row.try_get("_raw"))
                .transpose()?,
        })
    }
}

/// Rows of the file whose key the table already has.
#[derive(Default)]
pub struct Conflicts {
    pub total: u64,
    /// The first [`SHOWN`] by line: line, column, key.
    pub first: Vec<(i64, &'static str, String)>,
}

/// Rows of the file whose `totalPurchases` differs from what the customer's completed orders
/// sum to (and which the write stores), and rows whose sum the column cannot hold.
#[derive(Default)]
pub struct TotalsKept {
    /// Rows whose sum is beyond [`MOST_TOTAL`], given or not: the write would fail on them.
    pub beyond: u64,
    /// Rows whose given value differs from the sum, and those beyond.
    pub total: u64,
    /// The first [`SHOWN`]: those beyond [`MOST_TOTAL`] by line, then the others by line.
    pub first: Vec<TotalKept>,
}

pub struct TotalKept {
    pub line: i64,
    /// The file's value; `None` where it left the field empty.
    pub given: Option<String>,
    pub derived: String,
    /// The customer the row updates; `None` for a new one.
    pub customer: Option<i32>,
    /// Whether `derived` is beyond [`MOST_TOTAL`].
    pub beyond: bool,
}

impl TryFrom<&tokio_postgres::Row> for TotalKept {
    type Error = anyhow::Error;

    fn try_from(row: &tokio_postgres::Row) -> Result<TotalKept> {
        Ok(TotalKept {
            line: row.try_get("_line")?,
            given: row.try_get("given")?,
            derived: row.try_get("derived")?,
            customer: row.try_get("customer")?,
            beyond: row.try_get("beyond")?,
        })
    }
}

/// A row keyed by an e-mail that several rows of the table have.
pub struct Ambiguous {
    pub line: u64,
    pub email: String,
    pub ids: Vec<i32>,
    /// The row's fields as the file had them (CSV), when the plan keeps them.
    pub raw: Option<Vec<u8>>,
}

impl TryFrom<&tokio_postgres::Row> for Ambiguous {
    type Error = anyhow::Error;

    fn try_from(row: &tokio_postgres::Row) -> Result<Ambiguous> {
        let line: i64 = row.try_get("_line")?;
        Ok(Ambiguous {
            line: u64::try_from(line).unwrap_or_default(),
            email: row.try_get("email")?,
            ids: row.try_get("ids")?,
            raw: row
                .columns()
                .iter()
                .any(|c| c.name() == "_raw")
                .then(|| row.try_get("_raw"))
                .transpose()?,
        })
    }
}

/// What the write did.
pub struct Counts {
    pub added: u64,
    pub updated: u64,
}

impl Plan<'_> {
    fn columns(&self) -> impl Iterator<Item = &'static Column> + '_ {
        let all: &'static [Column] = self.entity.columns;
        self.present.iter().map(move |i| &all[*i])
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.columns().any(|c| c.name == name)
    }

    /// `CREATE TEMP TABLE`: the line number, then the file's columns, then (when kept) the row
    /// as the file had it.
    pub fn create_temp_sql(&self) -> String {
        let mut columns = vec!["\"_line\" int8".to_string()];
        columns.extend(
            self.columns()
                .map(|c| format!("{} {}", quote_identifier(c.name), c.kind.sql_type())),
        );
        if self.keep_raw {
            columns.push("\"_raw\" bytea".to_string());
        }
        format!(
            "CREATE TEMP TABLE {TEMP} ({}) ON COMMIT DROP",
            columns.join(", ")
        )
    }

    pub fn copy_in_sql(&self) -> String {
        let mut columns = vec!["\"_line\"".to_string()];
        columns.extend(self.columns().map(|c| quote_identifier(c.name)));
        if self.keep_raw {
            columns.push("\"_raw\"".to_string());
        }
        format!(
            "COPY {TEMP} ({}) FROM STDIN (FORMAT csv)",
            columns.join(", ")
        )
    }

    /// The condition on `t` of rows keyed by id.
    fn keyed_by_id(&self) -> Option<&'static str> {
        self.has("id").then_some("t.\"id\" IS NOT NULL")
    }

    /// The condition on `t` of rows keyed by e-mail: customers without an id.
    fn keyed_by_email(&self) -> Option<&'static str> {
        if !self.entity.keyed_by_email || !self.has("email") || !self.rows_without_id {
            return None;
        }
        Some(if self.has("id") {
            "t.\"id\" IS NULL AND t.\"email\" IS NOT NULL"
        } else {
            "t.\"email\" IS NOT NULL"
        })
    }

    fn id_exists(&self) -> String {
        format!(
            "EXISTS (SELECT 1 FROM {} c WHERE c.\"id\" = t.\"id\")",
            self.entity.quoted_name()
        )
    }

    fn email_exists(&self) -> String {
        format!(
            "EXISTS (SELECT 1 FROM {} c WHERE lower(c.\"email\") = t.\"email\")",
            self.entity.quoted_name()
        )
    }

    /// Whether the table already has `t`'s key; `None` when no row has a key.
    fn exists_sql(&self) -> Option<String> {
        let mut any = Vec::new();
        if let Some(by_id) = self.keyed_by_id() {
            any.push(format!("({by_id} AND {})", self.id_exists()));
        }
        if let Some(by_email) = self.keyed_by_email() {
            any.push(format!("({by_email} AND {})", self.email_exists()));
        }
        (!any.is_empty()).then(|| any.join(" OR "))
    }

    /// The kinds of key the file's rows have: the column, and the condition on `t` of the rows
    /// keyed by it.
    fn keys(&self) -> Vec<(&'static str, &'static str)> {
        let mut keys = Vec::new();
        if let Some(by_id) = self.keyed_by_id() {
            keys.push(("id", by_id));
        }
        if let Some(by_email) = self.keyed_by_email() {
            keys.push(("email", by_email));
        }
        keys
    }

    /// The rows whose key an earlier line of the file has, with that first line: for each kind
    /// of key, the keys held by more than one row (one hashed pass over the temporary table),
    /// joined back to their rows. `None` when no row has a key.
    fn duplicates_sql(&self) -> Option<String> {
        let parts: Vec<String> = self
            .keys()
            .into_iter()
            .map(|(column, keyed)| {
                let key = quote_identifier(column);
                format!(
                    "SELECT t.\"_line\", f.\"first\", '{column}'::text AS \"column\", \
                     t.{key}::text AS \"key\"{raw} FROM {TEMP} t \
                     JOIN (SELECT t.{key} AS \"key\", min(t.\"_line\") AS \"first\" FROM {TEMP} t \
                           WHERE {keyed} GROUP BY 1 HAVING count(*) > 1) f ON f.\"key\" = t.{key} \
                     WHERE {keyed} AND t.\"_line\" > f.\"first\"",
                    raw = if self.keep_raw { ", t.\"_raw\"" } else { "" }
                )
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" UNION ALL "))
    }

    /// With `update`, the rows keyed by e-mail that match more than one row of the table (no
    /// unique index guards e-mails), each with the ids it matches: updating them would change
    /// every match. `None` when no row can be such.
    fn ambiguous_sql(&self) -> Option<String> {
        let by_email = self.keyed_by_email()?;
        if self.mode != OnConflict::Update {
            return None;
        }
        Some(format!(
            "SELECT t.\"_line\", t.\"email\", array_agg(c.\"id\" ORDER BY c.\"id\") AS \"ids\" \
             FROM {TEMP} t JOIN {} c ON lower(c.\"email\") = t.\"email\" \
             WHERE {by_email} GROUP BY t.\"_line\", t.\"email\" HAVING count(*) > 1",
            self.entity.quoted_name()
        ))
    }

    /// The first [`SHOWN`] ambiguous rows (see [`Plan::ambiguous_sql`]) by line, and how many
    /// there are.
    pub async fn ambiguous(&self, tx: &Transaction<'_>) -> Result<(u64, Vec<Ambiguous>)> {
        match self.ambiguous_sql() {
            Some(ambiguous) => {
                first_by_line(
                    tx,
                    &ambiguous,
                    "cannot look for e-mails that several rows have",
                )
                .await
            }
            None => Ok((0, Vec::new())),
        }
    }

    /// Deletes the ambiguous rows (see [`Plan::ambiguous_sql`]) from the temporary table and
    /// streams them back by line (with the file's fields, when kept): `--skip-invalid` rejects
    /// them. Call after [`Plan::lock`], which keeps the matches as they are until the commit.
    pub async fn remove_ambiguous(
        &self,
        tx: &Transaction<'_>,
    ) -> Result<Option<tokio_postgres::RowStream>> {
        let Some(ambiguous) = self.ambiguous_sql() else {
            return Ok(None);
        };
        let raw = if self.keep_raw { ", x.\"_raw\"" } else { "" };
        remove_by_line(
            tx,
            &ambiguous,
            raw,
            "cannot look for e-mails that several rows have",
        )
        .await
        .map(Some)
    }

    /// Whether the file has the derived `totalPurchases`, which the write sets from the orders.
    pub fn derives_total(&self) -> bool {
        self.has(DERIVED_TOTAL)
    }

    /// The rows to be written whose given `totalPurchases` differs from what their customer's
    /// completed orders sum to (a new customer has none: 0.00), and those, given or not, whose
    /// sum is beyond what the column holds, which the write would fail on with the server's
    /// bare "numeric field overflow". One branch per kind of key, each joined to the customer
    /// it names as the write does (hashed), so that the orders are summed only for existing
    /// customers, once per row, in the same pass for both.
    pub async fn totals_kept(&self, tx: &Transaction<'_>) -> Result<TotalsKept> {
        if !self.derives_total() {
            return Ok(TotalsKept::default());
        }
        let table = self.entity.quoted_name();
        let given = quote_identifier(DERIVED_TOTAL);
        // With skip, rows whose key the table has are left out of the write.
        let written = if self.mode == OnConflict::Skip {
            " AND c.\"id\" IS NULL"
        } else {
            ""
        };
        let mut branches = Vec::new();
        if let Some(by_id) = self.keyed_by_id() {
            branches.push(format!(
                "SELECT t.\"_line\", t.{given} AS \"given\", c.\"id\" AS \"customer\" \
                 FROM {TEMP} t LEFT JOIN {table} c ON c.\"id\" = t.\"id\" \
                 WHERE {by_id}{written}"
            ));
        }
        if let Some(by_email) = self.keyed_by_email() {
            branches.push(format!(
                "SELECT t.\"_line\", t.{given} AS \"given\", c.\"id\" AS \"customer\" \
                 FROM {TEMP} t LEFT JOIN {table} c ON lower(c.\"email\") = t.\"email\" \
                 WHERE {by_email}{written}"
            ));
        }
        // New customers' sums are 0.00: only a given value can differ.
        let mut unkeyed = vec![format!("t.{given} IS NOT NULL")];
        if self.has("id") {
            unkeyed.push("t.\"id\" IS NULL".to_string());
        }
        if self.keyed_by_email().is_some() {
            unkeyed.push("t.\"email\" IS NULL".to_string());
        }
        branches.push(format!(
            "SELECT t.\"_line\", t.{given} AS \"given\", NULL::int4 AS \"customer\" \
             FROM {TEMP} t WHERE {}",
            unkeyed.join(" AND ")
        ));
        let sql = format!(
            "SELECT u.\"_line\", u.\"given\"::text AS \"given\", d.\"sum\"::text AS \"derived\", \
                    u.\"customer\", d.\"sum\" > {MOST_TOTAL} AS \"beyond\", \
                    count(*) OVER () AS \"total\", \
                    count(*) FILTER (WHERE d.\"sum\" > {MOST_TOTAL}) OVER () AS \"beyond_total\" \
             FROM ({}) u \
             CROSS JOIN LATERAL (SELECT CASE WHEN u.\"customer\" IS NULL THEN 0.00 \
                                 ELSE {} END AS \"sum\") d \
             WHERE u.\"given\" <> d.\"sum\" OR d.\"sum\" > {MOST_TOTAL} \
             ORDER BY \"beyond\" DESC, u.\"_line\" LIMIT $1",
            branches.join(" UNION ALL "),
            derived_total("u.\"customer\"")
        );
        let rows = db::query(tx, &sql, &[&SHOWN])
            .await
            .context("cannot compare the file's totalPurchases with the orders")?;
        let count = |column: &str| -> Result<u64> {
            Ok(match rows.first() {
                Some(row) => u64::try_from(row.try_get::<_, i64>(column)?).unwrap_or_default(),
                None => 0,
            })
        };
        Ok(TotalsKept {
            beyond: count("beyond_total")?,
            total: count("total")?,
            first: rows
                .iter()
                .map(TotalKept::try_from)
                .collect::<Result<Vec<_>>>()?,
        })
    }

    /// The first [`SHOWN`] rows (by line) whose key an earlier line of the file has, and how
    /// many there are.
    pub async fn first_duplicates(&self, tx: &Transaction<'_>) -> Result<(u64, Vec<Duplicate>)> {
        match self.duplicates_sql() {
            Some(duplicates) => {
                first_by_line(
                    tx,
                    &duplicates,
                    "cannot look for rows of the file with the same key",
                )
                .await
            }
            None => Ok((0, Vec::new())),
        }
    }

    /// Deletes from the temporary table every row whose key an earlier line of the file has,
    /// and streams them back by line (with the file's fields, when kept).
    pub async fn remove_duplicates(
        &self,
        tx: &Transaction<'_>,
    ) -> Result<Option<tokio_postgres::RowStream>> {
        let Some(duplicates) = self.duplicates_sql() else {
            return Ok(None);
        };
        remove_by_line(
            tx,
            &duplicates,
            "",
            "cannot look for rows of the file with the same key",
        )
        .await
        .map(Some)
    }

    /// Fills in the planner's statistics of the temporary table (autovacuum never sees it).
    pub async fn analyze(&self, tx: &Transaction<'_>) -> Result<()> {
        db::batch_execute(tx, &format!("ANALYZE {TEMP}")).await?;
        Ok(())
    }

    /// Keeps other writers out of the table until the commit, where the conflict check must
    /// stay true: for `skip` and `update`, and for rows keyed by e-mail (no unique index
    /// guards e-mails). Plain inserts by id need no lock: the primary key refuses a row that
    /// another session added meanwhile (exit 5).
    pub async fn lock(&self, tx: &Transaction<'_>) -> Result<()> {
        if self.mode == OnConflict::Error && self.keyed_by_email().is_none() {
            return Ok(());
        }
        let sql = format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            self.entity.quoted_name()
        );
        db::batch_execute(tx, &sql)
            .await
            .with_context(|| format!("cannot lock the {} table", self.entity.plural))?;
        Ok(())
    }

    /// The rows of the file whose key the table has.
    pub async fn conflicts(&self, tx: &Transaction<'_>) -> Result<Conflicts> {
        let mut queries = Vec::new();
        if let Some(by_id) = self.keyed_by_id() {
            queries.push(("id", "t.\"id\"::text", by_id, self.id_exists()));
        }
        if let Some(by_email) = self.keyed_by_email() {
            queries.push(("email", "t.\"email\"", by_email, self.email_exists()));
        }
        let mut conflicts = Conflicts {
            total: 0,
            first: Vec::new(),
        };
        for (column, key, keyed, exists) in queries {
            let sql = format!(
                "SELECT t.\"_line\", {key}, count(*) OVER () FROM {TEMP} t \
                 WHERE {keyed} AND {exists} ORDER BY t.\"_line\" LIMIT $1"
            );
            let rows = db::query(tx, &sql, &[&SHOWN])
                .await
                .context("cannot look for rows that are already there")?;
            if let Some(row) = rows.first() {
                conflicts.total += u64::try_from(row.get::<_, i64>(2)).unwrap_or(0);
            }
            conflicts
                .first
                .extend(rows.iter().map(|r| (r.get(0), column, r.get(1))));
        }
        conflicts.first.sort_by_key(|(line, _, _)| *line);
        conflicts.first.truncate(SHOWN as usize);
        Ok(conflicts)
    }

    /// Moves the rows into the table: with `update`, first overwrites the rows whose key the
    /// table has; then inserts the rest (with `error`, the caller found no conflicts).
    pub async fn write(&self, tx: &Transaction<'_>) -> Result<Counts> {
        let mut counts = Counts {
            added: 0,
            updated: 0,
        };
        if self.mode == OnConflict::Update {
            let mut matches = Vec::new();
            if let Some(by_id) = self.keyed_by_id() {
                matches.push(format!("{by_id} AND c.\"id\" = t.\"id\""));
            }
            if let Some(by_email) = self.keyed_by_email() {
                matches.push(format!("{by_email} AND lower(c.\"email\") = t.\"email\""));
            }
            for matching in matches {
                let sql = format!(
                    "UPDATE {} c SET {} FROM {TEMP} t WHERE {matching}",
                    self.entity.quoted_name(),
                    self.update_sets()
                );
                counts.updated += db::execute(tx, &sql, &[])
                    .await
                    .map_err(|e| self.update_failed(e))?;
            }
        }
        counts.added = db::execute(tx, &self.insert_sql(), &[])
            .await
            .with_context(|| format!("cannot add {}", self.entity.plural))?;
        Ok(counts)
    }

    /// Why the update failed. [`Plan::totals_kept`] names the rows whose sum of orders is
    /// beyond what `totalPurchases` holds, under the lock that keeps the customers as they are;
    /// should orders have changed anyway (a writer that leaves the customers alone), the
    /// server's bare "numeric field overflow" still reads as what it is.
    fn update_failed(&self, e: tokio_postgres::Error) -> anyhow::Error {
        if self.derives_total()
            && e.code() == Some(&tokio_postgres::error::SqlState::NUMERIC_VALUE_OUT_OF_RANGE)
        {
            return crate::error::usage(format!(
                "cannot update {}: a customer's completed orders sum beyond {MOST_TOTAL}, the \
                 most {DERIVED_TOTAL} holds; nothing was imported",
                self.entity.plural
            ));
        }
        anyhow::Error::from(e).context(format!("cannot update {}", self.entity.plural))
    }

    /// `SET` of an update: the file's columns; the time of the import for `updatedAt` unless
    /// the file gives one; `createdAt` only where the file gives one; `totalPurchases` from
    /// the customer's completed orders, whatever the file says.
    fn update_sets(&self) -> String {
        let mut sets: Vec<String> = self
            .columns()
            .filter(|c| c.kind != ColumnKind::Id)
            .map(|c| {
                let name = quote_identifier(c.name);
                match c.name {
                    DERIVED_TOTAL => format!("{name} = {}", derived_total("c.\"id\"")),
                    "createdAt" => format!("{name} = coalesce(t.{name}, c.{name})"),
                    "updatedAt" => format!("{name} = coalesce(t.{name}, now())"),
                    _ => format!("{name} = t.{name}"),
                }
            })
            .collect();
        if !self.has("updatedAt") {
            sets.push("\"updatedAt\" = now()".to_string());
        }
        sets.join(", ")
    }

    /// `INSERT ... SELECT` of the rows whose key the table does not have; a new customer's
    /// `totalPurchases` is 0.00, whatever the file says.
    fn insert_sql(&self) -> String {
        let table = self.entity.quoted_name();
        let mut names = Vec::new();
        let mut values = Vec::new();
        for column in self.columns() {
            let name = quote_identifier(column.name);
            let t = format!("t.{name}");
            names.push(name);
            values.push(match column.kind {
                // A new customer has no orders: the foreign key on Orders.customerId sees to it.
                _ if column.name == DERIVED_TOTAL => "0.00".to_string(),
                ColumnKind::Id if self.rows_without_id => format!(
                    "coalesce({t}, nextval((SELECT pg_get_serial_sequence('{table}', 'id')::regclass)))"
                ),
                ColumnKind::Time => format!("coalesce({t}, now())"),
                _ => t,
            });
        }
        for stamp in ["createdAt", "updatedAt"] {
            if !self.has(stamp) {
                names.push(quote_identifier(stamp));
                values.push("now()".to_string());
            }
        }
        let mut sql = format!(
            "INSERT INTO {table} ({}) SELECT {} FROM {TEMP} t",
            names.join(", "),
            values.join(", ")
        );
        if self.mode != OnConflict::Error
            && let Some(exists) = self.exists_sql()
        {
            sql.push_str(&format!(" WHERE NOT ({exists})"));
        }
        if self.rows_without_id {
            sql.push_str(" ORDER BY t.\"_line\"");
        }
        sql
    }

    /// Before the insert, with explicit ids: moves the id sequence past the largest id of the
    /// table and of the file, so that the rows without an id get ids after them (never one
    /// the file holds further down) and so do rows added later. Never moves it back.
    pub async fn move_sequence(&self, tx: &Transaction<'_>) -> Result<()> {
        let Some(max_id) = self.max_id else {
            return Ok(());
        };
        let table = self.entity.quoted_name();
        let sql = format!(
            "SELECT setval(s.seq, m.top) \
             FROM (SELECT pg_get_serial_sequence('{table}', 'id')::regclass AS seq) s, \
                  (SELECT greatest((SELECT max(\"id\") FROM {table}), $1::int4) AS top) m \
             WHERE m.top > coalesce(pg_sequence_last_value(s.seq), 0)"
        );
        db::query(tx, &sql, &[&max_id])
            .await
            .context("cannot move the id sequence past the imported ids")?;
        Ok(())
    }
}

/// The first [`SHOWN`] rows of the query `rows` (rows of the temporary table, with their
/// `_line`) by line, and how many there are in all.
async fn first_by_line<T>(
    tx: &Transaction<'_>,
    rows: &str,
    failed: &'static str,
) -> Result<(u64, Vec<T>)>
where
    T: for<'r> TryFrom<&'r tokio_postgres::Row, Error = anyhow::Error>,
{
    let sql = format!(
        "SELECT r.*, count(*) OVER () AS \"total\" FROM ({rows}) r \
         ORDER BY r.\"_line\" LIMIT $1"
    );
    let found = db::query(tx, &sql, &[&SHOWN]).await.context(failed)?;
    let total = match found.first() {
        Some(row) => u64::try_from(row.try_get::<_, i64>("total")?).unwrap_or_default(),
        None => 0,
    };
    let first = found.iter().map(T::try_from).collect::<Result<Vec<_>>>()?;
    Ok((total, first))
}

/// Deletes the lines the query `rows` names from the temporary table and streams them back by
/// line, each with the columns of `rows` and `also` (`, x."_raw"`: the deleted row's own).
async fn remove_by_line(
    tx: &Transaction<'_>,
    rows: &str,
    also: &str,
    failed: &'static str,
) -> Result<tokio_postgres::RowStream> {
    let sql = format!(
        "WITH r AS ({rows}), \
         gone AS (DELETE FROM {TEMP} x USING r WHERE x.\"_line\" = r.\"_line\" \
                  RETURNING r.*{also}) \
         SELECT * FROM gone ORDER BY \"_line\""
    );
    db::query_raw(tx, &sql, Vec::new()).await.context(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::customers::TABLE as CUSTOMERS;

    #[test]
    fn customers_without_ids_are_matched_by_lower_case_email() {
        let present = [1, 3]; // firstName, email
        let plan = Plan {
            entity: &CUSTOMERS,
            present: &present,
            mode: OnConflict::Skip,
            rows_without_id: true,
            max_id: None,
            keep_raw: false,
        };
        assert_eq!(
            plan.insert_sql(),
            "INSERT INTO \"Customers\" (\"firstName\", \"email\", \"createdAt\", \"updatedAt\") \
             SELECT t.\"firstName\", t.\"email\", now(), now() FROM crm_import t \
             WHERE NOT ((t.\"email\" IS NOT NULL AND EXISTS (SELECT 1 FROM \"Customers\" c \
             WHERE lower(c.\"email\") = t.\"email\"))) ORDER BY t.\"_line\""
        );
        assert_eq!(
            plan.update_sets(),
            "\"firstName\" = t.\"firstName\", \"email\" = t.\"email\", \"updatedAt\" = now()"
        );
    }

    #[test]
    fn explicit_ids_keep_their_value_and_the_sequence_numbers_the_rest() {
        let present = [0, 1, 7]; // id, firstName, createdAt
        let plan = Plan {
            entity: &CUSTOMERS,
            present: &present,
            mode: OnConflict::Error,
            rows_without_id: true,
            max_id: None,
            keep_raw: false,
        };
        let sql = plan.insert_sql();
        assert!(sql.contains(
            "SELECT coalesce(t.\"id\", nextval((SELECT pg_get_serial_sequence('\"Customers\"', 'id')::regclass))), \
             t.\"firstName\", coalesce(t.\"createdAt\", now()), now() FROM crm_import t ORDER BY"
        ), "{sql}");
        assert_eq!(
            plan.update_sets(),
            "\"firstName\" = t.\"firstName\", \"createdAt\" = coalesce(t.\"createdAt\", c.\"createdAt\"), \"updatedAt\" = now()"
        );
    }
}
