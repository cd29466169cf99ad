//! crm's advisory locks, which keep two crm runs from changing the same thing at once, and the
//! `--no-wait` flag of the commands that take them.

use super::{batch_execute, query, query_one};
use crate::error;
use crate::output::Output;
use anyhow::{Context as _, Result};
use clap::Args;
use tokio_postgres::{Client, GenericClient};

/// For commands that take crm's advisory lock (migrate, undo, seed, backup, maintain).
#[derive(Debug, Args, Clone, Copy)]
pub struct LockArgs {
    /// Exit 5 at once if another crm run holds the lock, instead of waiting for it
    #[arg(long)]
    pub no_wait: bool,
}

/// crm's advisory locks. The two-key form (`classid` 'crm', `objid` the lock) keeps them
/// recognisable in `pg_locks` and apart from other applications' locks.
#[derive(Debug, Clone, Copy)]
pub enum AdvisoryLock {
    /// Held by migrate, undo and seed: one schema change at a time.
    Schema = 1,
    /// Held by the alert cron jobs (notify low-stock, stale-orders) for their transaction: two
    /// runs at once take turns, so they cannot both alert.
    Alerts = 3,
    /// Held by `db maintain`: one maintenance run at a time.
    Maintain = 4,
}

/// 'crm' in ASCII, the first key of crm's advisory locks.
const LOCK_CLASS: i32 = 0x0063_726d;

impl AdvisoryLock {
    fn describe(self) -> &'static str {
        match self {
            AdvisoryLock::Schema => "the schema lock (held by crm db migrate, undo and seed)",
            AdvisoryLock::Alerts => {
                "the alerts lock (held by crm notify low-stock and stale-orders)"
            }
            AdvisoryLock::Maintain => "the maintenance lock (held by crm db maintain)",
        }
    }

    /// Takes the lock on this session, for the session's lifetime or until [`Self::release`].
    /// With `no_wait`, a held lock is exit 5 naming the holder; otherwise crm says it waits.
    pub async fn acquire(self, client: &Client, no_wait: bool, out: &Output) -> Result<()> {
        let objid = self as i32;
        let got: bool = query_one(
            client,
            "SELECT pg_try_advisory_lock($1, $2)",
            &[&LOCK_CLASS, &objid],
        )
        .await
        .context("cannot take crm's advisory lock")?
        .get(0);
        if got {
            return Ok(());
        }
        let holder = self.holder(client).await.unwrap_or_default();
        if no_wait {
            return Err(error::conflict(format!(
                "another crm run{holder} holds {}; try again later, or leave out --no-wait to wait for it",
                self.describe()
            )));
        }
        out.notice(format!(
            "waiting for another crm run{holder} to release {}",
            self.describe()
        ));
        // Waiting for another crm run is what the user asked for (or --no-wait): not bounded
        // by --lock-timeout, which is for locks that nobody may be about to release.
        batch_execute(client, "SET lock_timeout = 0").await?;
        query(
            client,
            "SELECT pg_advisory_lock($1, $2)",
            &[&LOCK_CLASS, &objid],
        )
        .await
        .context("cannot take crm's advisory lock")?;
        batch_execute(client, "RESET lock_timeout").await?;
        Ok(())
    }

    /// ` (backend pid N)` for the session holding the lock, if we may see it.
    async fn holder(self, client: &Client) -> Result<String> {
        let rows = query(
            client,
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2",
            &[&LOCK_CLASS, &(self as i32)],
        )
        .await?;
        Ok(rows
            .first()
            .map(|r| format!(" (backend pid {})", r.get::<_, i32>(0)))
            .unwrap_or_default())
    }

    /// Takes the lock until the end of the transaction `tx` is in, waiting for another holder
    /// (and saying so).
    pub async fn acquire_for_transaction<C: GenericClient>(
        self,
        tx: &C,
        out: &Output,
    ) -> Result<()> {
        self.wait_in_transaction(tx, out, "").await
    }

    /// Takes the lock shared, until the end of `tx`'s transaction: for a reader that must not
    /// see a change half made (`db schema diff` while a migration runs), waiting for it.
    pub async fn acquire_shared_for_transaction<C: GenericClient>(
        self,
        tx: &C,
        out: &Output,
    ) -> Result<()> {
        self.wait_in_transaction(tx, out, "_shared").await
    }

    /// `pg_try_advisory_xact_lock{shared}`, then, if another holds it, a notice and the wait.
    async fn wait_in_transaction<C: GenericClient>(
        self,
        tx: &C,
        out: &Output,
        shared: &str,
    ) -> Result<()> {
        let objid = self as i32;
        let got: bool = query_one(
            tx,
            &format!("SELECT pg_try_advisory_xact_lock{shared}($1, $2)"),
            &[&LOCK_CLASS, &objid],
        )
        .await
        .context("cannot take crm's advisory lock")?
        .get(0);
        if !got {
            out.notice(format!(
                "waiting for another crm run to release {}",
                self.describe()
            ));
            query(
                tx,
                &format!("SELECT pg_advisory_xact_lock{shared}($1, $2)"),
                &[&LOCK_CLASS, &objid],
            )
            .await
            .context("cannot take crm's advisory lock")?;
        }
        Ok(())
    }

    pub async fn release(self, client: &Client) -> Result<()> {
        query(
            client,
            "SELECT pg_advisory_unlock($1, $2)",
            &[&LOCK_CLASS, &(self as i32)],
        )
        .await
        .context("cannot release crm's advisory lock")?;
        Ok(())
    }
}
