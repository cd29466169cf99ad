//! A CRM user as crm reads it (never with its password hash), its role, and finding one by id
//! or e-mail.

use crate::commands::table::{Column, ColumnKind, Table};
use crate::db;
use crate::error;
use crate::output::Value;
use anyhow::{Context as _, Result};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Row};

/// `Users` as list and show know it: the columns crm shows of a user, in order, everything
/// but `password`.
pub const TABLE: Table = Table::new(
    "Users",
    "user",
    "users",
    &[
        Column::new("id", ColumnKind::Id),
        Column::new("firstName", ColumnKind::Text),
        Column::new("lastName", ColumnKind::Text),
        Column::new("email", ColumnKind::Email),
        Column::new("role", ColumnKind::Label),
        Column::new("createdAt", ColumnKind::Time),
        Column::new("updatedAt", ColumnKind::Time),
    ],
)
// The full name and the e-mail.
.searching(&[r#"("firstName" || ' ' || "lastName")"#, r#""email""#]);

/// `SELECT <the columns> FROM "Users" <rest>`.
fn select(rest: &str) -> String {
    format!(
        "SELECT {} FROM {} {rest}",
        TABLE.select_list(),
        TABLE.quoted_name()
    )
}

/// `<statement> RETURNING <the columns>`, for an INSERT or UPDATE that prints the user.
pub(super) fn returning(statement: &str) -> String {
    format!("{statement} RETURNING {}", TABLE.select_list())
}

const BY_ID: &str = r#"WHERE "id" = $1"#;
const BY_ID_FOR_UPDATE: &str = r#"WHERE "id" = $1 FOR UPDATE"#;
/// Case-insensitive, so that mixed-case e-mails left by the original system are found.
const BY_EMAIL: &str = r#"WHERE lower("email") = lower($1) ORDER BY "id""#;
/// Another user (not `$2`) whose e-mail equals `$1` in any case.
const SELECT_EMAIL_TAKEN: &str = r#"SELECT "id" FROM "Users" WHERE lower("email") = lower($1) AND "id" IS DISTINCT FROM $2 LIMIT 1"#;

/// A user's role; the column's CHECK allows these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::db::label::label_sql!(Role);

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "staff" => Ok(Role::Staff),
            other => Err(format!("not a role: \"{other}\" (expected admin or staff)")),
        }
    }
}

/// A row of `"Users"` without its password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i32,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// `None` for a NULL role: the column has a default but no NOT NULL, so the original
    /// system may have left some.
    pub role: Option<Role>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<&Row> for User {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(User {
            id: row.try_get("id")?,
            first_name: row.try_get("firstName")?,
            last_name: row.try_get("lastName")?,
            email: row.try_get("email")?,
            role: row.try_get("role")?,
            created_at: row.try_get("createdAt")?,
            updated_at: row.try_get("updatedAt")?,
        })
    }
}

impl User {
    /// The values of [`TABLE`]'s columns.
    pub fn values(&self) -> Vec<Value> {
        vec![
            self.id.into(),
            self.first_name.as_str().into(),
            self.last_name.as_str().into(),
            self.email.as_str().into(),
            self.role.map(|r| r.as_str().to_string()).into(),
            Value::Time(self.created_at),
            Value::Time(self.updated_at),
        ]
    }

    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }

    /// `3 (ada@example.com)`, for messages.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.id, self.email)
    }
}

/// The user named by `who`: an id when it is all digits, otherwise an e-mail compared without
/// regard to case. Exit 3 when there is none.
pub async fn resolve(client: &impl GenericClient, who: &str) -> Result<User> {
    let found = if !who.is_empty() && who.bytes().all(|b| b.is_ascii_digit()) {
        match who.parse::<i32>() {
            Ok(id) => by_id(client, id).await?,
            // Beyond SERIAL's range: no such row can exist.
            Err(_) => None,
        }
    } else {
        by_email(client, who).await?
    };
    found.ok_or_else(|| not_found(who))
}

/// `user "x" does not exist` (exit 3).
pub fn not_found(who: &str) -> anyhow::Error {
    error::not_found(format!("user \"{who}\" does not exist"))
}

async fn by_id(client: &impl GenericClient, id: i32) -> Result<Option<User>> {
    let rows = db::query(client, &select(BY_ID), &[&id])
        .await
        .context("cannot look up the user")?;
    rows.first().map(User::try_from).transpose()
}

