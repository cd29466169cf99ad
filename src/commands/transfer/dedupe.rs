//! `customers import --dedupe-report FILE`: the rows of the file that look like customers the
//! table already has, by the rules of `crm customers duplicates` ([`super::matching`]).
//!
//! The report is computed from the import's staging table before anything is written, so the
//! file's rows are compared with the customers that existed before the import, never with
//! themselves. One statement, one set-based part per rule, each served by an index of
//! `"Customers"`: the e-mail key (V13), the phone key (V13), and, for names, the e-mail key
//! again: the e-mail-neighbour block, the few customers whose e-mails sort next to the row's
//! (two bounded index scans), of the same domain and a similar local part, then similar names;
//! a bounded number of lookups per row however many customers share a domain or a name. A
//! name alone never makes a match, as in a full `customers duplicates` run. The rows stream from
//! the server into the report; nothing grows with the file in crm's memory.
//!
//! The report is CSV: `line,customerId,score,reasons,email,name,customerEmail,customerName`, by
//! line, then best score first, then id; `email` and `name` are the file row's, the other two
//! the existing customer's. A row that updates a customer by its id is not reported against
//! that customer.

use super::matching::{
    LOCAL_PART_SIMILARITY, NAME_SIMILARITY, SAME_ADDRESS, SAME_EMAIL, SAME_PHONE, keys,
};
use super::target::{Target, Written};
use super::write::{Plan, TEMP};
use crate::db;
use crate::error;
use anyhow::{Context as _, Result};
use futures_util::{TryStreamExt, pin_mut};
use std::io;
use std::path::Path;
use tokio_postgres::Transaction;

/// The report's header.
pub const COLUMNS: &[&str] = &[
    "line",
    "customerId",
    "score",
    "reasons",
    "email",
    "name",
    "customerEmail",
    "customerName",
];

/// The report, open under a temporary name beside FILE until [`Report::finish`].
pub struct Report {
    writer: csv::Writer<Target>,
    name: String,
}

impl Report {
    /// Opens the report before anything is read or imported: a path that cannot be written
    /// (a folder that does not exist) is bad input, exit 2.
    pub fn create(path: &Path) -> Result<Report> {
        let name = path.display().to_string();
        if path.as_os_str() != "-" {
            let folder = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if !folder.is_dir() {
                return Err(error::usage(format!(
                    "cannot write the dedupe report {name}: the folder {} does not exist; \
                     nothing was imported",
                    folder.display()
                )));
            }
        }
        let target = Target::create(Some(path))?;
        let mut writer = csv::Writer::from_writer(target);
        writer
            .write_record(COLUMNS)
            .with_context(|| format!("cannot write {name}"))?;
        Ok(Report { writer, name })
    }

    /// Writes every candidate of the staging table's rows; returns how many rows of the file
    /// were reported and the finished file, to be put in place with [`Written::persist`].
    pub async fn write(mut self, plan: &Plan<'_>, tx: &Transaction<'_>) -> Result<(u64, Written)> {
        let sql = report_sql(plan);
        let params: Vec<&dyn crate::db::Param> = vec![];
        let rows = db::query_raw(tx, &sql, params)
            .await
            .context("cannot look for rows of the file like existing customers")?;
        pin_mut!(rows);
        let mut lines = 0u64;
        let mut last: Option<String> = None;
        while let Some(row) = rows
            .try_next()
            .await
            .context("cannot look for rows of the file like existing customers")?
        {
            let fields: Vec<Option<String>> = (0..COLUMNS.len())
                .map(|i| row.try_get(i))
                .collect::<Result<_, _>>()?;
            if fields[0] != last {
                lines += 1;
                last = fields[0].clone();
            }
            let fields: Vec<&str> = fields.iter().map(|f| f.as_deref().unwrap_or("")).collect();
            self.writer
                .write_record(&fields)
                .map_err(io::Error::from)
                .with_context(|| format!("cannot write {}", self.name))?;
        }
        let target = self
            .writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.name))?;
        Ok((lines, target.finish()?))
    }
}

/// How many customers each side of a row's e-mail, in the key index's order, are its e-mail
/// neighbours (`customers duplicates` compares each customer with the next four).
const NEIGHBOURS: usize = 4;

/// What each rule carries of a customer it finds.
const CUSTOMER_COLUMNS: &str = "c.\"id\" AS \"customerId\", c.\"email\"::text AS \"cEmail\", \
    c.\"phone\"::text AS \"cPhone\", c.\"firstName\"::text AS \"cFirst\", \
    c.\"lastName\"::text AS \"cLast\", c.\"address\"::text AS \"cAddress\"";

