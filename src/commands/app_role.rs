//! `crm db create-app-role NAME`: the least-privilege role the application connects as, from
//! the reference's "Database Security" section.
//!
//! The role may connect, use the schema, and read and write the rows of the crm tables (and use
//! their sequences); it may not create, alter or drop anything. Default privileges cover the
//! tables and sequences that later migrations create. `--read-only` makes a reporting role
//! that may only SELECT. Running it again brings the role up to date (REVOKE ALL, then GRANT
//! what it should have), all in one transaction. A password comes only from standard input and
//! is sent as a SCRAM-SHA-256 verifier computed here: utility statements take no parameters,
//! and the password itself never reaches the server, its log or `-v`.

use crate::context::Context;
use crate::db::{self, CRM_TABLES, quote_identifier};
use crate::error;
use crate::output::{Rows, Value};
use crate::password;
use anyhow::{Context as _, Result};
use clap::Args;
use std::time::Instant;

/// `crm db create-app-role`'s options.
#[derive(Debug, Args)]
pub struct AppRoleArgs {
    /// The role's name: lower-case letters, digits and _, starting with a letter or _
    pub name: String,

    /// Set the role's password to what standard input holds (it is never a flag value)
    #[arg(long)]
    pub password_stdin: bool,

    /// A reporting role: SELECT on the crm tables only
    #[arg(long)]
    pub read_only: bool,
}

const ROLE: &str = "SELECT rolsuper FROM pg_roles WHERE rolname = $1";
const WHERE_WE_ARE: &str = "SELECT current_database()::text, current_schema()::text";
const PRESENT_TABLES: &str = "SELECT c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
       AND c.relname::text = ANY($1::text[]) \
     ORDER BY array_position($1::text[], c.relname::text)";
/// The sequences owned by the crm tables' columns (SERIAL, IDENTITY).
const SEQUENCES: &str = "SELECT s.relname::text FROM pg_class s \
     JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid \
       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
     JOIN pg_class t ON t.oid = d.refobjid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE s.relkind = 'S' AND n.nspname = current_schema() AND t.relname::text = ANY($1::text[]) \
     ORDER BY 1";
/// Who owns the crm tables: the role whose later tables default privileges must cover
/// (whoever runs the migrations; this user when there are no tables yet).
const OWNERS: &str = "SELECT DISTINCT pg_get_userbyid(c.relowner)::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relname::text = ANY($1::text[]) \
     UNION SELECT current_user::text WHERE NOT EXISTS (SELECT 1 FROM pg_class c \
       JOIN pg_namespace n ON n.oid = c.relnamespace \
       WHERE n.nspname = current_schema() AND c.relname::text = ANY($1::text[])) \
     ORDER BY 1";
const CAN_CREATE: &str = "SELECT has_schema_privilege($1, current_schema(), 'CREATE')";
const TABLE_PRIVILEGES: &str = "SELECT concat_ws(', ', \
       CASE WHEN has_table_privilege($1, $2, 'SELECT') THEN 'SELECT' END, \
       CASE WHEN has_table_privilege($1, $2, 'INSERT') THEN 'INSERT' END, \
       CASE WHEN has_table_privilege($1, $2, 'UPDATE') THEN 'UPDATE' END, \
       CASE WHEN has_table_privilege($1, $2, 'DELETE') THEN 'DELETE' END, \
       CASE WHEN has_table_privilege($1, $2, 'TRUNCATE') THEN 'TRUNCATE' END)";
const SEQUENCE_PRIVILEGES: &str = "SELECT concat_ws(', ', \
       CASE WHEN has_sequence_privilege($1, $2, 'USAGE') THEN 'USAGE' END, \
       CASE WHEN has_sequence_privilege($1, $2, 'SELECT') THEN 'SELECT' END, \
       CASE WHEN has_sequence_privilege($1, $2, 'UPDATE') THEN 'UPDATE' END)";

/// Names PostgreSQL keeps for itself or that GRANT reads as something else.
const RESERVED: [&str; 5] = [
    "public",
    "none",
    "current_user",
    "session_user",
    "current_role",
];

/// Accepts a plain, unquoted-style role name, so that what the user typed is what `\du` shows.
fn check_name(name: &str) -> Result<()> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !plain || !first_ok || name.len() > 63 {
        return Err(error::usage(format!(
            "role name {name:?}: expected lower-case letters, digits and _, starting with a letter \
             or _, at most 63 characters"
        )));
    }
    if name.starts_with("pg_") || RESERVED.contains(&name) {
        return Err(error::usage(format!(
            "role name {name:?} is reserved by PostgreSQL: choose another (e.g. crm_app)"
        )));
    }
    Ok(())
}

