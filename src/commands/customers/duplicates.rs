//! `crm customers duplicates`: candidate groups of customers that look like one person, each
//! candidate with a score and the reasons, best groups first, streamed as they come.
//!
//! Rules, each a comparison of normalised values:
//! - `email`: the e-mail trimmed and lower-cased, equal;
//! - `phone`: the last ten digits of the phone (its other characters dropped; seven digits at
//!   least), equal;
//! - `name`: the full names similar by `pg_trgm`'s `similarity`, at least [`NAME_SIMILARITY`].
//!
//! The work is never quadratic. The exact rules group the table by their key (one pass and a
//! sort). Names are compared only within a block: customers that share an e-mail or a phone, and
//! e-mail neighbours (sorted by domain, then the whole address, each customer compared with the
//! next [`WINDOW`]) of the same domain and similar local parts. Two customers are never paired
//! on their names alone in a full run: in a million customers, thousands share a name. The
//! duplicates of one customer (`--customer ID`) are found by index lookups: the key indexes of
//! V13 and the trigram index of the full name (its trigram neighbours, `%`).
//!
//! A group is a customer (its first row, score and reasons empty) and the customers paired with
//! it, all of higher ids; a customer can be in two groups when it was paired with two others.
//! The score of a pair is `1 - Π(1 - w)` over its reasons: same e-mail 0.9, same phone 0.8,
//! similar names their similarity, same address 0.5 (a reason that adds to a pair, never one on
//! its own).

use crate::context::Context;
use crate::db;
use crate::error;
use crate::output::Value;
use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use futures_util::{TryStreamExt, pin_mut};
use rust_decimal::Decimal;

// The rules' thresholds, weights and keys live with import, which reports the rows of a file
// that look like existing customers by them (commands::transfer cannot depend on customers).
pub use crate::commands::transfer::matching::{
    LOCAL_PART_SIMILARITY, NAME_SIMILARITY, SAME_ADDRESS, SAME_EMAIL, SAME_PHONE, keys,
};

/// How many e-mail neighbours each customer is compared with (the SQL below spells them out).
pub const WINDOW: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rule {
    /// Same e-mail, trimmed and lower-cased
    Email,
    /// Same last ten digits of the phone
    Phone,
    /// Similar full names (pg_trgm), compared within blocks
    Name,
}

#[derive(Debug, Args)]
pub struct DuplicatesArgs {
    /// The rules to apply, comma-separated [default: email,phone,name]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "RULES")]
    pub rule: Vec<Rule>,

    /// The least score of a candidate, from 0 to 1
    #[arg(long, value_name = "SCORE", default_value_t = 0.5, value_parser = score)]
    pub min_score: f64,

    /// Only the duplicates of this customer
    #[arg(long, value_name = "ID", value_parser = crate::validate::flag::customer_id, allow_negative_numbers = true)]
    pub customer: Option<i32>,

    /// At most this many groups
    #[arg(long, value_name = "N", value_parser = crate::validate::flag::limit, allow_negative_numbers = true)]
    pub limit: Option<i64>,

    /// Print the query's plan (EXPLAIN, as JSON) instead of running it
    #[arg(long)]
    pub explain: bool,
}

fn score(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(n) if (0.0..=1.0).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a score from 0 to 1, such as 0.8, got \"{value}\""
        )),
    }
}

/// The columns of the output, in order.
pub const COLUMNS: &[&str] = &[
    "group",
    "customerId",
    "score",
    "reasons",
    "firstName",
    "lastName",
    "email",
    "phone",
];

