//! `crm notify send`: one notification to users named by id or e-mail, a role, or everyone,
//! written with its inbox rows in one transaction (an unknown recipient writes nothing).

use super::Priority;
use super::deliver::{Audience, NewNotification, deliver};
use crate::commands::users::{self, Role};
use crate::context::Context;
use crate::error;
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The notification's type, a lower-case identifier (order_created, low_stock, ...)
    #[arg(long = "type", value_name = "TYPE", value_parser = flag::notification_type)]
    pub kind: String,

    /// The title (at most 255 characters)
    #[arg(long, value_name = "TEXT", value_parser = flag::name)]
    pub title: String,

    /// The message
    #[arg(long, value_name = "TEXT", value_parser = message)]
    pub message: String,

    /// How urgent it is [default: medium]
    #[arg(long, value_enum, value_name = "PRIORITY")]
    pub priority: Option<Priority>,

    /// Data for the application, a JSON object (e.g. '{"orderId": 12}')
    #[arg(long, value_name = "JSON", value_parser = json_object)]
    pub data: Option<serde_json::Value>,

    #[command(flatten)]
    pub audience: AudienceArgs,
}

/// Who receives it: exactly one of the three.
#[derive(Debug, Args)]
#[group(id = "audience", required = true, multiple = false)]
pub struct AudienceArgs {
    /// These users, by id or e-mail (any case); repeatable, or several after one --to
    #[arg(long, value_name = "USER", num_args = 1..)]
    pub to: Vec<String>,

    /// Every user with this role
    #[arg(long, value_enum, value_name = "ROLE")]
    pub role: Option<Role>,

    /// Every user
    #[arg(long)]
    pub all: bool,
}

/// The message: not blank, no NUL.
fn message(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    crate::validate::long_text(value)
}

/// `--data`: JSON, and an object.
fn json_object(value: &str) -> Result<serde_json::Value, String> {
    let parsed: serde_json::Value =
        serde_json::from_str(value).map_err(|e| format!("not JSON: {e}"))?;
    if parsed.is_object() {
        match nul_in(&parsed, &mut "$".to_string()) {
            Some(place) => Err(format!(
                "contains \\u0000 (a NUL character) {place}, which PostgreSQL's jsonb cannot \
                 store"
            )),
            None => Ok(parsed),
        }
    } else {
        let what = match parsed {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::Object(_) => "an object",
        };
        Err(format!("must be a JSON object ({{...}}), got {what}"))
    }
}

/// Where the first NUL character of `value` is (`at $.items[1].note`, `in the key "a\u0000"
/// at $.a`), `path` being `value`'s own place: jsonb refuses it in strings and keys alike.
fn nul_in(value: &serde_json::Value, path: &mut String) -> Option<String> {
    let shown = |text: &str| serde_json::to_string(text).unwrap_or_default();
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(format!("at {path}")),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = nul_in(item, path);
            path.truncate(len);
            found
        }),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(format!("in the key {} at {path}", shown(key)));
            }
            let len = path.len();
            let plain = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if plain && !key.is_empty() {
                path.push_str(&format!(".{key}"));
            } else {
                path.push_str(&format!("[{}]", shown(key)));
            }
            let found = nul_in(item, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

pub async fn run(ctx: &Context, args: SendArgs) -> Result<()> {
    let db = ctx.db().await?;
    let created_by = super::acting_user(ctx, db).await?;
    let audience = audience(ctx, &args.audience).await?;
    let notification = NewNotification {
        kind: args.kind,
        title: args.title,
        message: args.message,
        data: args.data,
        priority: args.priority.unwrap_or(Priority::Medium),
        created_by,
    };
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    let delivery = deliver(&*tx, &notification, &audience).await?;
    tx.commit()
        .await
        .context("cannot commit the notification")?;
    if delivery.recipients == 0 {
        ctx.out.warn(format!(
            "notification {} reached nobody: {}",
            delivery.id,
            if delivery.skipped > 0 {
                "every user it was for turned its type off"
            } else {
                "no user matches"
            }
        ));
    }
    ctx.out.notice(delivery.summary());
    delivery.print(ctx)
}

/// The audience of the flags; `--to` users resolved to ids (exit 3 naming an unknown one).
async fn audience(ctx: &Context, args: &AudienceArgs) -> Result<Audience> {
    if args.all {
        return Ok(Audience::All);
    }
    if let Some(role) = args.role {
        return Ok(Audience::Role(role));
    }
    if args.to.is_empty() {
        return Err(error::usage(
            "name the recipients: --to USER..., --role admin|staff or --all",
        ));
    }
    let client = ctx.db().await?.get().await?;
    let mut ids = Vec::with_capacity(args.to.len());
    for who in &args.to {
        let user = users::resolve(&**client, who)
            .await
            .context("--to names no CRM user; nothing was sent")?;
        if !ids.contains(&user.id) {
            ids.push(user.id);
        }
    }
    Ok(Audience::Users(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_must_be_a_json_object() {
        assert!(json_object(r#"{"orderId": 12}"#).is_ok());
        assert_eq!(
            json_object("[1, 2]"),
            Err("must be a JSON object ({...}), got an array".to_string())
        );
        assert!(json_object("12").unwrap_err().contains("got a number"));
        let broken = json_object("{\"a\": ").unwrap_err();
        assert!(
            broken.starts_with("not JSON: EOF while parsing"),
            "{broken}"
        );
    }

    #[test]
    fn data_must_not_hold_a_nul_character_anywhere() {
        let nul = |json: &str| json_object(json).unwrap_err();
        assert_eq!(
            nul(r#"{"a": "\u0000"}"#),
            "contains \\u0000 (a NUL character) at $.a, which PostgreSQL's jsonb cannot store"
        );
        assert!(nul(r#"{"a": [1, {"b c": ["x\u0000"]}]}"#).contains(r#" at $.a[1]["b c"][0],"#));
        assert!(nul(r#"{"a": {"\u0000": 1}}"#).contains(r#" in the key "\u0000" at $.a,"#));
        assert!(json_object(r#"{"a": "\\u0000", "b": ["\u0001"]}"#).is_ok());
    }

    #[test]
    fn a_message_is_not_blank() {
        assert!(message("  ").is_err());
        assert!(message("a\0b").is_err());
        assert_eq!(message("hello"), Ok("hello".to_string()));
    }
}
