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
//!
//! GRANT and REVOKE cannot limit every role, so an existing one is checked before anything
//! changes: a superuser, an owner of what crm uses (or a member of one), a member of a role with
//! admin attributes or of a predefined role whose power covers the whole server, and a role that
//! holds write privileges on the crm tables through another role or PUBLIC are refused. Admin
//! attributes of the role itself are refused too, or removed with `--strip-attributes`.

use crate::context::Context;
use crate::db::{self, CRM_TABLES, quote_identifier};
use crate::error;
use crate::output::{Rows, Value};
use crate::password;
use anyhow::{Context as _, Result};
use clap::Args;
use std::time::Instant;
use tokio_postgres::{Row, Transaction};

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

    /// Take CREATEROLE, CREATEDB, BYPASSRLS and REPLICATION away from an existing role (without
    /// it, a role that has any of them is refused)
    #[arg(long)]
    pub strip_attributes: bool,
}

/// The role attributes a least-privilege role must not have, as `ALTER ROLE` spells them, in
/// [`ROLE`]'s column order. SUPERUSER is not among them: crm refuses a superuser rather than
/// demote it.
const ADMIN_ATTRIBUTES: [&str; 4] = ["CREATEROLE", "CREATEDB", "BYPASSRLS", "REPLICATION"];
const ROLE: &str = "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication \
     FROM pg_roles WHERE rolname = $1";
/// What crm uses that the role, or a role it is a member of (it may SET ROLE to it, or inherits
/// its rights), owns: the crm tables, their sequences, the types of their columns, the
/// migration history, the schema and the database. An owner keeps every right on what it owns
/// (ALTER, DROP, GRANT) whatever is revoked. pg_database_owner (the owner of PostgreSQL 15's
/// public schema) is the database's owner, reported as such.
const OWNED: &str = "WITH me AS (SELECT oid FROM pg_roles WHERE rolname = $1), \
     crm AS (SELECT c.oid, n.nspname, c.relname, c.relowner FROM pg_class c \
       JOIN pg_namespace n ON n.oid = c.relnamespace \
       WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
         AND c.relname::text = ANY($2::text[])), \
     objects(rank, kind, qualifier, name, owner) AS ( \
       SELECT 1, 'table', nspname::text, relname::text, relowner FROM crm \
       UNION ALL SELECT 2, 'sequence', n.nspname::text, s.relname::text, s.relowner \
         FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace \
         JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid \
           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
         WHERE s.relkind = 'S' AND d.refobjid IN (SELECT oid FROM crm) \
       UNION ALL SELECT 3, 'type', n.nspname::text, t.typname::text, t.typowner \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND t.oid IN (SELECT a.atttypid FROM pg_attribute a \
             WHERE a.attrelid IN (SELECT oid FROM crm) AND a.attnum > 0 AND NOT a.attisdropped) \
       UNION ALL SELECT 4, 'table', n.nspname::text, c.relname::text, c.relowner \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relname = 'refinery_schema_history' \
       UNION ALL SELECT 5, 'schema', NULL, nspname::text, nspowner FROM pg_namespace \
         WHERE nspname = current_schema() \
       UNION ALL SELECT 6, 'database', NULL, datname::text, datdba FROM pg_database \
         WHERE datname = current_database()) \
     SELECT pg_get_userbyid(o.owner)::text AS owner, o.owner = me.oid AS itself, o.kind, \
       o.qualifier, o.name \
     FROM objects o, me \
     WHERE pg_has_role(me.oid, o.owner, 'MEMBER') \
       AND pg_get_userbyid(o.owner) <> 'pg_database_owner' \
     ORDER BY o.owner <> me.oid, 1, o.rank, o.qualifier, o.name";
/// The other roles the role is a member of that have admin attributes: a member may SET ROLE
/// to them.
const ADMIN_ROLES: &str = "SELECT r.rolname::text AS name, r.rolsuper, r.rolcreaterole, \
       r.rolcreatedb, r.rolbypassrls, r.rolreplication \
     FROM pg_roles r JOIN pg_roles me ON me.rolname = $1 \
     WHERE r.oid <> me.oid AND pg_has_role(me.oid, r.oid, 'MEMBER') \
       AND (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls OR r.rolreplication) \
     ORDER BY 1";
