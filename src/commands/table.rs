//! The one description of a table that the shared mechanisms take: [`Table`] (its name, the
//! nouns that count its rows, its [`Column`]s in output order, and what `delete` and `import`
//! need to know of it). `listing` lists it, `record` shows, creates, updates and deletes its
//! rows, `transfer` imports and exports it as CSV; each command group owns its `const TABLE`,
//! so a column is named in one place and a new entity is one `TABLE` and its commands.
//!
//! The SQL built from a table uses only these code-controlled names, quoted by
//! [`db::quote_identifier`]; every value is a `$n` parameter.

use crate::db::quote_identifier;
use crate::error;

/// A table (or a relation over it) as list, show, create, update, delete, import and export
/// know it.
pub struct Table {
    /// The table, unquoted: `Customers`.
    pub name: &'static str,
    /// One row in messages: `customer` (`customer 12 does not exist`, `exported 1 customer`).
    pub singular: &'static str,
    /// Rows in messages and under a table: `customers`.
    pub plural: &'static str,
    /// The columns, the output's names (the database's own for a plain table), `id` first; the
    /// output's, the CSV's and the SELECT list's order.
    pub columns: &'static [Column],
    /// What `list` and `export` read when it is not the table itself: a parenthesised,
    /// aliased subquery whose column names are [`Table::columns`]' (orders with their
    /// customers' names).
    pub from: Option<&'static str>,
    /// What `--search` matches, SQL expressions over [`Table::from_sql`]'s columns (written as
    /// the trigram indexes are, so that they serve it); empty where there is no `--search`.
    pub search: &'static [&'static str],
    /// The rows elsewhere that outlive a deleted row; `None` where crm deletes no rows through
    /// `record::delete`.
    pub referrers: Option<Referrers>,
    /// Whether an imported row without an id is known by its e-mail (case-insensitively):
    /// customers.
    pub keyed_by_email: bool,
}

/// Rows of another table that point at a row through a foreign key declared `ON DELETE SET
/// NULL`: deleting the row keeps them, with the reference emptied.
pub struct Referrers {
    /// The table, unquoted: `Orders`.
    pub table: &'static str,
    /// The referencing column: `customerId`.
    pub column: &'static str,
    /// One of them in messages: `order`; `orders` for several.
    pub noun: &'static str,
    pub plural: &'static str,
}

/// One column: its name, what its values are, and whether an import must have it.
pub struct Column {
    /// The output's name, which is also the CSV header's and (for a plain table) the
    /// database's.
    pub name: &'static str,
    pub kind: ColumnKind,
    /// An import's header must name it, and no row may leave it empty.
    pub required: bool,
}

/// What a column's values are: how import checks and stores them, how export reads and writes
/// them. An empty CSV field is NULL, except where the kind says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// The SERIAL key: a whole number from 1; empty or absent on import, the sequence assigns one.
    Id,
    /// VARCHAR(255).
    Text,
    /// VARCHAR(255) that must not be blank (a product's name).
    Name,
    /// TEXT, any length.
    LongText,
    /// An e-mail address, stored lower-cased.
    Email,
    Phone,
    /// DECIMAL(10,2), not negative.
    Money,
    /// A non-negative INTEGER.
    Stock,
    /// TIMESTAMP WITH TIME ZONE NOT NULL: empty or absent on import, the time of the import.
    Time,
    /// The INTEGER id of another row (`customerId`), or NULL. Export only.
    Reference,
    /// Any other INTEGER (an item's quantity). Export only.
    Integer,
    /// A BIGINT count the query computes (`itemCount`). Export only.
    Count,
    /// A status or role: an ENUM or VARCHAR label, read as text. Export only.
    Label,
}

impl Column {
    /// A column that an import may leave out.
    pub const fn new(name: &'static str, kind: ColumnKind) -> Column {
        Column {
            name,
            kind,
            required: false,
        }
    }

    /// A column that an import must have, and have a value in.
    pub const fn required(name: &'static str, kind: ColumnKind) -> Column {
        Column {
            name,
            kind,
            required: true,
        }
    }
}

impl Table {
    /// A plain table: list and export read it, `delete` has no referrers to report, rows are
    /// imported by id.
    pub const fn new(
        name: &'static str,
        singular: &'static str,
        plural: &'static str,
        columns: &'static [Column],
    ) -> Table {
        Table {
            name,
            singular,
            plural,
            columns,
            from: None,
            search: &[],
            referrers: None,
            keyed_by_email: false,
        }
    }

    /// Read through `from` (see [`Table::from`]) instead of the table itself.
    pub const fn reading(mut self, from: &'static str) -> Table {
        self.from = Some(from);
        self
    }

    /// `--search` matches `exprs` (see [`Table::search`]).
    pub const fn searching(mut self, exprs: &'static [&'static str]) -> Table {
        self.search = exprs;
        self
    }

    /// Deleted rows leave `referrers` pointing at nothing.
    pub const fn referred_by(mut self, referrers: Referrers) -> Table {
        self.referrers = Some(referrers);
        self
    }

    /// Imported rows without an id are known by their e-mail.
    pub const fn keyed_by_email(mut self) -> Table {
        self.keyed_by_email = true;
        self
    }

    /// The columns' names, in order: the output's and the CSV header's.
    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }

    /// Whether `name` is one of the columns.
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }

    /// The SELECT list of every column, in order: `"id", "firstName", ...`. A label is read as
    /// text (`"role"::text AS "role"`): on the application's schema it is an ENUM, whose type
    /// tokio-postgres would otherwise look up with a named statement of its own, which a pooler
    /// in transaction mode cannot carry (see `db::param`).
    pub fn select_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Label => {
                    let name = quote_identifier(c.name);
                    format!("{name}::text AS {name}")
                }
                _ => quote_identifier(c.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The table, quoted for SQL: `"Customers"`.
    pub fn quoted_name(&self) -> String {
        quote_identifier(self.name)
    }

    /// What `list` and `export` read: [`Table::from`], or the table.
    pub fn from_sql(&self) -> String {
        match self.from {
            Some(from) => from.to_string(),
            None => self.quoted_name(),
        }
    }

    /// `customer 12 does not exist` (exit 3).
    pub fn not_found(&self, id: i32) -> anyhow::Error {
        error::not_found(format!("{} {id} does not exist", self.singular))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THINGS: Table = Table::new(
        "Things",
        "thing",
        "things",
        &[
            Column::new("id", ColumnKind::Id),
            Column::required("name", ColumnKind::Name),
        ],
    );

    #[test]
    fn the_sql_names_are_quoted_and_in_order() {
        assert_eq!(THINGS.select_list(), "\"id\", \"name\"");
        assert_eq!(THINGS.from_sql(), "\"Things\"");
        assert_eq!(THINGS.column_names(), ["id", "name"]);
        let through = Table::new("Things", "thing", "things", &[]).reading("(SELECT 1) AS t");
        assert_eq!(through.from_sql(), "(SELECT 1) AS t");
        assert_eq!(through.quoted_name(), "\"Things\"");
    }
}