/// The shared end of both queries: from `pairs (a, b)` with `a < b`, each pair's reasons and
/// score, the groups best first (`$5` of them at most, NULL for all), and each group's rows.
/// `$1`, `$2`, `$3`: the rules email, phone, name; `$4`: the least score.
macro_rules! scored {
    () => {
        r#",
scored AS MATERIALIZED (
  SELECT p.a, p.b, s."sameEmail", s."samePhone", s."nameSimilarity", s."sameAddress"
  FROM pairs p
  JOIN "Customers" ca ON ca."id" = p.a
  JOIN "Customers" cb ON cb."id" = p.b
  CROSS JOIN LATERAL (SELECT
    $1::bool AND lower(btrim(ca."email")) = lower(btrim(cb."email"))
      AND btrim(ca."email") <> '' AS "sameEmail",
    $2::bool AND length(regexp_replace(ca."phone", '\D', '', 'g')) >= 7
      AND right(regexp_replace(ca."phone", '\D', '', 'g'), 10)
        = right(regexp_replace(cb."phone", '\D', '', 'g'), 10) AS "samePhone",
    CASE WHEN $3::bool AND btrim(coalesce(ca."firstName", '') || coalesce(ca."lastName", '')) <> ''
      THEN similarity(coalesce(ca."firstName", '') || ' ' || coalesce(ca."lastName", ''),
                      coalesce(cb."firstName", '') || ' ' || coalesce(cb."lastName", ''))
    END AS "nameSimilarity",
    lower(btrim(ca."address")) = lower(btrim(cb."address"))
      AND btrim(ca."address") <> '' AS "sameAddress") s
),
rated AS MATERIALIZED (
  SELECT a, b,
    round((1 - (1 - CASE WHEN "sameEmail" THEN 0.9 ELSE 0 END)
             * (1 - CASE WHEN "samePhone" THEN 0.8 ELSE 0 END)
             * (1 - CASE WHEN "nameSimilarity" >= $6::float8 THEN "nameSimilarity" ELSE 0 END)
             * (1 - CASE WHEN "sameAddress" THEN 0.5 ELSE 0 END))::numeric, 2) AS "score",
    array_to_string(ARRAY[
      CASE WHEN "sameEmail" THEN 'same e-mail' END,
      CASE WHEN "samePhone" THEN 'same phone' END,
      CASE WHEN "nameSimilarity" >= $6::float8
        THEN 'similar name ' || to_char("nameSimilarity", 'FM0.00') END,
      CASE WHEN "sameAddress" THEN 'same address' END], ', ') AS "reasons"
  FROM scored
  WHERE "sameEmail" OR "samePhone" OR "nameSimilarity" >= $6::float8
),
kept AS MATERIALIZED (SELECT * FROM rated WHERE "score" >= $4::float8::numeric),
groups AS MATERIALIZED (
  SELECT a, row_number() OVER (ORDER BY max("score") DESC, a) AS "group"
  FROM kept GROUP BY a ORDER BY max("score") DESC, a LIMIT $5::int8
),
members AS (
  SELECT g."group", g.a AS "id", NULL::numeric AS "score", NULL::text AS "reasons", 0 AS "pos"
  FROM groups g
  UNION ALL
  SELECT g."group", k.b, k."score", k."reasons", 1 FROM groups g JOIN kept k ON k.a = g.a
)
SELECT m."group", m."id" AS "customerId", m."score", m."reasons",
       c."firstName", c."lastName", c."email", c."phone"
FROM members m JOIN "Customers" c ON c."id" = m."id"
ORDER BY m."group", m."pos", m."score" DESC, m."id""#
    };
}

