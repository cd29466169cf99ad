//! What every `list` shares: `--limit/--all/--offset/--search/--sort`, a WHERE clause built from
//! parameters (never from user text), literal substring search, a whitelisted sort, rows streamed
//! to the output as they arrive, and the `50 of 1,000 customers` line under a table. A group's
//! [`Table`] says what to select and from where ([`print`]).

use crate::commands::table::Table;
use crate::context::Context;
use crate::db::label::Label;
use crate::db::{self, quote_identifier};
use crate::error;
use crate::output::{Value, thousands};
use anyhow::{Context as _, Result};
use clap::Args;
use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Row};

#[derive(Debug, Args, Clone)]
pub struct ListArgs {
    /// Show at most N rows
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = crate::validate::flag::limit, allow_negative_numbers = true)]
    pub limit: i64,

    /// Show every row (no limit)
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,

    /// Skip the first N rows
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = crate::validate::flag::offset, allow_negative_numbers = true)]
    pub offset: i64,

    /// Only rows containing TEXT (case-insensitive; % _ and \ are matched literally)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    /// Sort by FIELD (a column name); -FIELD or FIELD:desc sorts descending
    #[arg(long, value_name = "FIELD", allow_hyphen_values = true)]
    pub sort: Option<String>,
}

/// A WHERE clause and its parameters. Clauses are SQL the code controls, with `$?` where a
/// value goes; values are always parameters.
///
/// The same filter renders two ways: with `$n` placeholders for a prepared statement
/// ([`Filter::sql`], [`Filter::params`]), and for COPY, which takes no parameters, with each
/// value read from a transaction-local setting ([`Filter::copy_sql`] after
/// [`Filter::set_copy_params`]).
#[derive(Default)]
pub struct Filter {
    clauses: Vec<Vec<Part>>,
    params: Vec<Param>,
}

/// A piece of a clause: SQL the code controls, or the place of a value (its index in `params`).
enum Part {
    Sql(String),
    Value(usize),
}

struct Param {
    value: Box<dyn crate::db::Param + Send>,
    /// The SQL type the value is sent as in the COPY form; `None` for a Rust type that none of
    /// [`COPY_TYPES`] accepts (such a filter cannot be used with COPY).
    sql_type: Option<Type>,
    /// A label ([`Label`]), written into the COPY form as a literal, so that it takes the type
    /// of the column it is compared with (VARCHAR or ENUM) as a parameter does.
    literal: Option<&'static str>,
}

/// The types a filter value may have in the COPY form, in order of preference.
const COPY_TYPES: &[Type] = &[
    Type::TEXT,
    Type::INT4,
    Type::INT8,
    Type::INT2,
    Type::BOOL,
    Type::NUMERIC,
    Type::FLOAT8,
    Type::FLOAT4,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMP,
    Type::DATE,
    Type::JSONB,
    Type::TEXT_ARRAY,
    Type::INT4_ARRAY,
    Type::INT8_ARRAY,
];

/// The prefix of the settings that carry the COPY form's values: `crm.p1`, `crm.p2`, ...
const SETTING_PREFIX: &str = "crm.p";

/// Stores a value as a setting, marked with a leading `=` so that NULL (stored as the empty
/// setting) and the empty string stay apart.
const SET_COPY_PARAM: &str = "SELECT set_config($1, '=' || $2::text, true)";

impl Filter {
    pub fn new() -> Self {
        Filter::default()
    }

