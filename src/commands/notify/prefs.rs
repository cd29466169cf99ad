//! `crm notify prefs USER [--set TYPE=on|off] [--email TYPE=on|off]`: a user's notification
//! preferences, one row per type; changes are upserts on the unique (userId, notificationType)
//! index, all of one call in one transaction, a new row taking the defaults for what is not
//! given.

use crate::commands::users;
use crate::context::Context;
use crate::db;
use crate::output::{Rows, Value};
use anyhow::{Context as _, Result};
use clap::Args;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tokio_postgres::GenericClient;

#[derive(Debug, Args)]
pub struct PrefsArgs {
    /// The user (an id or e-mail)
    pub user: String,

    /// Receive notifications of TYPE (on) or not (off); repeatable
    #[arg(long = "set", value_name = "TYPE=on|off", value_parser = type_switch)]
    pub set: Vec<(String, bool)>,

    /// Also by e-mail (on) or not (off); repeatable
    #[arg(long = "email", value_name = "TYPE=on|off", value_parser = type_switch)]
    pub email: Vec<(String, bool)>,
}

/// `low_stock=off` -> (`low_stock`, false).
fn type_switch(value: &str) -> Result<(String, bool), String> {
    let (kind, switch) = value
        .split_once('=')
        .ok_or_else(|| format!("\"{value}\" has no =on or =off (expected TYPE=on|off)"))?;
    let kind = crate::validate::notification_type(kind)?;
    let on = match switch {
        "on" => true,
        "off" => false,
        other => {
            return Err(format!(
                "\"{other}\" is neither on nor off (expected TYPE=on|off)"
            ));
        }
    };
    Ok((kind, on))
}

/// One type's changes: `None` leaves a column as it is (or at its default for a new row).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Change {
    enabled: Option<bool>,
    email: Option<bool>,
}

/// The changes per type; a type given twice in one flag takes the last value.
fn changes(set: &[(String, bool)], email: &[(String, bool)]) -> BTreeMap<String, Change> {
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    for (kind, on) in set {
        changes.entry(kind.clone()).or_default().enabled = Some(*on);
    }
    for (kind, on) in email {
        changes.entry(kind.clone()).or_default().email = Some(*on);
    }
    changes
}

/// A row with the defaults for each type that has none.
const INSERT_MISSING: &str = r#"INSERT INTO "NotificationPreferences"
        ("userId", "notificationType", "enabled", "emailEnabled", "createdAt", "updatedAt")
    SELECT $1, t, true, false, now(), now() FROM unnest($2::text[]) AS t
    ON CONFLICT ("userId", "notificationType") DO NOTHING"#;

/// The changes, a NULL leaving its column alone.
const UPDATE_PREFS: &str = r#"UPDATE "NotificationPreferences" p
    SET "enabled" = COALESCE(v."enabled", p."enabled"),
        "emailEnabled" = COALESCE(v."emailEnabled", p."emailEnabled"),
        "updatedAt" = now()
    FROM unnest($2::text[], $3::bool[], $4::bool[]) AS v("type", "enabled", "emailEnabled")
    WHERE p."userId" = $1 AND p."notificationType" = v."type""#;

const SELECT_PREFS: &str = r#"SELECT "notificationType", COALESCE("enabled", true) AS "enabled",
        COALESCE("emailEnabled", false) AS "emailEnabled", "updatedAt"
    FROM "NotificationPreferences" WHERE "userId" = $1 ORDER BY "notificationType""#;

const COLUMNS: &[&str] = &["notificationType", "enabled", "emailEnabled", "updatedAt"];

/// Under a table: what a type without a row means.
const DEFAULTS: &str = "any other type: enabled, no e-mail (the defaults)";

pub async fn run(ctx: &Context, args: PrefsArgs) -> Result<()> {
    let changes = changes(&args.set, &args.email);
    let mut client = ctx.db().await?.get().await?;
    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    let user = users::resolve(&*tx, &args.user).await?;
    if !changes.is_empty() {
        let kinds: Vec<&str> = changes.keys().map(String::as_str).collect();
        let enabled: Vec<Option<bool>> = changes.values().map(|c| c.enabled).collect();
        let email: Vec<Option<bool>> = changes.values().map(|c| c.email).collect();
        db::execute(&*tx, INSERT_MISSING, &[&user.id, &kinds])
            .await
            .context("cannot write the preferences")?;
        db::execute(&*tx, UPDATE_PREFS, &[&user.id, &kinds, &enabled, &email])
            .await
            .context("cannot write the preferences")?;
    }
    let rows = preferences(&*tx, user.id).await?;
    tx.commit().await.context("cannot commit the preferences")?;
    if !changes.is_empty() {
        ctx.out.notice(format!(
            "updated {} of user {}",
            crate::output::counted(
                i64::try_from(changes.len()).unwrap_or(i64::MAX),
                "preference",
                "preferences"
            ),
            user.describe()
        ));
    }
    ctx.out.rows(&rows)
}

async fn preferences(client: &impl GenericClient, user: i32) -> Result<Rows> {
    let mut rows = Rows::new(COLUMNS);
    for row in db::query(client, SELECT_PREFS, &[&user])
        .await
        .context("cannot read the preferences")?
    {
        rows.push(vec![
            row.try_get::<_, String>("notificationType")?.into(),
            Value::Bool(row.try_get("enabled")?),
            Value::Bool(row.try_get("emailEnabled")?),
            Value::Time(row.try_get::<_, OffsetDateTime>("updatedAt")?),
        ]);
    }
    rows.footer = Some(DEFAULTS.to_string());
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_are_type_equals_on_or_off() {
        assert_eq!(
            type_switch("low_stock=off"),
            Ok(("low_stock".into(), false))
        );
        assert_eq!(type_switch("a=on"), Ok(("a".into(), true)));
        for bad in ["low_stock", "low_stock=yes", "Low=on", "=on", "a=ON"] {
            assert!(type_switch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_of_one_type_merge_and_the_last_wins() {
        let set = [("a".to_string(), true), ("a".to_string(), false)];
        let email = [("a".to_string(), true), ("b".to_string(), true)];
        let merged = changes(&set, &email);
        assert_eq!(
            merged.into_iter().collect::<Vec<_>>(),
            vec![
                (
                    "a".to_string(),
                    Change {
                        enabled: Some(false),
                        email: Some(true)
                    }
                ),
                (
                    "b".to_string(),
                    Change {
                        enabled: None,
                        email: Some(true)
                    }
                ),
            ]
        );
    }
}