pub async fn run(ctx: &Context, args: AppRoleArgs) -> Result<i32> {
    check_name(&args.name)?;
    let verifier = match args.password_stdin {
        true => {
            let password = password::Source::Stdin.read("").await?;
            Some(postgres_protocol::password::scram_sha_256(
                password.as_bytes(),
            ))
        }
        false => None,
    };
    let role = quote_identifier(&args.name);
    let mut client = ctx.db().await?.get().await?;
    let tx = client.transaction().await?;

    let existing = db::query(&*tx, ROLE, &[&args.name]).await?;
    let created = match existing.first() {
        Some(row) if row.get::<_, bool>(0) => {
            return Err(error::conflict(format!(
                "role {} is a superuser, which no privilege limits: choose another name for the \
                 application role",
                args.name
            )));
        }
        Some(_) => {
            db::batch_execute(&*tx, &format!("ALTER ROLE {role} LOGIN")).await?;
            false
        }
        None => {
            db::batch_execute(&*tx, &format!("CREATE ROLE {role} LOGIN"))
                .await
                .with_context(|| format!("cannot create role {}", args.name))?;
            true
        }
    };
    if let Some(verifier) = &verifier {
        // Not through db::batch_execute: -v must not log even the verifier.
        let started = Instant::now();
        tx.batch_execute(&format!(
            "ALTER ROLE {role} PASSWORD {}",
            db::quote_literal(verifier)
        ))
        .await
        .with_context(|| format!("cannot set the password of role {}", args.name))?;
        db::log_sql(&format!("ALTER ROLE {role} PASSWORD '***'"), started);
    }

    let place = db::query_one(&*tx, WHERE_WE_ARE, &[]).await?;
    let (database, schema): (String, String) = (place.get(0), place.get(1));
    let schema_q = quote_identifier(&schema);
    let tables: Vec<String> = db::query(&*tx, PRESENT_TABLES, &[&&CRM_TABLES[..]])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let sequences: Vec<String> = db::query(&*tx, SEQUENCES, &[&&CRM_TABLES[..]])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let owners: Vec<String> = db::query(&*tx, OWNERS, &[&&CRM_TABLES[..]])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();

    let (table_privileges, sequence_privileges) = match args.read_only {
        true => ("SELECT", "SELECT"),
        false => ("SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT"),
    };
    let mut script = vec![
        format!(
            "GRANT CONNECT ON DATABASE {} TO {role}",
            quote_identifier(&database)
        ),
        format!("GRANT USAGE ON SCHEMA {schema_q} TO {role}"),
        format!("REVOKE CREATE ON SCHEMA {schema_q} FROM {role}"),
    ];
    for table in &tables {
        let table = format!("{schema_q}.{}", quote_identifier(table));
        script.push(format!("REVOKE ALL ON TABLE {table} FROM {role}"));
        script.push(format!(
            "GRANT {table_privileges} ON TABLE {table} TO {role}"
        ));
    }
    for sequence in &sequences {
        let sequence = format!("{schema_q}.{}", quote_identifier(sequence));
        script.push(format!("REVOKE ALL ON SEQUENCE {sequence} FROM {role}"));
        script.push(format!(
            "GRANT {sequence_privileges} ON SEQUENCE {sequence} TO {role}"
        ));
    }
    for owner in &owners {
        let defaults = format!(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {schema_q}",
            quote_identifier(owner)
        );
        script.push(format!("{defaults} REVOKE ALL ON TABLES FROM {role}"));
        script.push(format!(
            "{defaults} GRANT {table_privileges} ON TABLES TO {role}"
        ));
        script.push(format!("{defaults} REVOKE ALL ON SEQUENCES FROM {role}"));
        script.push(format!(
            "{defaults} GRANT {sequence_privileges} ON SEQUENCES TO {role}"
        ));
    }
    db::batch_execute(&*tx, &script.join(";\n"))
        .await
        .with_context(|| format!("cannot grant role {} its privileges", args.name))?;
    let can_create: bool = db::query_one(&*tx, CAN_CREATE, &[&args.name]).await?.get(0);

    let mut rows = Rows::new(&["object", "privileges"]);
    for table in &tables {
        let object = format!("{schema_q}.{}", quote_identifier(table));
        let granted: String = db::query_one(&*tx, TABLE_PRIVILEGES, &[&args.name, &object])
            .await?
            .get(0);
        rows.push(vec![Value::Text(object), granted.into()]);
    }
    for sequence in &sequences {
        let object = format!("{schema_q}.{}", quote_identifier(sequence));
        let granted: String = db::query_one(&*tx, SEQUENCE_PRIVILEGES, &[&args.name, &object])
            .await?
            .get(0);
        rows.push(vec![Value::Text(object), granted.into()]);
    }
    tx.commit().await?;

    ctx.out.rows(&rows)?;
    let kind = match args.read_only {
        true => "read-only role",
        false => "application role",
    };
    ctx.out.notice(format!(
        "{} {kind} {} in database {database}: {} crm tables, {} sequences; default privileges \
         for tables that {} create later",
        if created { "created" } else { "updated" },
        args.name,
        tables.len(),
        sequences.len(),
        owners.join(", ")
    ));
    if created && verifier.is_none() {
        ctx.out.warn(format!(
            "role {} has no password: it can log in only where pg_hba.conf trusts it; set one \
             with crm db create-app-role {} --password-stdin",
            args.name, args.name
        ));
    }
    if can_create {
        ctx.out.warn(format!(
            "role {} may still create objects in schema {schema} through PUBLIC (the default \
             before PostgreSQL 15): REVOKE CREATE ON SCHEMA {schema_q} FROM PUBLIC",
            args.name
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        assert!(check_name("crm_app").is_ok());
        assert!(check_name("_reports2").is_ok());
        for bad in [
            "",
            "CrmApp",
            "2app",
            "app-role",
            "app\"; DROP",
            "pg_app",
            "public",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(db::quote_literal("it's"), "'it''s'");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