    /// Adds `clause` (with one `$?` for `value`), joined with AND.
    pub fn and<T: crate::db::Param + Send + 'static>(
        &mut self,
        clause: &str,
        value: T,
    ) -> &mut Self {
        let n = self.push_param(value);
        let mut parts = Vec::new();
        let mut rest = clause;
        while let Some(at) = rest.find("$?") {
            parts.push(Part::Sql(rest[..at].to_string()));
            parts.push(Part::Value(n));
            rest = &rest[at + 2..];
        }
        parts.push(Part::Sql(rest.to_string()));
        self.clauses.push(parts);
        self
    }

    /// Adds a clause without a value, such as `"stock" > 0`.
    pub fn and_sql(&mut self, clause: &str) -> &mut Self {
        self.clauses.push(vec![Part::Sql(clause.to_string())]);
        self
    }

    /// Adds a case-insensitive substring match of `text` against any of `exprs` (SQL
    /// expressions the code controls; written as the trigram indexes are, so they serve it).
    pub fn search(&mut self, exprs: &[&str], text: &str) -> &mut Self {
        let n = self.push_param(like_pattern(text));
        let mut parts = vec![Part::Sql("(".to_string())];
        for (i, e) in exprs.iter().enumerate() {
            let or = if i == 0 { "" } else { " OR " };
            parts.push(Part::Sql(format!("{or}{e} ILIKE ")));
            parts.push(Part::Value(n));
            parts.push(Part::Sql(" ESCAPE '\\'".to_string()));
        }
        parts.push(Part::Sql(")".to_string()));
        self.clauses.push(parts);
        self
    }

    /// Adds `clause` (with one `$?` for `value`, a label such as a status), joined with AND.
    pub fn and_label<L: Label>(&mut self, clause: &str, value: L) -> &mut Self {
        let literal = value.label();
        self.and(clause, value);
        if let Some(param) = self.params.last_mut() {
            param.literal = Some(literal);
        }
        self
    }

    fn push_param<T: crate::db::Param + Send + 'static>(&mut self, value: T) -> usize {
        let sql_type = COPY_TYPES.iter().find(|t| T::accepts(t)).cloned();
        self.params.push(Param {
            value: Box::new(value),
            sql_type,
            literal: None,
        });
        self.params.len() - 1
    }

    /// ` WHERE ...`, or nothing.
    pub fn sql(&self) -> String {
        self.render(|n, _| format!("${}", n + 1))
    }

    pub fn params(&self) -> Vec<&dyn crate::db::Param> {
        self.params
            .iter()
            .map(|p| p.value.as_ref() as &dyn crate::db::Param)
            .collect()
    }

    /// The number the next parameter would get.
    pub fn next_param(&self) -> usize {
        self.params.len() + 1
    }

    /// ` WHERE ...`, or nothing, for a statement without parameters (COPY): each value is read
    /// once per statement (an InitPlan) from the transaction-local setting that
    /// [`Filter::set_copy_params`] stored it in, cast back to its type.
    pub fn copy_sql(&self) -> String {
        self.render(|n, param| {
            if let Some(literal) = param.literal {
                return db::quote_literal(literal);
            }
            let ty = param.sql_type.as_ref().map_or("text", |t| t.name());
            format!(
                "(SELECT substr(NULLIF(current_setting('{SETTING_PREFIX}{}'), ''), 2)::{ty})",
                n + 1
            )
        })
    }

    /// Stores each value in the transaction-local setting that [`Filter::copy_sql`] reads;
    /// `client` must be in the transaction that then runs the statement.
    pub async fn set_copy_params<C: GenericClient>(&self, client: &C) -> Result<()> {
        for (n, param) in self.params.iter().enumerate() {
            if param.literal.is_some() {
                continue;
            }
            let ty = param.sql_type.clone().ok_or_else(|| {
                anyhow::anyhow!("a filter value of a type that COPY cannot take (internal error)")
            })?;
            let name = format!("{SETTING_PREFIX}{}", n + 1);
            let value = param.value.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync);
            let started = std::time::Instant::now();
            client
                .query_typed_one(SET_COPY_PARAM, &[(&name, Type::TEXT), (value, ty)])
                .await
                .context("cannot pass the filter to the server")?;
            db::log_sql(SET_COPY_PARAM, started);
        }
        Ok(())
    }

    fn render(&self, value: impl Fn(usize, &Param) -> String) -> String {
        if self.clauses.is_empty() {
            return String::new();
        }
        let clauses: Vec<String> = self
            .clauses
            .iter()
            .map(|parts| {
                parts
                    .iter()
                    .map(|part| match part {
                        Part::Sql(sql) => sql.clone(),
                        Part::Value(n) => value(*n, &self.params[*n]),
                    })
                    .collect()
            })
            .collect();
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// `%text%` for ILIKE, with `\`, `%` and `_` escaped so that they match themselves.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// ORDER BY for `--sort` (one of `allowed`, the columns' own names, any case; `-x` or `x:desc`
/// for descending), always ending with `"id"` so that pages do not overlap.
pub fn order_by(sort: Option<&str>, allowed: &[&str], default: &str) -> Result<String> {
    let Some(spec) = sort else {
        return Ok(if default == "id" {
            "\"id\"".to_string()
        } else {
            format!("{default}, \"id\"")
        });
    };
    let (field, desc) = if let Some(field) = spec.strip_prefix('-') {
        (field, true)
    } else if let Some((field, dir)) = spec.split_once(':') {
        match dir.to_ascii_lowercase().as_str() {
            "asc" => (field, false),
            "desc" => (field, true),
            _ => {
                return Err(error::usage(format!(
                    "--sort {spec}: the direction must be asc or desc"
                )));
            }
        }
    } else {
        (spec, false)
    };
    let column = allowed
        .iter()
        .find(|c| c.eq_ignore_ascii_case(field))
        .ok_or_else(|| {
            error::usage(format!(
                "--sort {spec}: no such field (expected one of {})",
                allowed.join(", ")
            ))
        })?;
    let dir = if desc { " DESC" } else { "" };
    Ok(if *column == "id" {
        format!("\"id\"{dir}")
    } else {
        format!("{}{dir}, \"id\"", quote_identifier(column))
    })
}

/// Lists `table`: selects its columns from [`Table::from_sql`] where `filter` holds, in `order`
/// (from [`order_by`]), a page of `args`, and streams the rows to stdout as `to_values` makes
/// them; a table ends with `N of TOTAL plural`.
pub async fn print<C: GenericClient>(
    ctx: &Context,
    client: &C,
    table: &Table,
    filter: &Filter,
    order: &str,
    args: &ListArgs,
    to_values: impl Fn(&Row) -> Result<Vec<Value>>,
) -> Result<()> {
    let columns = table.column_names();
    let select = table.select_list();
    let from = table.from_sql();
    let listing = Listing {
        columns: &columns,
        select: &select,
        from: &from,
        noun: table.plural,
    };
    listing
        .print(ctx, client, filter, order, args, to_values)
        .await
}

/// A `list` query: what to select from where, and how to name what it counts. A [`Table`]
/// gives one ([`print`]); a query over several relations that no `Table` describes (the
/// notification inbox) writes its own.
pub struct Listing<'a> {
    /// The output's column names.
    pub columns: &'a [&'a str],
    /// The SELECT list, in the order of `columns`.
    pub select: &'a str,
    /// FROM (and joins).
    pub from: &'a str,
    /// What the total line counts, plural: `customers`.
    pub noun: &'a str,
}