/// PostgreSQL's predefined roles whose power reaches past the crm tables, and what it is.
const SERVER_WIDE_ROLES: [(&str, &str); 5] = [
    (
        "pg_write_all_data",
        "which may insert, update and delete in every table of every database",
    ),
    (
        "pg_read_all_data",
        "which may read every table of every database, not only crm's",
    ),
    (
        "pg_execute_server_program",
        "which may run programs on the database server",
    ),
    (
        "pg_write_server_files",
        "which may write any file the database server can",
    ),
    (
        "pg_read_server_files",
        "which may read any file the database server can",
    ),
];
/// Which of `$2` the role is a member of (the ones a server lacks are skipped).
const MEMBER_OF: &str = "SELECT r.rolname::text FROM pg_roles r JOIN pg_roles me ON me.rolname = $1 \
     WHERE r.rolname::text = ANY($2::text[]) AND pg_has_role(me.oid, r.oid, 'MEMBER') \
     ORDER BY array_position($2::text[], r.rolname::text)";
/// The privileges on the crm tables (`$2`) and their sequences, among those the role must not
/// hold (`$3` on tables, `$4` on sequences), that PUBLIC or another role it is a member of
/// holds: REVOKE on the role itself cannot take them away. A column's INSERT, UPDATE or
/// REFERENCES counts as the table's. What PUBLIC holds is named once, as PUBLIC's. The role
/// need not exist yet (then only PUBLIC is asked).
const HELD_THROUGH_OTHERS: &str = "WITH me AS (SELECT oid FROM pg_roles WHERE rolname = $1), \
     via(grantee, shown) AS ( \
       SELECT 'public', 'PUBLIC' \
       UNION ALL SELECT r.rolname::text, 'role ' || r.rolname::text FROM pg_roles r, me \
         WHERE r.oid <> me.oid AND pg_has_role(me.oid, r.oid, 'MEMBER')), \
     crm AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
       WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
         AND c.relname::text = ANY($2::text[])), \
     objects AS ( \
       SELECT c.oid, c.relkind, n.nspname::text AS qualifier, c.relname::text AS name \
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
       WHERE c.oid IN (SELECT oid FROM crm) \
          OR c.relkind = 'S' AND c.oid IN (SELECT d.objid FROM pg_depend d \
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
              AND d.deptype IN ('a', 'i') AND d.refobjid IN (SELECT oid FROM crm))), \
     checks AS ( \
       SELECT v.grantee, v.shown, o.oid, o.relkind, o.qualifier, o.name, p.privilege, p.n, \
         CASE WHEN o.relkind = 'S' THEN has_sequence_privilege(v.grantee, o.oid, p.privilege) \
           WHEN p.privilege IN ('INSERT', 'UPDATE', 'REFERENCES') \
             THEN has_any_column_privilege(v.grantee, o.oid, p.privilege) \
           ELSE has_table_privilege(v.grantee, o.oid, p.privilege) END AS held \
       FROM via v CROSS JOIN objects o \
       CROSS JOIN LATERAL unnest(CASE WHEN o.relkind = 'S' THEN $4::text[] ELSE $3::text[] END) \
         WITH ORDINALITY AS p(privilege, n)) \
     SELECT c.shown AS via, c.qualifier, c.name, \
       string_agg(c.privilege, ', ' ORDER BY c.n) AS privileges \
     FROM checks c \
     WHERE c.held AND (c.grantee = 'public' OR NOT EXISTS (SELECT 1 FROM checks pub \
       WHERE pub.grantee = 'public' AND pub.oid = c.oid AND pub.privilege = c.privilege \
         AND pub.held)) \
     GROUP BY c.shown, c.relkind = 'S', c.qualifier, c.name \
     ORDER BY c.shown <> 'PUBLIC', c.shown, c.relkind = 'S', c.name";
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

/// An existing role as far as the checks need it.
struct ExistingRole {
    superuser: bool,
    /// Which of [`ADMIN_ATTRIBUTES`] it has.
    attributes: Vec<&'static str>,
}

impl ExistingRole {
    async fn find(tx: &Transaction<'_>, name: &str) -> Result<Option<ExistingRole>> {
        let Some(row) = db::query(tx, ROLE, &[&name]).await?.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(ExistingRole {
            superuser: row.try_get("rolsuper")?,
            attributes: held_attributes(&row, 1)?,
        }))
    }
}