/// The user with `id`, locked FOR UPDATE until the transaction ends; exit 3 when it is gone.
pub async fn lock_by_id(client: &impl GenericClient, id: i32) -> Result<User> {
    let rows = db::query(client, &select(BY_ID_FOR_UPDATE), &[&id])
        .await
        .context("cannot look up the user")?;
    match rows.first() {
        Some(row) => User::try_from(row),
        None => Err(not_found(&id.to_string())),
    }
}

/// The user with this e-mail in any case. The unique constraint is case-sensitive, so the
/// original system may have left two that differ only in case: the exact match wins, and
/// without one the caller must name the user by id.
async fn by_email(client: &impl GenericClient, email: &str) -> Result<Option<User>> {
    let rows = db::query(client, &select(BY_EMAIL), &[&email])
        .await
        .context("cannot look up the user")?;
    let users = rows
        .iter()
        .map(User::try_from)
        .collect::<Result<Vec<User>>>()?;
    if users.len() <= 1 {
        return Ok(users.into_iter().next());
    }
    if let Some(exact) = users.iter().find(|u| u.email == email) {
        return Ok(Some(exact.clone()));
    }
    let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    Err(error::usage(format!(
        "the e-mail \"{email}\" matches {} users that differ only in case (ids {}): name the \
         user by id",
        users.len(),
        ids.join(", ")
    )))
}

/// Exit 5 if a user other than `except` has `email` in any case.
pub async fn ensure_email_free(
    client: &impl GenericClient,
    email: &str,
    except: Option<i32>,
) -> Result<()> {
    let taken = db::query(client, SELECT_EMAIL_TAKEN, &[&email, &except])
        .await
        .context("cannot look up the e-mail")?;
    if taken.is_empty() {
        Ok(())
    } else {
        Err(email_taken(email))
    }
}

/// `a user with e-mail "x" already exists` (exit 5).
pub fn email_taken(email: &str) -> anyhow::Error {
    error::conflict(format!("a user with e-mail \"{email}\" already exists"))
}

/// Turns the unique violation of the e-mail constraint (a concurrent insert won the race) into
/// [`email_taken`]; other errors pass through.
pub fn email_conflict(err: tokio_postgres::Error, email: &str) -> anyhow::Error {
    let on_email = err.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION
            && db.constraint().is_some_and(|c| c.contains("email"))
    });
    if on_email {
        email_taken(email)
    } else {
        err.into()
    }
}

/// The admins' ids. Locked (FOR UPDATE, in id order, before any other user row) by whoever is
/// about to delete or demote one: they are held until the end of the transaction, so two
/// deletions or demotions cannot each leave the other as the last admin, and never deadlock.
const SELECT_ADMINS: &str = r#"SELECT "id" FROM "Users" WHERE "role" = 'admin' ORDER BY "id""#;
const LOCK_ADMINS: &str =
    r#"SELECT "id" FROM "Users" WHERE "role" = 'admin' ORDER BY "id" FOR UPDATE"#;

/// The ids of the admins; with `lock`, locked until the transaction ends.
pub async fn admin_ids(client: &impl GenericClient, lock: bool) -> Result<Vec<i32>> {
    let sql = if lock { LOCK_ADMINS } else { SELECT_ADMINS };
    let rows = db::query(client, sql, &[])
        .await
        .context("cannot look up the admin users")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Exit 5 if `user` is an admin and none of `admins` is another one; `doing` is `delete` or
/// `demote`.
pub fn ensure_not_last_admin(user: &User, admins: &[i32], doing: &str) -> Result<()> {
    if user.is_admin() && !admins.iter().any(|&id| id != user.id) {
        return Err(error::conflict(format!(
            "cannot {doing} user {}: it is the last admin; make another user an admin first",
            user.describe()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for role in [Role::Admin, Role::Staff] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn no_statement_reads_the_password() {
        for sql in [
            &select(BY_ID),
            &select(BY_ID_FOR_UPDATE),
            &select(BY_EMAIL),
            &returning(""),
            SELECT_EMAIL_TAKEN,
            SELECT_ADMINS,
            LOCK_ADMINS,
        ] {
            assert!(!sql.contains("password"), "{sql}");
        }
        assert!(!TABLE.has_column("password"));
    }
}