/// The report's statement (see the module's documentation). Every value is a constant of crm's
/// or a column of the staging table: there is nothing to bind.
fn report_sql(plan: &Plan<'_>) -> String {
    let column = |name: &str| {
        if plan.has(name) {
            format!("t.{}", db::quote_identifier(name))
        } else {
            "NULL::text".to_string()
        }
    };
    let (email, phone, first, last, address) = (
        column("email"),
        column("phone"),
        column("firstName"),
        column("lastName"),
        column("address"),
    );
    let id = if plan.has("id") {
        "t.\"id\"".to_string()
    } else {
        "NULL::int4".to_string()
    };
    let file_name = keys::full_name(&first, &last);
    let customer_email = keys::email_indexed("c.\"email\"");
    let customer_phone = keys::phone_indexed("c.\"phone\"");
    // Each rule: for each row of the file, the customers an index finds for it (OFFSET 0 keeps
    // the subquery a lookup per row rather than a join the planner may turn into a scan).
    let lookup = |condition: String| {
        format!(
            "SELECT f.*, c.* FROM file f CROSS JOIN LATERAL (\
               SELECT {CUSTOMER_COLUMNS} FROM \"Customers\" c WHERE {condition} OFFSET 0) c"
        )
    };
    let mut rules = Vec::new();
    if plan.has("email") {
        rules.push(lookup(format!("{customer_email} = f.\"emailKey\"")));
        if plan.has("firstName") || plan.has("lastName") {
            // The e-mail-neighbour block: the customers whose e-mail keys sort next to the
            // row's, NEIGHBOURS each side (two bounded scans of the key index), of the same
            // domain and a similar local part; only then are the names compared.
            let side = |compare: &str, order: &str| {
                format!(
                    "(SELECT {CUSTOMER_COLUMNS} FROM \"Customers\" c \
                      WHERE {customer_email} {compare} f.\"emailKey\" \
                      ORDER BY {customer_email} {order} LIMIT {NEIGHBOURS})"
                )
            };
            let near = keys::full_name("c.\"cFirst\"", "c.\"cLast\"");
            rules.push(format!(
                "SELECT f.*, c.* FROM file f CROSS JOIN LATERAL ({} UNION ALL {}) c \
                 WHERE f.\"emailKey\" LIKE '%_@_%' \
                   AND split_part(lower(btrim(c.\"cEmail\")), '@', 2) = split_part(f.\"emailKey\", '@', 2) \
                   AND similarity(split_part(lower(btrim(c.\"cEmail\")), '@', 1), \
                                  split_part(f.\"emailKey\", '@', 1)) >= {LOCAL_PART_SIMILARITY} \
                   AND similarity({near}, f.\"name\") >= {NAME_SIMILARITY}",
                side(">", "ASC"),
                side("<", "DESC"),
            ));
        }
    }
    if plan.has("phone") {
        rules.push(lookup(format!("{customer_phone} = f.\"phoneKey\"")));
    }
    if rules.is_empty() {
        rules.push(lookup("false".to_string()));
    }
    let customer_name = keys::full_name("p.\"cFirst\"", "p.\"cLast\"");
    format!(
        r#"WITH file AS MATERIALIZED (
  SELECT t."_line" AS "line", {id} AS "id", {email}::text AS "email", {address}::text AS "address",
         {email_key} AS "emailKey", {phone_key} AS "phoneKey", {file_name} AS "name"
  FROM {TEMP} t
),
pairs AS ({pairs}),
scored AS (
  SELECT p."line", p."customerId", p."email", p."name", p."cEmail" AS "customerEmail",
         {customer_name} AS "customerName",
         coalesce({customer_email} = p."emailKey", false) AS "sameEmail",
         coalesce({customer_phone} = p."phoneKey", false) AS "samePhone",
         CASE WHEN btrim(p."name") <> '' THEN similarity({customer_name}, p."name") END
           AS "nameSimilarity",
         coalesce(lower(btrim(p."cAddress")) = lower(btrim(p."address"))
           AND btrim(p."address") <> '', false) AS "sameAddress"
  FROM pairs p
  WHERE p."id" IS DISTINCT FROM p."customerId"
),
rated AS (
  SELECT *,
    round((1 - (1 - CASE WHEN "sameEmail" THEN {SAME_EMAIL} ELSE 0 END)
             * (1 - CASE WHEN "samePhone" THEN {SAME_PHONE} ELSE 0 END)
             * (1 - CASE WHEN "nameSimilarity" >= {NAME_SIMILARITY}
                         THEN "nameSimilarity" ELSE 0 END)
             * (1 - CASE WHEN "sameAddress" THEN {SAME_ADDRESS} ELSE 0 END))::numeric, 2)
      AS "score",
    array_to_string(ARRAY[
      CASE WHEN "sameEmail" THEN 'same e-mail' END,
      CASE WHEN "samePhone" THEN 'same phone' END,
      CASE WHEN "nameSimilarity" >= {NAME_SIMILARITY}
        THEN 'similar name ' || to_char("nameSimilarity", 'FM0.00') END,
      CASE WHEN "sameAddress" THEN 'same address' END], ', ') AS "reasons"
  FROM scored
  WHERE "sameEmail" OR "samePhone" OR "nameSimilarity" >= {NAME_SIMILARITY}
)
SELECT "line"::text, "customerId"::text, "score"::text, "reasons", "email",
       nullif(btrim("name"), ''), "customerEmail"::text, nullif(btrim("customerName"), '')
FROM rated
ORDER BY "line", "score" DESC, "customerId""#,
        customer_email = keys::email_indexed("p.\"cEmail\""),
        customer_phone = keys::phone_indexed("p.\"cPhone\""),
        email_key = keys::email(&format!("{email}::text")),
        phone_key = keys::phone(&format!("{phone}::text")),
        pairs = rules.join(" UNION "),
    )
}