/// Which of [`ADMIN_ATTRIBUTES`] a row holding them as booleans from column `first` on says.
fn held_attributes(row: &Row, first: usize) -> Result<Vec<&'static str>> {
    let mut held = Vec::new();
    for (i, attribute) in ADMIN_ATTRIBUTES.iter().enumerate() {
        if row.try_get::<_, bool>(first + i)? {
            held.push(*attribute);
        }
    }
    Ok(held)
}

/// The first column of each row, as text.
fn texts(rows: Vec<Row>) -> Result<Vec<String>> {
    Ok(rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
}

/// A table's, sequence's or type's `"schema"."name"`, as the privileges are listed; a schema's
/// or database's plain name.
fn shown_object(qualifier: Option<String>, name: &str) -> String {
    match qualifier {
        Some(q) => format!("{}.{}", quote_identifier(&q), quote_identifier(name)),
        None => name.to_string(),
    }
}

/// Why role `name` (which need not exist yet, and is not a superuser) cannot be held to least
/// privilege by GRANT and REVOKE, one sentence each; none when it can.
async fn unfit_because(tx: &Transaction<'_>, name: &str, read_only: bool) -> Result<Vec<String>> {
    let mut reasons = owner_reasons(tx, name).await?;
    for row in db::query(tx, ADMIN_ROLES, &[&name]).await? {
        let other: String = row.try_get("name")?;
        let mut powers = held_attributes(&row, 2)?;
        if row.try_get("rolsuper")? {
            powers.insert(0, "SUPERUSER");
        }
        reasons.push(format!(
            "it is a member of role {other}, which has {} (a member can SET ROLE to it)",
            powers.join(", ")
        ));
    }
    let server_wide: Vec<&str> = SERVER_WIDE_ROLES.iter().map(|(r, _)| *r).collect();
    for member_of in texts(db::query(tx, MEMBER_OF, &[&name, &server_wide]).await?)? {
        if let Some((_, power)) = SERVER_WIDE_ROLES.iter().find(|(r, _)| *r == member_of) {
            reasons.push(format!("it is a member of {member_of}, {power}"));
        }
    }
    // The roles above hold write privileges on the crm tables too: name them once.
    if reasons.is_empty() {
        reasons = held_through_others(tx, name, read_only).await?;
    }
    Ok(reasons)
}

/// The owners among the role and the roles it is a member of, of anything crm uses.
async fn owner_reasons(tx: &Transaction<'_>, name: &str) -> Result<Vec<String>> {
    let mut owned: Vec<(String, bool, Vec<String>)> = Vec::new();
    for row in db::query(tx, OWNED, &[&name, &&CRM_TABLES[..]]).await? {
        let owner: String = row.try_get("owner")?;
        let kind: String = row.try_get("kind")?;
        let object = format!(
            "{kind} {}",
            shown_object(row.try_get("qualifier")?, row.try_get("name")?)
        );
        match owned.last_mut() {
            Some((last, _, objects)) if *last == owner => objects.push(object),
            _ => owned.push((owner, row.try_get("itself")?, vec![object])),
        }
    }
    Ok(owned
        .into_iter()
        .map(|(owner, itself, objects)| {
            let what = match objects.len() {
                1 => objects[0].clone(),
                2 => format!("{} and one more of crm's objects", objects[0]),
                n => format!("{} and {} more of crm's objects", objects[0], n - 1),
            };
            match itself {
                true => format!(
                    "it owns {what}, and an owner keeps every right on what it owns whatever is \
                     revoked"
                ),
                false => format!(
                    "it is a member of role {owner}, which owns {what} (a member has the \
                     owner's rights)"
                ),
            }
        })
        .collect())
}

/// Privileges on the crm tables and sequences beyond what the role is to have, which it holds
/// through PUBLIC or another role (REVOKE on the role itself leaves them).
async fn held_through_others(
    tx: &Transaction<'_>,
    name: &str,
    read_only: bool,
) -> Result<Vec<String>> {
    let (on_tables, on_sequences): (&[&str], &[&str]) = match read_only {
        true => (
            &[
                "INSERT",
                "UPDATE",
                "DELETE",
                "TRUNCATE",
                "REFERENCES",
                "TRIGGER",
            ],
            &["USAGE", "UPDATE"],
        ),
        false => (&["TRUNCATE", "REFERENCES", "TRIGGER"], &["UPDATE"]),
    };
    let rows = db::query(
        tx,
        HELD_THROUGH_OTHERS,
        &[&name, &&CRM_TABLES[..], &on_tables, &on_sequences],
    )
    .await?;
    let mut held: Vec<(String, Vec<String>)> = Vec::new();
    for row in rows {
        let via: String = row.try_get("via")?;
        let privileges: String = row.try_get("privileges")?;
        let object = shown_object(row.try_get("qualifier")?, row.try_get("name")?);
        let grant = format!("{privileges} on {object}");
        match held.last_mut() {
            Some((last, grants)) if *last == via => grants.push(grant),
            _ => held.push((via, vec![grant])),
        }
    }
    Ok(held
        .into_iter()
        .map(|(via, grants)| {
            let what = match grants.len() {
                1 => grants[0].clone(),
                2 => format!("{} (and on one more crm table or sequence)", grants[0]),
                n => format!(
                    "{} (and on {} more crm tables or sequences)",
                    grants[0],
                    n - 1
                ),
            };
            match via.as_str() {
                "PUBLIC" => format!("PUBLIC (so every role) may {what}"),
                _ => format!("through {via} it may {what}"),
            }
        })
        .collect())
}

pub async fn run(ctx: &Context, args: AppRoleArgs) -> Result<()> {
    create_app_role(ctx, args)
        .await
        .context("cannot create the application role")
}

async fn create_app_role(ctx: &Context, args: AppRoleArgs) -> Result<()> {
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
    crate::db::tx::bound_locks(&*tx).await?;

    // Everything is checked before anything changes.
    let existing = ExistingRole::find(&tx, &args.name).await?;
    if existing.as_ref().is_some_and(|r| r.superuser) {
        return Err(error::conflict(format!(
            "role {} is a superuser, which no privilege limits (crm does not take SUPERUSER \
             away): choose another name for the application role; nothing was changed",
            args.name
        )));
    }
    let mut refusals = unfit_because(&tx, &args.name, args.read_only).await?;
    let attributes = existing
        .as_ref()
        .map(|r| r.attributes.clone())
        .unwrap_or_default();
    if !attributes.is_empty() && !args.strip_attributes {
        let listed = attributes.join(", ");
        if refusals.is_empty() {
            return Err(error::conflict(format!(
                "role {} has {listed}, which a least-privilege role must not have: \
                 --strip-attributes takes them away; nothing was changed",
                args.name
            )));
        }
        refusals.push(format!(
            "it has {listed} (which --strip-attributes would take away)"
        ));
    }
    if !refusals.is_empty() {
        return Err(error::conflict(format!(
            "role {} cannot be held to least privilege: {}; choose another role for the \
             application, or take these rights away from this one; nothing was changed",
            args.name,
            refusals.join("; ")
        )));
    }

    let place = db::query_one(&*tx, WHERE_WE_ARE, &[]).await?;
    let (database, schema): (String, String) = (place.try_get(0)?, place.try_get(1)?);
    let schema_q = quote_identifier(&schema);
    let tables = texts(db::query(&*tx, PRESENT_TABLES, &[&&CRM_TABLES[..]]).await?)?;
    let sequences = texts(db::query(&*tx, SEQUENCES, &[&&CRM_TABLES[..]]).await?)?;
    let owners = texts(db::query(&*tx, OWNERS, &[&&CRM_TABLES[..]]).await?)?;

    let created = match existing.is_some() {
        true => {
            let strip: String = attributes.iter().map(|a| format!(" NO{a}")).collect();
            db::batch_execute(&*tx, &format!("ALTER ROLE {role} LOGIN{strip}"))
                .await
                .with_context(|| format!("cannot alter role {}", args.name))?;
            false
        }
        false => {
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
    let can_create: bool = db::query_one(&*tx, CAN_CREATE, &[&args.name])
        .await?
        .try_get(0)?;

    let mut rows = Rows::new(&["object", "privileges"]);
    for table in &tables {
        let object = format!("{schema_q}.{}", quote_identifier(table));
        let granted: String = db::query_one(&*tx, TABLE_PRIVILEGES, &[&args.name, &object])
            .await?
            .try_get(0)?;
        rows.push(vec![Value::Text(object), granted.into()]);
    }
    for sequence in &sequences {
        let object = format!("{schema_q}.{}", quote_identifier(sequence));
        let granted: String = db::query_one(&*tx, SEQUENCE_PRIVILEGES, &[&args.name, &object])
            .await?
            .try_get(0)?;
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
    if !attributes.is_empty() {
        ctx.out.notice(format!(
            "took {} away from role {}",
            attributes.join(", "),
            args.name
        ));
    }
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
    Ok(())
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