/// Every candidate pair of the table, blocked (see the module's documentation).
const ALL: &str = concat!(
    r#"WITH keys AS MATERIALIZED (
  SELECT "id",
         nullif(lower(btrim("email")), '') AS "emailKey",
         CASE WHEN length(regexp_replace("phone", '\D', '', 'g')) >= 7
              THEN right(regexp_replace("phone", '\D', '', 'g'), 10) END AS "phoneKey",
         coalesce("firstName", '') || ' ' || coalesce("lastName", '') AS "name"
  FROM "Customers"
),
by_email AS (
  SELECT first_value("id") OVER (PARTITION BY "emailKey" ORDER BY "id") AS a, "id" AS b
  FROM keys WHERE ($1::bool OR $3::bool) AND "emailKey" IS NOT NULL
),
by_phone AS (
  SELECT first_value("id") OVER (PARTITION BY "phoneKey" ORDER BY "id") AS a, "id" AS b
  FROM keys WHERE ($2::bool OR $3::bool) AND "phoneKey" IS NOT NULL
),
neighbours AS MATERIALIZED (
  SELECT "id", "emailKey", "name",
         lead("id", 1) OVER w AS "id1", lead("emailKey", 1) OVER w AS "key1",
         lead("name", 1) OVER w AS "name1",
         lead("id", 2) OVER w AS "id2", lead("emailKey", 2) OVER w AS "key2",
         lead("name", 2) OVER w AS "name2",
         lead("id", 3) OVER w AS "id3", lead("emailKey", 3) OVER w AS "key3",
         lead("name", 3) OVER w AS "name3",
         lead("id", 4) OVER w AS "id4", lead("emailKey", 4) OVER w AS "key4",
         lead("name", 4) OVER w AS "name4"
  FROM keys WHERE $3::bool AND "emailKey" LIKE '%_@_%'
  WINDOW w AS (ORDER BY split_part("emailKey", '@', 2), "emailKey", "id")
),
near AS (
  SELECT "id" AS x, "emailKey" AS kx, "name" AS nx, "id1" AS y, "key1" AS ky, "name1" AS ny
  FROM neighbours
  UNION ALL SELECT "id", "emailKey", "name", "id2", "key2", "name2" FROM neighbours
  UNION ALL SELECT "id", "emailKey", "name", "id3", "key3", "name3" FROM neighbours
  UNION ALL SELECT "id", "emailKey", "name", "id4", "key4", "name4" FROM neighbours
),
by_neighbour AS (
  SELECT least(x, y) AS a, greatest(x, y) AS b FROM near
  WHERE y IS NOT NULL AND split_part(kx, '@', 2) = split_part(ky, '@', 2)
    AND similarity(split_part(kx, '@', 1), split_part(ky, '@', 1)) >= 0.4
    -- Only the pairs the name rule keeps go on to be scored (which costs more per pair).
    AND similarity(nx, ny) >= $6::float8
),
pairs AS (
  SELECT a, b FROM by_email WHERE a <> b
  UNION SELECT a, b FROM by_phone WHERE a <> b
  UNION SELECT a, b FROM by_neighbour
)"#,
    scored!()
);

/// The candidates of one customer (`$7`), each found through an index by the customer's own
/// keys, given as values (`$8` e-mail, `$9` phone, `$10` full name; NULL when it has none) so
/// that the planner sees them.
const ONE: &str = concat!(
    r#"WITH found AS (
  SELECT "id" FROM "Customers"
  WHERE ($1::bool OR $3::bool) AND lower(btrim("email")) = $8::text
  UNION
  SELECT "id" FROM "Customers"
  WHERE ($2::bool OR $3::bool) AND right(regexp_replace("phone", '\D', '', 'g'), 10) = $9::text
  UNION
  SELECT "id" FROM "Customers"
  WHERE $3::bool AND (coalesce("firstName", '') || ' ' || coalesce("lastName", '')) % $10::text
),
pairs AS (SELECT $7::int4 AS a, "id" AS b FROM found WHERE "id" <> $7::int4)"#,
    scored!()
);

/// One customer's keys, as the rules compare them.
const CUSTOMER_KEYS: &str = r#"SELECT
    nullif(lower(btrim("email")), '') AS "emailKey",
    CASE WHEN length(regexp_replace("phone", '\D', '', 'g')) >= 7
         THEN right(regexp_replace("phone", '\D', '', 'g'), 10) END AS "phoneKey",
    nullif(btrim(coalesce("firstName", '') || ' ' || coalesce("lastName", '')), '') AS "name"
  FROM "Customers" WHERE "id" = $1"#;

