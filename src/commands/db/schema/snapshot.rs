//! What `db schema diff` compares, read from a database's catalog: the tables of its current
//! schema with their columns, constraints and indexes, and the extensions installed. Each
//! object is described by its definition as the server prints it (`format_type`,
//! `pg_get_constraintdef`, `pg_get_indexdef`), so that two databases of the same server compare
//! by what they are, not by how they were written.

use crate::db::AdvisoryLock;
use crate::output::Output;
use anyhow::{Context as _, Result};
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::GenericClient;

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// `format_type`: `character varying(255)`, `"enum_Users_role"`, `numeric(10,2)`.
    pub ty: String,
    pub not_null: bool,
    /// The default expression as the server prints it, if any.
    pub default: Option<String>,
    /// The labels, in order, when the column's type is an ENUM.
    pub enum_labels: Option<Vec<String>>,
}

/// A CHECK, UNIQUE, PRIMARY KEY or FOREIGN KEY constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub table: String,
    pub name: String,
    /// `check`, `unique`, `primary key` or `foreign key`.
    pub kind: &'static str,
    /// `pg_get_constraintdef`: `CHECK (...)`, `FOREIGN KEY ("customerId") REFERENCES ...`.
    pub definition: String,
    /// The constrained columns, in order.
    pub columns: Vec<String>,
}

/// An index that no constraint owns (those are compared as constraints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub table: String,
    pub name: String,
    /// `pg_get_indexdef` with the index's own name taken out:
    /// `CREATE INDEX ON public."Users" USING btree (email)`.
    pub definition: String,
    pub unique: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: BTreeSet<String>,
    /// By (table, column).
    pub columns: BTreeMap<(String, String), Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    pub extensions: BTreeSet<String>,
}

const TABLES: &str = r#"
    SELECT c.relname
    FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
    ORDER BY 1"#;

const COLUMNS: &str = r#"
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_get_expr(d.adbin, d.adrelid),
           (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
            FROM pg_enum e WHERE e.enumtypid = a.atttypid)
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
      AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY 1, a.attnum"#;

const CONSTRAINTS: &str = r#"
    SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid),
           ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                 ORDER BY u.i)
    FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid
    WHERE c.relnamespace = current_schema()::regnamespace AND k.contype IN ('c', 'u', 'p', 'f')
    ORDER BY 1, 2"#;

const INDEXES: &str = r#"
    SELECT t.relname, i.relname, quote_ident(i.relname), pg_get_indexdef(x.indexrelid),
           x.indisunique
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relnamespace = current_schema()::regnamespace
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid
                                                   AND k.conrelid = x.indrelid)
    ORDER BY 1, 2"#;

const EXTENSIONS: &str = "SELECT extname::text FROM pg_extension ORDER BY 1";

impl Snapshot {
    /// Reads the catalog of the database `client` is connected to, in one snapshot; with
    /// `out`, first waiting for any crm run that holds the schema lock (a migration half
    /// applied is not drift).
    pub async fn read(
        client: &mut tokio_postgres::Client,
        out: Option<&Output>,
    ) -> Result<Snapshot> {
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        if let Some(out) = out {
            AdvisoryLock::Schema
                .acquire_shared_for_transaction(&tx, out)
                .await?;
        }
        let snapshot = Snapshot::read_in(&tx)
            .await
            .context("cannot read the schema from the catalog")?;
        tx.commit().await?;
        Ok(snapshot)
    }

    async fn read_in(client: &impl GenericClient) -> Result<Snapshot> {
        let mut snapshot = Snapshot::default();
        for row in crate::db::query(client, TABLES, &[]).await? {
            snapshot.tables.insert(row.try_get(0)?);
        }
        for row in crate::db::query(client, COLUMNS, &[]).await? {
            snapshot.columns.insert(
                (row.try_get(0)?, row.try_get(1)?),
                Column {
                    ty: row.try_get(2)?,
                    not_null: row.try_get(3)?,
                    default: row.try_get(4)?,
                    enum_labels: row.try_get(5)?,
                },
            );
        }
        for row in crate::db::query(client, CONSTRAINTS, &[]).await? {
            let kind = match row.try_get::<_, String>(2)?.as_str() {
                "c" => "check",
                "u" => "unique",
                "p" => "primary key",
                _ => "foreign key",
            };
            snapshot.constraints.push(Constraint {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                kind,
                definition: row.try_get(3)?,
                columns: row.try_get(4)?,
            });
        }
        for row in crate::db::query(client, INDEXES, &[]).await? {
            let quoted: String = row.try_get(2)?;
            let definition: String = row.try_get(3)?;
            snapshot.indexes.push(Index {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                definition: without_name(&definition, &quoted),
                unique: row.try_get(4)?,
            });
        }
        for row in crate::db::query(client, EXTENSIONS, &[]).await? {
            snapshot.extensions.insert(row.try_get(0)?);
        }
        Ok(snapshot)
    }
}

/// `CREATE INDEX users_email ON ...` -> `CREATE INDEX ON ...`: an index's definition without
/// its name (`quoted`, as `quote_ident` writes it, which is how `pg_get_indexdef` writes it).
pub fn without_name(definition: &str, quoted: &str) -> String {
    let needle = format!(" INDEX {quoted} ON ");
    match definition.find(&needle) {
        Some(at) => format!(
            "{} INDEX ON {}",
            &definition[..at],
            &definition[at + needle.len()..]
        ),
        None => definition.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_definition_loses_its_name_only() {
        assert_eq!(
            without_name(
                r#"CREATE UNIQUE INDEX "Odd ON name" ON public."Users" USING btree (email)"#,
                r#""Odd ON name""#
            ),
            r#"CREATE UNIQUE INDEX ON public."Users" USING btree (email)"#
        );
        assert_eq!(
            without_name(
                r#"CREATE INDEX users_email ON public."Users" USING btree (email)"#,
                "users_email"
            ),
            r#"CREATE INDEX ON public."Users" USING btree (email)"#
        );
    }
}
