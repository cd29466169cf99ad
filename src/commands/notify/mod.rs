//! `crm notify`: notifications. Sending one to users, a role or everyone (one statement fans it
//! out, honouring each user's preferences), reading inboxes and marking them read, the
//! preferences themselves, and the cron jobs: pruning old notifications and the low-stock and
//! stale-orders alerts, which do not repeat an alert whose content is unchanged and unread.
//!
//! A user without a `NotificationPreferences` row for a type gets it, and not by e-mail (the
//! columns' defaults); a NULL `enabled`, `emailEnabled` or `isRead` reads as its default too.

mod cron;
mod deliver;
mod inbox;
mod prefs;
mod send;

// send and the cron jobs call it as `super::acting_user`: the `createdBy` of what they send.
use crate::commands::users::acting::acting_user;
use crate::context::Context;
use anyhow::Result;
use clap::{Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a notification to users (--to), a role (--role) or everyone (--all), skipping those
    /// who turned its type off
    Send(send::SendArgs),

    /// A user's inbox, newest first (--user); without --user, every notification with its
    /// recipient and read counts
    List(inbox::InboxArgs),

    /// Show a notification and each recipient's read state
    Show(inbox::ShowArgs),

    /// Mark a notification read for a user (or --all of the user's); read ones stay as they are
    Read(inbox::ReadArgs),

    /// Show a user's notification preferences; --set and --email change them
    Prefs(prefs::PrefsArgs),

    /// Delete notifications older than an age, with their inbox entries (a cron job)
    Prune(cron::PruneArgs),

    /// Alert the admins of products low in stock, unless the same alert is still unread (a cron
    /// job)
    LowStock(cron::LowStockArgs),

    /// Alert the admins of pending orders older than an age, unless the same alert is still
    /// unread (a cron job)
    StaleOrders(cron::StaleOrdersArgs),
}

impl NotifyCommand {
    pub async fn run(self, ctx: &Context) -> Result<()> {
        match self {
            NotifyCommand::Send(args) => send::run(ctx, args).await?,
            NotifyCommand::List(args) => inbox::list(ctx, args).await?,
            NotifyCommand::Show(args) => inbox::show(ctx, args).await?,
            NotifyCommand::Read(args) => inbox::read(ctx, args).await?,
            NotifyCommand::Prefs(args) => prefs::run(ctx, args).await?,
            NotifyCommand::Prune(args) => cron::prune(ctx, args).await?,
            NotifyCommand::LowStock(args) => cron::low_stock(ctx, args).await?,
            NotifyCommand::StaleOrders(args) => cron::stale_orders(ctx, args).await?,
        }
        Ok(())
    }
}

/// The values the `Notifications.priority` CHECK allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Priority::Low),
            "medium" => Ok(Priority::Medium),
            "high" => Ok(Priority::High),
            other => Err(format!(
                "not a priority: \"{other}\" (expected low, medium or high)"
            )),
        }
    }
}

crate::db::label::label_sql!(Priority);