impl Listing<'_> {
    /// Runs the query and streams its rows to stdout; a table ends with `N of TOTAL noun`.
    pub async fn print<C: GenericClient>(
        &self,
        ctx: &Context,
        client: &C,
        filter: &Filter,
        order: &str,
        args: &ListArgs,
        to_values: impl Fn(&Row) -> Result<Vec<Value>>,
    ) -> Result<()> {
        let mut sql = format!(
            "SELECT {} FROM {}{} ORDER BY {order}",
            self.select,
            self.from,
            filter.sql()
        );
        let mut params = filter.params();
        if !args.all {
            sql.push_str(&format!(
                " LIMIT ${} OFFSET ${}",
                filter.next_param(),
                filter.next_param() + 1
            ));
            params.push(&args.limit);
            params.push(&args.offset);
        } else if args.offset > 0 {
            sql.push_str(&format!(" OFFSET ${}", filter.next_param()));
            params.push(&args.offset);
        }
        let rows = db::query_raw(client, &sql, params)
            .await
            .with_context(|| format!("cannot list {}", self.noun))?;
        pin_mut!(rows);
        let mut out = ctx.out.row_writer(self.columns)?;
        while let Some(row) = rows.try_next().await? {
            out.row(to_values(&row)?)?;
        }
        let footer = if ctx.out.shows_footer() {
            let count_sql = format!("SELECT count(*) FROM {}{}", self.from, filter.sql());
            let total: i64 = db::query_one(client, &count_sql, &filter.params())
                .await?
                .get(0);
            out.when_empty(if total == 0 {
                format!("no {} match", self.noun)
            } else {
                format!(
                    "no {} past --offset {} (there are {})",
                    self.noun,
                    args.offset,
                    thousands(u64::try_from(total).unwrap_or(0))
                )
            });
            Some(format!(
                "{} of {} {}",
                thousands(out.count()),
                thousands(u64::try_from(total).unwrap_or(0)),
                self.noun
            ))
        } else {
            None
        };
        drop(out.finish(footer)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_pattern("smi"), "%smi%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(
            like_pattern("'; DROP TABLE \"Users\"; --"),
            "%'; DROP TABLE \"Users\"; --%"
        );
    }

    #[test]
    fn filters_number_their_parameters() {
        let mut f = Filter::new();
        f.and("\"role\" = $?", "admin".to_string())
            .and_sql("\"stock\" > 0")
            .search(&["\"name\"", "\"email\""], "x");
        assert_eq!(
            f.sql(),
            " WHERE \"role\" = $1 AND \"stock\" > 0 AND (\"name\" ILIKE $2 ESCAPE '\\' OR \"email\" ILIKE $2 ESCAPE '\\')"
        );
        assert_eq!(f.next_param(), 3);
    }

    #[test]
    fn the_copy_form_reads_each_value_once_from_a_setting_cast_to_its_type() {
        let mut f = Filter::new();
        f.search(&["\"name\"", "\"email\""], "x")
            .and("\"category\" = $?", "Books".to_string())
            .and_sql("\"stock\" > 0")
            .and("\"id\" > $?", 5_i32);
        let setting = |n: u32, ty: &str| {
            format!("(SELECT substr(NULLIF(current_setting('crm.p{n}'), ''), 2)::{ty})")
        };
        assert_eq!(
            f.copy_sql(),
            format!(
                " WHERE (\"name\" ILIKE {p1} ESCAPE '\\' OR \"email\" ILIKE {p1} ESCAPE '\\') \
                 AND \"category\" = {p2} AND \"stock\" > 0 AND \"id\" > {p3}",
                p1 = setting(1, "text"),
                p2 = setting(2, "text"),
                p3 = setting(3, "int4"),
            )
        );
        assert_eq!(
            f.sql(),
            " WHERE (\"name\" ILIKE $1 ESCAPE '\\' OR \"email\" ILIKE $1 ESCAPE '\\') \
             AND \"category\" = $2 AND \"stock\" > 0 AND \"id\" > $3"
        );
        assert_eq!(Filter::new().copy_sql(), "");
    }

    #[test]
    fn sort_accepts_known_fields_only() {
        let allowed = ["id", "name", "createdAt"];
        assert_eq!(order_by(None, &allowed, "id").unwrap(), "\"id\"");
        assert_eq!(
            order_by(Some("name"), &allowed, "id").unwrap(),
            "\"name\", \"id\""
        );
        assert_eq!(
            order_by(Some("-createdat"), &allowed, "id").unwrap(),
            "\"createdAt\" DESC, \"id\""
        );
        assert_eq!(
            order_by(Some("id:desc"), &allowed, "id").unwrap(),
            "\"id\" DESC"
        );
        let err = order_by(Some("password"), &allowed, "id").unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(
            err.to_string()
                .contains("expected one of id, name, createdAt")
        );
        assert!(order_by(Some("name;drop"), &allowed, "id").is_err());
    }
}