pub async fn run(ctx: &Context, args: DuplicatesArgs) -> Result<()> {
    let rules = if args.rule.is_empty() {
        vec![Rule::Email, Rule::Phone, Rule::Name]
    } else {
        args.rule.clone()
    };
    let (email, phone, name) = (
        rules.contains(&Rule::Email),
        rules.contains(&Rule::Phone),
        rules.contains(&Rule::Name),
    );
    let client = ctx.db().await?.get().await?;
    let keys: Option<(Option<String>, Option<String>, Option<String>)> = match args.customer {
        None => None,
        Some(id) => {
            let rows = db::query(&**client, CUSTOMER_KEYS, &[&id])
                .await
                .context("cannot look up the customer")?;
            let row = rows
                .first()
                .ok_or_else(|| error::not_found(format!("customer {id} does not exist")))?;
            Some((
                row.try_get("emailKey")?,
                row.try_get("phoneKey")?,
                row.try_get("name")?,
            ))
        }
    };
    let mut params: Vec<&dyn crate::db::Param> = vec![
        &email,
        &phone,
        &name,
        &args.min_score,
        &args.limit,
        &NAME_SIMILARITY,
    ];
    let sql = match (&args.customer, &keys) {
        (Some(id), Some((email_key, phone_key, name_key))) => {
            params.extend([id as &dyn crate::db::Param, email_key, phone_key, name_key]);
            ONE
        }
        _ => ALL,
    };
    if args.explain {
        let explain = format!("EXPLAIN (FORMAT JSON) {sql}");
        let rows = db::query(&**client, &explain, &params)
            .await
            .context("cannot explain the query")?;
        for row in rows {
            let plan: serde_json::Value = row.try_get(0)?;
            ctx.out.line(&plan.to_string())?;
        }
        return Ok(());
    }
    let rows = db::query_raw(&**client, sql, params)
        .await
        .context("cannot look for duplicates")?;
    pin_mut!(rows);
    let mut out = ctx.out.row_writer(COLUMNS)?;
    let mut groups = 0i64;
    while let Some(row) = rows
        .try_next()
        .await
        .context("cannot look for duplicates")?
    {
        let group: i64 = row.try_get("group")?;
        groups = groups.max(group);
        let score: Option<Decimal> = row.try_get("score")?;
        out.row(vec![
            Value::Int(group),
            row.try_get::<_, i32>("customerId")?.into(),
            score.map_or(Value::Null, Value::Money),
            row.try_get::<_, Option<String>>("reasons")?.into(),
            row.try_get::<_, Option<String>>("firstName")?.into(),
            row.try_get::<_, Option<String>>("lastName")?.into(),
            row.try_get::<_, Option<String>>("email")?.into(),
            row.try_get::<_, Option<String>>("phone")?.into(),
        ])
        .context("cannot write to standard output")?;
    }
    let _stdout = out
        .finish(Some(crate::output::counted(
            groups,
            "candidate group",
            "candidate groups",
        )))
        .context("cannot write to standard output")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weights and the e-mail-neighbour threshold that the SQL spells out are the shared
    /// rules' (transfer/matching.rs), which import's `--dedupe-report` scores by: a change to
    /// one that misses the other fails here.
    #[test]
    fn the_sql_weighs_as_the_shared_rules_do() {
        let sql = format!("{ALL}\n{ONE}");
        for (reason, weight) in [
            ("sameEmail", SAME_EMAIL),
            ("samePhone", SAME_PHONE),
            ("sameAddress", SAME_ADDRESS),
        ] {
            let spelled = format!(r#"CASE WHEN "{reason}" THEN {weight} ELSE 0 END"#);
            assert!(sql.contains(&spelled), "{spelled} is not in the SQL");
        }
        let block = format!("split_part(ky, '@', 1)) >= {LOCAL_PART_SIMILARITY}");
        assert!(ALL.contains(&block), "{block} is not in the SQL");
    }
}
